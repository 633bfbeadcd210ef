package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ethos-toolkit/ethos"
)

// decoder walks the YAML node tree rather than unmarshalling into structs,
// because only the nodes know the line each value came from, and because
// yaml.v3 stops at the first type error while a user wants all of them.
type decoder struct {
	errorList
	// lines maps the path of every key present in the file to its line, so
	// that validation after decoding can point at the offending setting.
	lines map[string]int
	// misshapen holds the paths whose value had the wrong type.
	misshapen map[string]bool
	merged    map[*yaml.Node][][2]*yaml.Node
	// steps bounds the work of walking the tree: aliases let a small file
	// name the same large mapping many times over.
	steps int
}

const maxSteps = 100_000

// spend counts one visited entry and reports whether the walk may go on.
func (d *decoder) spend() bool {
	d.steps++
	if d.steps == maxSteps {
		d.add(1, "", "the file expands to more than %d entries through aliases; ethos.yaml should be far smaller", maxSteps)
	}
	return d.steps < maxSteps
}

func newDecoder(file string) *decoder {
	return &decoder{errorList: errorList{file: file}, lines: make(map[string]int), misshapen: make(map[string]bool),
		merged: make(map[*yaml.Node][][2]*yaml.Node)}
}

// setter decodes one value found at path.
type setter func(v *yaml.Node, path string)

// fields maps the keys a mapping accepts to their setters.
type fields map[string]setter

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (?:column \d+: )?`)

// decodeFile parses data into c and reports whether the YAML itself was
// well formed.
func (d *decoder) decodeFile(data []byte, c *Config) bool {
	root, ok := d.parse(data)
	if !ok {
		return false
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = doc.Content[0]
	}
	if doc.Kind == 0 || isNull(doc) {
		d.add(1, "character", "required; the file is empty (`ethos init` writes an example)")
		return true
	}
	d.config(doc, c)
	return true
}

// parse reads exactly one YAML document. yaml.v3 reports syntax errors as
// "yaml: line N: …"; the line is moved into the file:line prefix.
func (d *decoder) parse(data []byte) (root yaml.Node, ok bool) {
	defer func() {
		// A parser bug on hostile input must not take the process down.
		if r := recover(); r != nil {
			d.add(1, "", "invalid YAML: %v", r)
			ok = false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return yaml.Node{}, true
		}
		d.yamlError(err)
		return yaml.Node{}, false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.yamlError(err)
		return yaml.Node{}, false
	case len(next.Content) > 0 && !isNull(next.Content[0]):
		d.add(next.Line, "", "a second YAML document; ethos.yaml holds one")
		return yaml.Node{}, false
	}
	return root, true
}

func (d *decoder) yamlError(err error) {
	msg := err.Error()
	line := 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	d.add(line, "", "invalid YAML: %s", msg)
}

func (d *decoder) config(root *yaml.Node, c *Config) {
	g, f, e, s := &c.Generate, &c.FineTune, &c.Eval, &c.Sandbox
	hasCharacter := false
	d.mapping(root, "", fields{
		"character": func(v *yaml.Node, path string) {
			hasCharacter = true
			d.character(v, path, &c.Character)
		},
		"providers": func(v *yaml.Node, path string) { d.providers(v, path, c.Providers) },
		"prices":    func(v *yaml.Node, path string) { d.prices(v, path, c.Prices) },
		"generate": d.section(fields{
			"seed":     d.int64(&g.Seed),
			"examples": d.integer(&g.Examples),
			"output":   d.str(&g.Output),
			"ideas": d.section(fields{
				"model":       d.str(&g.Ideas.Model),
				"per_call":    d.integer(&g.Ideas.PerCall),
				"max_tokens":  d.integer(&g.Ideas.MaxTokens),
				"temperature": d.optFloat(&g.Ideas.Temperature),
				"mode":        d.str(&g.Ideas.Mode),
			}),
			"documents": d.section(fields{
				"model":       d.str(&g.Documents.Model),
				"pages":       d.integer(&g.Documents.Pages),
				"max_tokens":  d.integer(&g.Documents.MaxTokens),
				"temperature": d.optFloat(&g.Documents.Temperature),
				"stream":      d.boolean(&g.Documents.Stream),
				"mode":        d.str(&g.Documents.Mode),
			}),
			"responses": d.section(fields{
				"model":          d.str(&g.Responses.Model),
				"max_tokens":     d.integer(&g.Responses.MaxTokens),
				"temperature":    d.optFloat(&g.Responses.Temperature),
				"include_system": d.boolean(&g.Responses.IncludeSystem),
				"stream":         d.boolean(&g.Responses.Stream),
				"mode":           d.str(&g.Responses.Mode),
			}),
			"pairs": func(v *yaml.Node, path string) {
				if g.Pairs == nil {
					g.Pairs = &Pairs{Mode: ModeOnline}
				}
				d.mapping(v, path, fields{
					"student":    d.str(&g.Pairs.Student),
					"max_tokens": d.integer(&g.Pairs.MaxTokens),
					"mode":       d.str(&g.Pairs.Mode),
					"confirm":    d.boolean(&g.Pairs.Confirm),
					"judge":      d.str(&g.Pairs.Judge),
				})
			},
			"review": d.section(fields{
				"model":           d.str(&g.Review.Model),
				"llm":             d.boolean(&g.Review.LLM),
				"min_trait_score": d.integer(&g.Review.MinTraitScore),
				"max_attempts":    d.integer(&g.Review.MaxAttempts),
				"min_words":       d.integer(&g.Review.MinWords),
				"max_words":       d.integer(&g.Review.MaxWords),
				"mode":            d.str(&g.Review.Mode),
			}),
		}),
		"finetune": d.section(fields{
			"provider":         d.str(&f.Provider),
			"model":            d.str(&f.Model),
			"epochs":           d.integer(&f.Epochs),
			"learning_rate":    d.float(&f.LearningRate),
			"batch_size":       d.integer(&f.BatchSize),
			"lora":             d.boolean(&f.LoRA),
			"lora_r":           d.integer(&f.LoRAR),
			"lora_alpha":       d.integer(&f.LoRAAlpha),
			"lora_dropout":     d.float(&f.LoRADropout),
			"suffix":           d.str(&f.Suffix),
			"validation":       d.float(&f.Validation),
			"n_evals":          d.integer(&f.NEvals),
			"hardware":         d.str(&f.Hardware),
			"inactive_timeout": d.duration(&f.InactiveTimeout),
			"recipe":           d.str(&f.Recipe),
			"introspection": d.section(fields{
				"reflections": d.integer(&f.Introspection.Reflections),
				"dialogues":   d.integer(&f.Introspection.Dialogues),
				"turns":       d.integer(&f.Introspection.Turns),
				"max_tokens":  d.integer(&f.Introspection.MaxTokens),
			}),
		}),
		"eval": d.section(fields{
			"judge":         d.str(&e.Judge),
			"baseline":      d.str(&e.Baseline),
			"prompts":       d.integer(&e.Prompts),
			"samples":       d.integer(&e.Samples),
			"max_tokens":    d.integer(&e.MaxTokens),
			"temperature":   d.optFloat(&e.Temperature),
			"system_prompt": d.str(&e.SystemPrompt),
			"answer_mode":   d.str(&e.AnswerMode),
			"judge_mode":    d.str(&e.JudgeMode),
		}),
		"batch": d.section(fields{
			"min_requests":    d.integer(&c.Batch.MinRequests),
			"window":          d.duration(&c.Batch.Window),
			"poll":            d.duration(&c.Batch.Poll),
			"max_submissions": d.integer(&c.Batch.MaxSubmissions),
		}),
		"budget": d.section(fields{"max_usd": d.float(&c.Budget.MaxUSD)}),
		"store":  d.section(fields{"path": d.str(&c.Store.Path)}),
		"sandbox": d.section(fields{
			"seed":              d.int64(&s.Seed),
			"error_rates":       func(v *yaml.Node, path string) { d.errorRates(v, path, s.ErrorRates) },
			"latency":           d.duration(&s.Latency),
			"jitter":            d.duration(&s.Jitter),
			"cut_stream_rate":   d.float(&s.CutStreamRate),
			"defects":           func(v *yaml.Node, path string) { d.defects(v, path, &s.Defects) },
			"rpm":               d.integer(&s.RPM),
			"tpm":               d.integer(&s.TPM),
			"input_tpm":         d.integer(&s.InputTPM),
			"output_tpm":        d.integer(&s.OutputTPM),
			"serving":           func(v *yaml.Node, path string) { d.serving(v, path, &s.Serving) },
			"batch_time":        d.duration(&s.BatchTime),
			"batch_error_rate":  d.float(&s.BatchErrorRate),
			"batch_expire_rate": d.float(&s.BatchExpireRate),
		}),
	})
	if !hasCharacter && resolve(root).Kind == yaml.MappingNode {
		d.add(root.Line, "character", "required section missing (`ethos init` writes an example)")
	}
}

func (d *decoder) character(v *yaml.Node, path string, ch *ethos.Character) {
	d.mapping(v, path, fields{
		"name":          d.str(&ch.Name),
		"system_prompt": d.str(&ch.SystemPrompt),
		"traits": func(v *yaml.Node, path string) {
			d.sequence(v, path, func(item *yaml.Node, path string) {
				var t ethos.Trait
				d.mapping(item, path, fields{
					"name":       d.str(&t.Name),
					"definition": d.str(&t.Definition),
				})
				ch.Traits = append(ch.Traits, t)
			})
		},
		"categories": func(v *yaml.Node, path string) {
			d.sequence(v, path, func(item *yaml.Node, path string) {
				var cat ethos.Category
				d.mapping(item, path, fields{
					"name":        d.str(&cat.Name),
					"description": d.str(&cat.Description),
					"hard":        d.boolean(&cat.Hard),
					"weight":      d.float(&cat.Weight),
				})
				ch.Categories = append(ch.Categories, cat)
			})
		},
	})
	ch.Name = strings.TrimSpace(ch.Name)
	ch.SystemPrompt = strings.TrimSpace(ch.SystemPrompt)
	for i := range ch.Traits {
		ch.Traits[i].Name = strings.TrimSpace(ch.Traits[i].Name)
		ch.Traits[i].Definition = strings.TrimSpace(ch.Traits[i].Definition)
	}
	for i := range ch.Categories {
		ch.Categories[i].Name = strings.TrimSpace(ch.Categories[i].Name)
		ch.Categories[i].Description = strings.TrimSpace(ch.Categories[i].Description)
	}
}

var providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// providers merges the file's entries over the built-in table: a built-in
// name changes only the fields given, a new name adds a provider.
func (d *decoder) providers(v *yaml.Node, path string, ps map[string]Provider) {
	d.entries(v, path, func(key *yaml.Node, v *yaml.Node, path string) {
		name := key.Value
		if !providerName.MatchString(name) {
			d.add(key.Line, path, "provider names use lowercase letters, digits, '.', '_' and '-' (a '/' would split model references)")
			return
		}
		p, builtin := ps[name]
		if !builtin {
			p = Provider{Name: name, MaxConcurrency: AutoConcurrency, Timeout: newProviderTimeout}
		}
		d.mapping(v, path, fields{
			"type":               d.str(&p.Type),
			"base_url":           d.str(&p.BaseURL),
			"base_url_env":       d.str(&p.BaseURLEnv),
			"api_key_env":        d.str(&p.APIKeyEnv),
			"key_required":       d.boolean(&p.KeyRequired),
			"rpm":                d.integer(&p.RPM),
			"tpm":                d.integer(&p.TPM),
			"max_concurrency":    d.concurrency(&p.MaxConcurrency),
			"timeout":            d.duration(&p.Timeout),
			"rate_limit_timeout": d.duration(&p.RateLimitTimeout),
			"output_limit":       d.str(&p.OutputLimit),
			"batch":              d.str(&p.Batch),
		})
		if _, set := d.lines[path+".key_required"]; !builtin && !set {
			// A new provider that names a key variable presumably needs it.
			p.KeyRequired = p.APIKeyEnv != ""
		}
		if _, set := d.lines[path+".max_concurrency"]; !builtin && !set && isLocalURL(p.BaseURL) {
			// A server on this machine serves what its hardware can.
			p.MaxConcurrency = localProviderConcurrency
		}
		ps[name] = p
	})
}

// prices merges the file's entries over the built-in table field by field.
func (d *decoder) prices(v *yaml.Node, path string, prices map[string]Price) {
	d.entries(v, path, func(key *yaml.Node, v *yaml.Node, path string) {
		p := prices[key.Value]
		d.mapping(v, path, fields{
			"input":       d.float(&p.Input),
			"output":      d.float(&p.Output),
			"cache_read":  d.float(&p.CacheRead),
			"cache_write": d.float(&p.CacheWrite),
			"batch":       d.float(&p.Batch),
		})
		prices[key.Value] = p
	})
}

func (d *decoder) errorRates(v *yaml.Node, path string, rates map[int]float64) {
	d.entries(v, path, func(key *yaml.Node, v *yaml.Node, path string) {
		status, err := strconv.Atoi(key.Value)
		if err != nil || status < 400 || status > 599 {
			d.add(key.Line, path, "error rates are keyed by HTTP status 400..599, got %s", quote(key.Value))
			return
		}
		rate := rates[status]
		d.float(&rate)(v, path)
		rates[status] = rate
	})
}

// SandboxDefects are the defect names sandbox.defects accepts.
var SandboxDefects = []string{"placeholder", "chatter", "truncate", "duplicate", "offformat", "persona", "short"}

func (d *decoder) defects(v *yaml.Node, path string, defects *map[string]float64) {
	d.entries(v, path, func(key *yaml.Node, v *yaml.Node, path string) {
		if !slices.Contains(SandboxDefects, key.Value) {
			d.add(key.Line, path, "unknown defect %s; known: %s", quote(key.Value), strings.Join(SandboxDefects, ", "))
			return
		}
		if *defects == nil {
			*defects = map[string]float64{}
		}
		rate := (*defects)[key.Value]
		d.float(&rate)(v, path)
		(*defects)[key.Value] = rate
	})
}

func (d *decoder) serving(v *yaml.Node, path string, serving *map[string]string) {
	d.entries(v, path, func(key *yaml.Node, v *yaml.Node, path string) {
		var how string
		d.str(&how)(v, path)
		if !slices.Contains(SandboxServing, how) {
			d.add(v.Line, path, "want %s for base model %s, got %s", strings.Join(SandboxServing, " or "), quote(key.Value), quote(how))
			return
		}
		if *serving == nil {
			*serving = map[string]string{}
		}
		(*serving)[key.Value] = how
	})
}

// section returns a setter for a nested mapping with known fields.
func (d *decoder) section(fs fields) setter {
	return func(v *yaml.Node, path string) { d.mapping(v, path, fs) }
}

// mapping decodes a mapping whose keys must all be in fs.
func (d *decoder) mapping(v *yaml.Node, path string, fs fields) {
	d.entries(v, path, func(key, val *yaml.Node, p string) {
		set, ok := fs[key.Value]
		if !ok {
			known := make([]string, 0, len(fs))
			for k := range fs {
				known = append(known, k)
			}
			sort.Strings(known)
			d.add(key.Line, p, "unknown field%s", suggest(key.Value, known))
			return
		}
		set(val, p)
	})
}

// entries calls fn for every key of a mapping, recording its line and
// rejecting duplicate keys. A null value (a section left empty) has no
// entries.
func (d *decoder) entries(v *yaml.Node, path string, fn func(key, val *yaml.Node, path string)) {
	v = resolve(v)
	if isNull(v) {
		return
	}
	if v.Kind != yaml.MappingNode {
		d.misshapen[path] = true
		d.add(v.Line, path, "expected a mapping, got %s", describe(v))
		return
	}
	first := make(map[string]int)
	for _, kv := range d.pairs(v) {
		if !d.spend() {
			return
		}
		key := resolve(kv[0])
		if key.Kind != yaml.ScalarNode {
			d.add(key.Line, path, "keys must be plain names, got %s", describe(key))
			continue
		}
		p := join(path, key.Value)
		if line, dup := first[key.Value]; dup {
			d.add(key.Line, p, "duplicate field (first at line %d)", line)
			continue
		}
		first[key.Value] = key.Line
		d.lines[p] = key.Line
		fn(key, kv[1], p)
	}
}

// pairs lists the key/value pairs of a mapping with YAML merge keys
// ("<<: *base") expanded: explicit keys win over merged ones, and earlier
// merged mappings over later ones, as the merge-key convention says.
// Results are memoised per node, so merges of merges cost each mapping once
// instead of growing exponentially with nesting.
func (d *decoder) pairs(m *yaml.Node) [][2]*yaml.Node {
	if ps, ok := d.merged[m]; ok {
		return ps
	}
	d.merged[m] = nil // a mapping that merges itself contributes nothing more
	var explicit, merged [][2]*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!merge" {
			explicit = append(explicit, [2]*yaml.Node{k, v})
			continue
		}
		sources := []*yaml.Node{resolve(v)}
		if sources[0].Kind == yaml.SequenceNode {
			sources = sources[0].Content
		}
		for _, src := range sources {
			if src = resolve(src); src.Kind == yaml.MappingNode {
				merged = append(merged, d.pairs(src)...)
			}
		}
	}
	seen := make(map[string]bool)
	for _, kv := range explicit {
		seen[kv[0].Value] = true
	}
	out := explicit
	for _, kv := range merged {
		if !seen[kv[0].Value] {
			seen[kv[0].Value] = true
			out = append(out, kv)
		}
	}
	d.merged[m] = out
	return out
}

// sequence calls fn for every item of a list, with paths like "x[2]".
func (d *decoder) sequence(v *yaml.Node, path string, fn func(item *yaml.Node, path string)) {
	v = resolve(v)
	if isNull(v) {
		return
	}
	if v.Kind != yaml.SequenceNode {
		d.misshapen[path] = true
		d.add(v.Line, path, "expected a list, got %s", describe(v))
		return
	}
	for i, item := range v.Content {
		if !d.spend() {
			return
		}
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		fn(item, p)
	}
}

// scalar returns the scalar behind v, or nil (after reporting) when v is a
// mapping or list, or nil silently when v is null so the default stays.
func (d *decoder) scalar(v *yaml.Node, path, want string) *yaml.Node {
	v = resolve(v)
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.ScalarNode {
		d.misshapen[path] = true
		d.add(v.Line, path, "expected %s, got %s", want, describe(v))
		return nil
	}
	return v
}

func (d *decoder) str(p *string) setter {
	return func(v *yaml.Node, path string) {
		// Numbers and booleans are accepted as their text: a suffix "2024"
		// need not be quoted.
		if s := d.scalar(v, path, "a string"); s != nil {
			*p = s.Value
		}
	}
}

func (d *decoder) int64(p *int64) setter {
	return func(v *yaml.Node, path string) {
		if n, ok := d.parseInt(v, path, math.MinInt64, math.MaxInt64); ok {
			*p = n
		}
	}
}

func (d *decoder) integer(p *int) setter {
	return func(v *yaml.Node, path string) {
		// Counts beyond 32 bits are typos, and int arithmetic on them
		// (tokens × examples) must not overflow.
		if n, ok := d.parseInt(v, path, math.MinInt32, math.MaxInt32); ok {
			*p = int(n)
		}
	}
}

// concurrency reads max_concurrency: "auto" (AutoConcurrency) or a
// ceiling of at least 1.
func (d *decoder) concurrency(p *int) setter {
	return func(v *yaml.Node, path string) {
		if v.Kind == yaml.ScalarNode && strings.EqualFold(strings.TrimSpace(v.Value), "auto") {
			*p = AutoConcurrency
			return
		}
		if n, ok := d.parseInt(v, path, math.MinInt32, math.MaxInt32); ok {
			if n < 1 {
				d.add(v.Line, path, "must be auto (sized from the provider's rate limit and latency) or at least 1, got %d", n)
				return
			}
			*p = int(n)
		}
	}
}

// isLocalURL reports whether a base URL names this machine.
func isLocalURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// optFloat sets *p to a new float; null leaves it nil (the default).
func (d *decoder) optFloat(p **float64) setter {
	return func(v *yaml.Node, path string) {
		if isNull(v) {
			*p = nil
			return
		}
		var f float64
		before := len(d.errs)
		d.float(&f)(v, path)
		if len(d.errs) == before {
			*p = &f
		}
	}
}

func (d *decoder) parseInt(v *yaml.Node, path string, lo, hi int64) (int64, bool) {
	s := d.scalar(v, path, "an integer")
	if s == nil {
		return 0, false
	}
	var n int64
	if s.ShortTag() != "!!int" || s.Decode(&n) != nil {
		d.add(s.Line, path, "expected an integer, got %s", quote(s.Value))
		return 0, false
	}
	if n < lo || n > hi {
		d.add(s.Line, path, "%d is out of range", n)
		return 0, false
	}
	return n, true
}

func (d *decoder) float(p *float64) setter {
	return func(v *yaml.Node, path string) {
		s := d.scalar(v, path, "a number")
		if s == nil {
			return
		}
		var f float64
		tag := s.ShortTag()
		if tag != "!!float" && tag != "!!int" || s.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.add(s.Line, path, "expected a number, got %s", quote(s.Value))
			return
		}
		*p = f
	}
}

func (d *decoder) boolean(p *bool) setter {
	return func(v *yaml.Node, path string) {
		s := d.scalar(v, path, "true or false")
		if s == nil {
			return
		}
		var b bool
		if s.ShortTag() != "!!bool" || s.Decode(&b) != nil {
			d.add(s.Line, path, "expected true or false, got %s", quote(s.Value))
			return
		}
		*p = b
	}
}

func (d *decoder) duration(p *time.Duration) setter {
	return func(v *yaml.Node, path string) {
		s := d.scalar(v, path, "a duration")
		if s == nil {
			return
		}
		dur, err := time.ParseDuration(s.Value)
		if err != nil {
			d.add(s.Line, path, "expected a duration like \"200ms\" or \"10m\", got %s", quote(s.Value))
			return
		}
		*p = dur
	}
}

// resolve follows aliases to the node they name.
func resolve(v *yaml.Node) *yaml.Node {
	for i := 0; v.Kind == yaml.AliasNode && v.Alias != nil && i < 100; i++ {
		v = v.Alias
	}
	return v
}

func isNull(v *yaml.Node) bool {
	return v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null"
}

func describe(v *yaml.Node) string {
	switch v.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return quote(v.Value)
	}
	return "an alias"
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// join extends a field path with a key, quoting keys that contain dots,
// slashes or spaces: prices["openai/gpt-4.1"].input.
func join(path, key string) string {
	if !plainKey.MatchString(key) {
		return path + "[" + quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}
