package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/dedup"
)

// Check reads a dataset from r and checks it as opts.Provider will. name
// is the file's name, for the report and the extension rule (an empty
// name skips that rule). err is only
// for input that cannot be read, an unknown provider or a cancelled ctx;
// problems with the content are in the report.
func Check(ctx context.Context, r io.Reader, name string, opts Options) (*Report, error) {
	p, ok := providerFor(opts.Provider)
	if !ok {
		return nil, ethos.Errorf(ethos.Config, "unknown provider %q for a dataset check; want together, openai or sandbox", opts.Provider)
	}
	switch opts.Method {
	case "", MethodSFT, MethodPreference:
	default:
		return nil, ethos.Errorf(ethos.Config, "unknown training method %q for a dataset check; want %s or %s", opts.Method, MethodSFT, MethodPreference)
	}
	return check(ctx, r, name, p, opts)
}

func check(ctx context.Context, r io.Reader, name string, p *provider, opts Options) (*Report, error) {
	provider := opts.Provider
	if provider == "" {
		provider = p.name
	}
	c := &checker{
		p:       p,
		rep:     &Report{Path: name, Provider: provider, Problems: []Problem{}, Counts: map[string]int{}},
		dups:    newDupIndex(),
		quality: newQuality(),
		method:  opts.Method,
	}
	if name != "" && !strings.EqualFold(filepath.Ext(name), ".jsonl") {
		c.add(0, RuleFileExtension, "%s accepts .jsonl training files; rename %s to end in .jsonl", p.name, filepath.Base(name))
	}
	lr := newLineReader(r, p.maxBytes)
	tooLarge := false
	for {
		if lr.n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errFileTooLarge) {
			// Reading on would not change the verdict, and a pipe may
			// never end.
			tooLarge = true
			accepts := p.name + " accepts"
			if p.maxBytes == 0 {
				accepts = "ethos reads"
			}
			c.add(0, RuleFileTooLarge, "more than %s; %s at most that: split the file", size(lr.maxBytes), accepts)
			break
		}
		if err != nil {
			return nil, ethos.Errorf(ethos.Invalid, "reading %s: %w", name, err)
		}
		c.line(lr.n, line)
	}
	c.flush()
	c.rep.Lines = lr.n
	switch {
	case tooLarge:
	case lr.bytes == 0:
		c.add(0, RuleFileEmpty, "the file is empty; a training file needs at least %d example(s), one JSON object a line", p.minExamples)
	case opts.Validation:
	case c.rep.Examples < p.minExamples:
		c.add(0, RuleExamplesMin, "%d example(s); %s needs at least %d in a training file", c.rep.Examples, p.name, p.minExamples)
	}
	// Problems were found in line order, the file's own last; a stable
	// sort puts those first and keeps each line's in the order found.
	sort.SliceStable(c.rep.Problems, func(i, j int) bool { return c.rep.Problems[i].Line < c.rep.Problems[j].Line })
	return c.rep, nil
}

// checker checks one file. With rep nil it only parses, for StatsFile.
type checker struct {
	p       *provider
	rep     *Report
	dups    *dupIndex
	quality *quality

	format     string // of the first line with a recognisable format
	formatLine int
	method     string // Options.Method

	batch []pending
}

// add records a problem, listing at most MaxListed of each rule.
func (c *checker) add(line int, rule, format string, args ...any) {
	if c.rep == nil {
		return
	}
	sev, ok := severityOf[rule]
	if !ok {
		panic("dataset: unknown rule " + rule)
	}
	c.rep.Counts[rule]++
	if c.rep.Counts[rule] > MaxListed {
		c.rep.Omitted++
		return
	}
	c.rep.Problems = append(c.rep.Problems, Problem{Line: line, Rule: rule, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// line checks one line of the file.
func (c *checker) line(n int, b []byte) {
	if n == 1 && bytes.HasPrefix(b, utf8BOM) {
		c.add(n, RuleBOM, "the file starts with a UTF-8 byte order mark; save it as UTF-8 without BOM")
		b = b[len(utf8BOM):]
	}
	ex, ok := c.parse(n, b)
	if !ok || c.rep == nil {
		return
	}
	if tokens := exampleTokens(ex.turns); c.p.maxExampleTokens > 0 && tokens > c.p.maxExampleTokens {
		c.add(n, RuleExampleTooLong, "about %d tokens (at 4 bytes a token); %s trains on at most %d tokens an example: shorten or split it", tokens, c.p.name, c.p.maxExampleTokens)
	}
	c.batch = append(c.batch, pending{n: n, ex: ex})
	if len(c.batch) == batchSize {
		c.flush()
	}
}

// exampleTokens estimates the tokens of the longest sequence an example
// trains on: every turn with its message overhead, except that a
// preference example is trained as its input with each of its outputs in
// turn, so only the longer output counts.
func exampleTokens(turns []turn) int {
	n, longestOutput := 0, 0
	for _, t := range turns {
		tokens := ethos.EstimateTokens(t.text) + messageOverhead
		if t.role == "preferred_output" || t.role == "non_preferred_output" {
			longestOutput = max(longestOutput, tokens)
			continue
		}
		n += tokens
	}
	return n + longestOutput
}

// pending is an example whose content is still to be checked.
type pending struct {
	n        int
	ex       example
	findings [][]finding
}

// batchSize is how many examples are reviewed at once.
const batchSize = 256

// flush runs the content checks on the batch. The review, which costs
// far more than parsing, runs on every processor; the findings are then
// reported in line order, and duplicates found in line order, so the
// report is the same as a sequential one.
func (c *checker) flush() {
	batch := c.batch
	workers := min(runtime.GOMAXPROCS(0), len(batch))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(batch) {
					return
				}
				batch[i].findings = c.quality.examine(batch[i].ex.turns)
			}
		})
	}
	wg.Wait()
	for _, p := range batch {
		c.quality.report(c, p.n, p.ex.turns, p.findings)
		if p.ex.format == FormatConversation || p.ex.format == FormatChat {
			untrained(c, p.n, p.ex.turns)
		}
		c.duplicates(p.n, p.ex)
	}
	clear(c.batch)
	c.batch = c.batch[:0]
}

// example is what a line holds, as far as it could be read.
type example struct {
	format string
	turns  []turn
}

// turn is one piece of text of an example.
type turn struct {
	// role is the message's role, or for other formats the column the text
	// came from: text, prompt, completion, preferred_output or
	// non_preferred_output.
	role   string
	where  string // for messages, e.g. "messages[2]"
	text   string
	weight int // -1 when absent
}

// parse reads a line into an example, reporting every structural problem.
// ok is false for a line that is not a JSON object.
func (c *checker) parse(n int, b []byte) (ex example, ok bool) {
	if !utf8.Valid(b) {
		col := 1
		for len(b) > 0 {
			r, size := utf8.DecodeRune(b)
			if r == utf8.RuneError && size <= 1 {
				break
			}
			b = b[size:]
			col++
		}
		c.add(n, RuleUTF8, "invalid UTF-8 at character %d; save the file as UTF-8", col)
		return ex, false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		c.add(n, RuleLineEmpty, "empty line; remove it: every line must be one JSON object")
		return ex, false
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil || top == nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) || (err == nil && top == nil) {
			c.add(n, RuleObject, "the line is %s, not a JSON object; each line must be one object, such as {\"messages\": [...]}", kindName(bytes.TrimSpace(b)))
		} else {
			c.add(n, RuleLineJSON, "not valid JSON: %s", jsonErrorText(err, b))
		}
		return ex, false
	}
	if c.rep != nil {
		c.rep.Examples++
	}
	spec, ok := c.detect(n, top)
	if !ok {
		return ex, true
	}
	ex.format = spec.name
	switch spec.name {
	case FormatConversation, FormatChat:
		ex.turns = c.messages(n, top["messages"], "messages", true)
	case FormatInstruction:
		ex.turns = c.columns(n, top, "prompt", "completion")
	case FormatGeneral:
		ex.turns = c.columns(n, top, "text")
	case FormatPreference, FormatDPO:
		ex.turns = c.preference(n, top)
	}
	return ex, true
}

// jsonErrorText describes a JSON syntax error with the column it is at.
func jsonErrorText(err error, line []byte) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) && syn.Offset > 0 {
		col := utf8.RuneCount(line[:min(int(syn.Offset), len(line))])
		return fmt.Sprintf("%s (at character %d)", syn.Error(), col)
	}
	return err.Error()
}

// detect finds the line's format from its columns and reports extra
// columns and a change of format.
func (c *checker) detect(n int, top map[string]json.RawMessage) (formatSpec, bool) {
	var matches []formatSpec
	for _, f := range c.p.formats {
		all := true
		for _, col := range f.required {
			if _, ok := top[col]; !ok {
				all = false
			}
		}
		if all {
			matches = append(matches, f)
		}
	}
	switch len(matches) {
	case 0:
		c.add(n, RuleFormatUnknown, "columns %s match no %s format; want %s", columnList(top), c.p.name, formatList(c.p.formats))
		return formatSpec{}, false
	case 1:
	default:
		names := make([]string, len(matches))
		for i, m := range matches {
			names[i] = m.name
		}
		c.add(n, RuleFormatAmbiguous, "columns %s match the %s formats; keep the columns of one", columnList(top), strings.Join(names, " and "))
		return formatSpec{}, false
	}
	spec := matches[0]
	var extra []string
	for col := range top {
		if !slices.Contains(spec.allowed, col) {
			extra = append(extra, col)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		c.add(n, RuleColumnsExtra, "%s format allows only %s; remove %s", spec.name, quoteList(spec.allowed), quoteList(extra))
	}
	if c.format == "" {
		c.format, c.formatLine = spec.name, n
		if c.rep != nil {
			c.rep.Format = spec.name
		}
		c.checkMethod(n, spec)
	} else if spec.name != c.format {
		c.add(n, RuleFormatMixed, "%s format, but line %d is %s; one file holds one format", spec.name, c.formatLine, c.format)
	}
	return spec, true
}

// checkMethod reports a file whose format, set by its first example at
// line n, does not fit the training method: once, as the format is the
// whole file's. A preference file given to a supervised job is the case
// that matters: the provider takes the file, so nothing else would stop
// a job that does not train what its author meant.
func (c *checker) checkMethod(n int, spec formatSpec) {
	preference := MethodOf(spec.name) == MethodPreference
	switch {
	case c.method == MethodPreference && !preference:
		c.add(n, RuleMethodFormat, "%s format, but the job trains on preferences; each line must hold input, preferred_output and non_preferred_output", spec.name)
	case c.method != MethodPreference && preference:
		c.add(n, RuleMethodFormat, "a preference (DPO) example (input, preferred_output, non_preferred_output), but the job is supervised fine-tuning (SFT), which ethos trains; give it conversation examples, {\"messages\": [...]} (such as each input's messages followed by its preferred_output), or leave the file out")
	}
}

// messages checks a list of messages. field names it in messages
// ("input.messages"); requireAssistant is false for a preference input.
func (c *checker) messages(n int, raw json.RawMessage, field string, requireAssistant bool) []turn {
	if kindOf(raw) != '[' {
		c.add(n, RuleMessagesType, "%s must be a list of messages, got %s", field, kindName(raw))
		return nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		c.add(n, RuleMessagesType, "%s: %v", field, err)
		return nil
	}
	if len(items) == 0 {
		c.add(n, RuleMessagesEmpty, "%s is empty; an example needs at least a user and an assistant message", field)
		return nil
	}
	var (
		turns        []turn
		prev         string
		anyRole      bool
		hasAssistant bool
		images       int
		lists        = map[bool]bool{} // whether some content is a list, some a string
	)
	for i, item := range items {
		where := fmt.Sprintf("%s[%d]", field, i)
		if kindOf(item) != '{' {
			c.add(n, RuleMessageType, "%s must be an object with role and content, got %s", where, kindName(item))
			prev = ""
			continue
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(item, &m); err != nil {
			c.add(n, RuleMessageType, "%s: %v", where, err)
			continue
		}
		t := turn{where: where, weight: -1}
		role, hasRole := m["role"]
		content, hasContent := m["content"]
		toolCall := c.p.messageKeys != nil && (present(m["tool_calls"]) || present(m["function_call"]))
		var missing []string
		if !hasRole {
			missing = append(missing, `"role"`)
		}
		if !hasContent && !toolCall {
			missing = append(missing, `"content"`)
		}
		if len(missing) > 0 {
			c.add(n, RuleMessageFields, "%s lacks %s; every message needs a role and a content", where, strings.Join(missing, " and "))
		}

		validRole := false
		if hasRole {
			s, ok := asString(role)
			switch {
			case !ok:
				c.add(n, RuleRoleInvalid, "%s: role must be a string, got %s", where, kindName(role))
			case !c.p.allowsRole(s):
				t.role = s
				c.add(n, RuleRoleInvalid, "%s: role %q is not one of %s", where, s, strings.Join(c.p.roles, ", "))
			default:
				t.role, validRole = s, true
			}
		}
		if validRole {
			anyRole = true
			if c.p.alternate && t.role == prev {
				c.add(n, RuleRolesAlternate, "%s is a second %q message in a row; merge them, or put the other role between: roles must alternate", where, t.role)
			}
			prev = t.role
			hasAssistant = hasAssistant || t.role == "assistant"
		}

		if c.p.messageKeys != nil {
			var extra []string
			for k := range m {
				if !c.p.messageKeys[k] {
					extra = append(extra, k)
				}
			}
			if len(extra) > 0 {
				sort.Strings(extra)
				c.add(n, RuleMessageExtraKey, "%s has %s, which %s does not accept in a message; remove it", where, quoteList(extra), c.p.name)
			}
		}

		if w, ok := m["weight"]; ok {
			switch v, ok := weightValue(w); {
			case !ok:
				c.add(n, RuleWeightInvalid, "%s: weight must be the integer 0 or 1, got %s", where, bytes.TrimSpace(w))
			default:
				t.weight = v
				if c.p.weightAssistantOnly && validRole && t.role != "assistant" {
					c.add(n, RuleWeightRole, "%s: weight is allowed on assistant messages only, not on %q", where, t.role)
				}
			}
		}

		if hasContent {
			text, imgs, isList := c.content(n, where, content, t.role, toolCall)
			t.text = text
			images += imgs
			if isList || kindOf(content) == '"' {
				lists[isList] = true
			}
			if c.p.dataURLImages && imgs > 0 && t.weight > 0 {
				c.add(n, RuleWeightImage, "%s has images and weight %d; a message with images must have weight 0", where, t.weight)
			}
		}
		turns = append(turns, t)
	}
	if c.p.dataURLImages {
		if lists[true] && lists[false] {
			c.add(n, RuleContentMixed, "%s mixes string contents and lists of content parts; use one form for every message of the example", field)
		}
		if images > maxImages {
			c.add(n, RuleContentImages, "%s holds %d images; at most %d an example", field, images, maxImages)
		}
	}
	if requireAssistant && anyRole && !hasAssistant {
		c.add(n, RuleNoAssistant, "%s has no assistant message, so there is nothing to train on", field)
	}
	return turns
}

// content checks a content value: a string or a list of content parts. It
// returns the text, the number of images and whether it was a list. null
// is allowed only where emptyOK (an OpenAI assistant message that calls a
// tool).
func (c *checker) content(n int, where string, raw json.RawMessage, role string, emptyOK bool) (text string, images int, isList bool) {
	switch kindOf(raw) {
	case '"':
		s, _ := asString(raw)
		if strings.TrimSpace(s) == "" && !emptyOK {
			c.add(n, RuleContentEmpty, "%s: content is empty; write the text or remove the message", where)
		}
		return s, 0, false
	case 'n':
		if !emptyOK {
			c.add(n, RuleContentType, "%s: content is null; want a string", where)
		}
		return "", 0, false
	case '[':
	default:
		c.add(n, RuleContentType, "%s: content must be a string or a list of content parts, got %s", where, kindName(raw))
		return "", 0, false
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil {
		c.add(n, RuleContentType, "%s: content: %v", where, err)
		return "", 0, true
	}
	var texts []string
	hasImagePart := false // an image, even one refused, is not empty content
	for i, raw := range parts {
		pw := fmt.Sprintf("%s.content[%d]", where, i)
		var part map[string]json.RawMessage
		if kindOf(raw) != '{' || json.Unmarshal(raw, &part) != nil {
			c.add(n, RuleContentType, "%s must be an object such as {\"type\": \"text\", \"text\": \"...\"}, got %s", pw, kindName(raw))
			continue
		}
		typ, _ := asString(part["type"])
		switch {
		case typ == "text":
			s, ok := asString(part["text"])
			if !ok {
				c.add(n, RuleContentType, "%s: a text part needs \"text\" as a string", pw)
				continue
			}
			texts = append(texts, s)
		case typ == "image_url":
			hasImagePart = true
			if c.image(n, pw, part, role) {
				images++
			}
		case typ == "refusal" && c.p.messageKeys != nil && role == "assistant":
			s, _ := asString(part["refusal"])
			texts = append(texts, s)
		case typ == "":
			c.add(n, RuleContentType, "%s has no \"type\"; want \"text\" or \"image_url\"", pw)
		default:
			c.add(n, RuleContentType, "%s has type %q; want \"text\" or \"image_url\"", pw, typ)
		}
	}
	text = strings.Join(texts, "\n")
	if strings.TrimSpace(text) == "" && !hasImagePart && !emptyOK {
		c.add(n, RuleContentEmpty, "%s: content has no text and no image; write the text or remove the message", where)
	}
	return text, images, true
}

var imageDataPrefixes = []string{"data:image/jpeg;base64,", "data:image/png;base64,", "data:image/webp;base64,"}

// image checks an image_url content part; ok says whether it counts as an
// image.
func (c *checker) image(n int, where string, part map[string]json.RawMessage, role string) (ok bool) {
	if role != "user" && role != "" {
		c.add(n, RuleContentImage, "%s: only user messages may carry images, not %q", where, role)
		return false
	}
	var img map[string]json.RawMessage
	if kindOf(part["image_url"]) != '{' || json.Unmarshal(part["image_url"], &img) != nil {
		c.add(n, RuleContentImage, "%s: image_url must be an object with a \"url\"", where)
		return false
	}
	url, isString := asString(img["url"])
	if !isString || url == "" {
		c.add(n, RuleContentImage, "%s: image_url.url must be a non-empty string", where)
		return false
	}
	if !c.p.dataURLImages {
		return true
	}
	if !slices.ContainsFunc(imageDataPrefixes, func(p string) bool { return strings.HasPrefix(url, p) }) {
		c.add(n, RuleContentImage, "%s: the image must be a base64 data URL (data:image/jpeg|png|webp;base64,...), got %q", where, truncate(url, 40))
		return false
	}
	if len(url) > maxImageURL {
		c.add(n, RuleContentImage, "%s: the image is about %d bytes; at most 10 MB", where, len(url)*3/4)
		return false
	}
	return true
}

// columns checks the string columns of the instruction and general
// formats.
func (c *checker) columns(n int, top map[string]json.RawMessage, names ...string) []turn {
	var turns []turn
	for _, name := range names {
		role := "user"
		if name == "completion" {
			role = "assistant"
		}
		text, _, _ := c.content(n, name, top[name], role, false)
		turns = append(turns, turn{role: name, where: name, text: text, weight: -1})
	}
	return turns
}

// preference checks the preference (DPO) format: an input of messages
// that ends with the user's turn, and two outputs of one assistant message
// each that differ.
func (c *checker) preference(n int, top map[string]json.RawMessage) []turn {
	var turns []turn
	var input map[string]json.RawMessage
	if kindOf(top["input"]) != '{' || json.Unmarshal(top["input"], &input) != nil {
		c.add(n, RulePreferenceInput, "input must be an object such as {\"messages\": [...]}, got %s", kindName(top["input"]))
	} else if msgs, ok := input["messages"]; !ok {
		c.add(n, RulePreferenceInput, "input has no \"messages\"")
	} else {
		c.extraKeys(n, "input", input, c.p.inputKeys)
		turns = c.messages(n, msgs, "input.messages", false)
		c.preferenceRoles(n, turns)
	}
	var sides [2]string // the texts of the outputs read
	var read [2]bool
	for i, key := range preferenceColumns[1:] {
		raw := top[key]
		var items []json.RawMessage
		if kindOf(raw) != '[' || json.Unmarshal(raw, &items) != nil {
			c.add(n, RulePreferenceOutput, "%s must be a list holding one assistant message, got %s", key, kindName(raw))
			continue
		}
		if len(items) != 1 {
			c.add(n, RulePreferenceOutput, "%s holds %d messages; it must hold exactly one assistant message", key, len(items))
			continue
		}
		var m map[string]json.RawMessage
		if kindOf(items[0]) != '{' || json.Unmarshal(items[0], &m) != nil {
			c.add(n, RulePreferenceOutput, "%s[0] must be a message object, got %s", key, kindName(items[0]))
			continue
		}
		if role, _ := asString(m["role"]); role != "assistant" {
			c.add(n, RulePreferenceOutput, "%s[0] must have the role \"assistant\"", key)
			continue
		}
		content, ok := m["content"]
		if !ok {
			c.add(n, RulePreferenceOutput, "%s[0] lacks \"content\"", key)
			continue
		}
		c.extraKeys(n, key+"[0]", m, outputKeys)
		text, _, _ := c.content(n, key+"[0]", content, "assistant", false)
		turns = append(turns, turn{role: key, where: key + "[0]", text: text, weight: -1})
		sides[i], read[i] = text, true
	}
	if read[0] && read[1] && strings.TrimSpace(sides[0]) != "" {
		if identical, sim, near := sidesAlike(sides[0], sides[1]); identical {
			c.add(n, RulePreferenceIdentical, "preferred_output and non_preferred_output are the same text, so the pair prefers nothing; write a worse answer for non_preferred_output or drop the line")
		} else if near && c.rep != nil {
			c.add(n, RulePreferenceNearIdentical, "preferred_output and non_preferred_output are nearly the same text (estimated similarity %.2f), so the pair teaches little; make the answers differ in what the character should learn", sim)
		}
	}
	return turns
}

// outputKeys are the keys a preference output message may have.
var outputKeys = []string{"role", "content"}

// extraKeys reports the keys of object, at where, that allowed does not
// name.
func (c *checker) extraKeys(n int, where string, object map[string]json.RawMessage, allowed []string) {
	var extra []string
	for k := range object {
		if !slices.Contains(allowed, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		c.add(n, RulePreferenceExtraKey, "%s has %s, which %s does not accept there; it takes only %s", where, quoteList(extra), c.p.name, quoteList(allowed))
	}
}

// preferenceRoles checks the order of a preference input's messages: an
// optional system prompt first (OpenAI: or a developer message), then
// user and assistant taking turns, starting and ending with the user, so
// that both outputs answer the user's last turn. A role the provider does
// not know, and a role repeated where the provider's own alternation rule
// already reports it, are not reported again.
func (c *checker) preferenceRoles(n int, turns []turn) {
	prev := "" // the previous user or assistant role
	last := ""
	for i, t := range turns {
		if !c.p.allowsRole(t.role) {
			continue
		}
		last = t.role
		switch {
		case t.role == "system" || t.role == "developer":
			if i > 0 {
				c.add(n, RulePreferenceRoles, "%s is a %q message after the first; only the first message of the input may be the system prompt", t.where, t.role)
			}
			continue
		case t.role != "user" && t.role != "assistant":
			c.add(n, RulePreferenceRoles, "%s has the role %q, which a preference input does not take; use system, user and assistant", t.where, t.role)
			continue
		}
		want := "user"
		if prev == "user" {
			want = "assistant"
		}
		if t.role != want && !(c.p.alternate && t.role == prev) {
			if prev == "" {
				c.add(n, RulePreferenceRoles, "%s is the assistant's, before any user message; after an optional system prompt the input starts with the user", t.where)
			} else {
				c.add(n, RulePreferenceRoles, "%s is a second %q message in a row; user and assistant take turns in a preference input", t.where, t.role)
			}
		}
		prev = t.role
	}
	switch last {
	case "", "user":
	case "assistant":
		c.add(n, RulePreferenceLastTurn, "the last message of input.messages is the assistant's; end the input with the user's turn the outputs answer")
	default:
		c.add(n, RulePreferenceLastTurn, "the last message of input.messages is a %q message; end the input with the user's turn the outputs answer", last)
	}
}

// sidesAlike compares the two outputs of a preference pair: identical
// when their texts are the same but for white space at either end, else
// near when package dedup's MinHash estimate of their word-shingle
// similarity reaches its default threshold, the line dataset draws
// between near-duplicate examples.
func sidesAlike(preferred, rejected string) (identical bool, similarity float64, near bool) {
	if strings.TrimSpace(preferred) == strings.TrimSpace(rejected) {
		return true, 1, true
	}
	idx := dedup.New(dedup.DefaultThreshold)
	idx.Add(0, preferred)
	_, similarity, near = idx.Check(rejected)
	return false, similarity, near
}

// untrained warns about a conversation whose every assistant message has
// weight 0: it is valid, but teaches nothing.
func untrained(c *checker, n int, turns []turn) {
	assistants, zero := 0, 0
	for _, t := range turns {
		if t.role == "assistant" {
			assistants++
			if t.weight == 0 {
				zero++
			}
		}
	}
	if assistants > 0 && zero == assistants {
		c.add(n, RuleWeightUntrained, "every assistant message has weight 0, so this example trains nothing; set weight 1 on the replies to learn")
	}
}

// --- JSON helpers -----------------------------------------------------------

// kindOf returns the first byte of a JSON value, which names its type:
// '{', '[', '"', 't'/'f', 'n', or a digit or '-'; 0 for nothing.
func kindOf(raw json.RawMessage) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func kindName(raw []byte) string {
	switch k := kindOf(raw); k {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case 0:
		return "nothing"
	default:
		return "a number"
	}
}

// present says whether a JSON value is there and not null.
func present(raw json.RawMessage) bool {
	k := kindOf(raw)
	return k != 0 && k != 'n'
}

func asString(raw json.RawMessage) (string, bool) {
	if kindOf(raw) != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// weightValue reads a weight, which must be the JSON integer 0 or 1 (1.0
// and true are refused, as the providers refuse them).
func weightValue(raw json.RawMessage) (int, bool) {
	switch string(bytes.TrimSpace(raw)) {
	case "0", "-0":
		return 0, true
	case "1":
		return 1, true
	}
	return 0, false
}

func columnList(top map[string]json.RawMessage) string {
	if len(top) == 0 {
		return "(none)"
	}
	cols := make([]string, 0, len(top))
	for k := range top {
		cols = append(cols, k)
	}
	sort.Strings(cols)
	return quoteList(cols)
}

func formatList(fs []formatSpec) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = fmt.Sprintf("%s (%s)", f.name, strings.Join(f.required, ", "))
	}
	return strings.Join(parts, ", ")
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", truncate(n, 40))
	}
	return strings.Join(q, ", ")
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}
