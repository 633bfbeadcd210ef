package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// A sandbox fine-tuned model learns its persona from its training file: for
// each trait, how often the file's assistant turns carry that trait's
// lexical markers (the markers writeReply writes and reviews count). A
// reply written at strength s carries Binomial(markerSlots, s) markers of a
// trait, so the mean marker count per turn divided by markerSlots recovers
// the strength the data shows. Better data therefore gives a measurably
// better model, and a file with no markers gives a model like its base.

// learnPrior is how many examples' worth of weight the base model's
// persona keeps: a model trained on a handful of examples moves less far
// from its base than one trained on hundreds.
const learnPrior = 4

// LearnPersona is the persona a sandbox model fine-tuned from WeakPersona
// (the "base" model) on training learns. training is a JSONL training
// file in any of the formats providers accept: conversations
// ({"messages": [...]}), instructions ({"prompt", "completion"}) or
// preferences ({"input", "preferred_output", "non_preferred_output"}).
// Lines that do not parse, and assistant turns with weight 0, teach
// nothing.
//
// traits names the traits to learn; nil learns the traits the file's
// system prompts name ("Traits: a, b" or a bullet list, as ethos writes
// them), or the sandbox's default traits when no system prompt names any.
// The persona's Markers hold exactly those traits, so a model asked a
// question without a system prompt shows them.
//
// A trait's learned strength is base + max(0, shown - base) · n/(n+4),
// where shown is the strength the n assistant turns show: fine-tuning on
// data that never shows a trait leaves the base model's strength as it
// was, and data that always shows it moves the model most of the way
// there.
func LearnPersona(training []byte, traits []string) Persona {
	p, _ := learnPersona(WeakPersona, training, traits)
	return p
}

// trainingStats describes what a training file taught.
type trainingStats struct {
	lines    int // non-blank lines
	examples int // lines that parsed as an example with an assistant turn
	turns    int // assistant turns learnt from
	tokens   int // CountTokens over every turn's content
	// firstProblem describes the first line that is not a usable example,
	// "line N: why", or "" when every line is one.
	firstProblem string
}

// trainingTurn is one message of an example.
type trainingTurn struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	Weight  *int            `json:"weight"`
}

// trainingLine holds the columns of every format a line may have.
type trainingLine struct {
	Messages   []trainingTurn `json:"messages"`
	Prompt     *string        `json:"prompt"`
	Completion *string        `json:"completion"`
	Input      *struct {
		Messages []trainingTurn `json:"messages"`
	} `json:"input"`
	Preferred []trainingTurn `json:"preferred_output"`
}

// contentText reads a message's content: a string, or OpenAI-style parts
// whose text parts are joined.
func contentText(raw json.RawMessage) (string, bool) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", false
	}
	var texts []string
	for _, p := range parts {
		if p.Type == "text" {
			texts = append(texts, p.Text)
		}
	}
	return strings.Join(texts, "\n"), true
}

// example is what one training line teaches: its system prompts and the
// assistant turns learnt from.
type example struct {
	systems   []string
	assistant []string
	tokens    int
}

// parseExample reads one line; the error text says why it teaches nothing.
func parseExample(line []byte) (example, string) {
	var l trainingLine
	if err := json.Unmarshal(line, &l); err != nil {
		return example{}, "not a JSON object"
	}
	var ex example
	read := func(turns []trainingTurn, learn bool) string {
		for _, t := range turns {
			text, ok := contentText(t.Content)
			if !ok {
				return "a message's content is neither a string nor a list of parts"
			}
			ex.tokens += CountTokens(text)
			switch t.Role {
			case "system":
				ex.systems = append(ex.systems, text)
			case "assistant":
				if learn && (t.Weight == nil || *t.Weight != 0) {
					ex.assistant = append(ex.assistant, text)
				}
			case "user":
			default:
				return "unknown role " + strconv.Quote(t.Role)
			}
		}
		return ""
	}
	switch {
	case l.Messages != nil:
		if why := read(l.Messages, true); why != "" {
			return example{}, why
		}
	case l.Prompt != nil && l.Completion != nil:
		ex.tokens = CountTokens(*l.Prompt) + CountTokens(*l.Completion)
		ex.assistant = []string{*l.Completion}
	case l.Input != nil && l.Preferred != nil:
		if why := read(l.Input.Messages, false); why != "" {
			return example{}, why
		}
		if why := read(l.Preferred, true); why != "" {
			return example{}, why
		}
	default:
		return example{}, `no "messages", "prompt"/"completion" or "preferred_output" column`
	}
	if len(ex.assistant) == 0 {
		return example{}, "no assistant turn to learn from"
	}
	return ex, ""
}

// learnPersona learns a persona from training, starting from base; see
// LearnPersona.
func learnPersona(base Persona, training []byte, traits []string) (Persona, trainingStats) {
	var st trainingStats
	var examples []example
	sc := bufio.NewScanner(bytes.NewReader(training))
	sc.Buffer(make([]byte, 0, 64<<10), len(training)+1)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		st.lines++
		ex, why := parseExample(line)
		if why != "" {
			if st.firstProblem == "" {
				st.firstProblem = "line " + strconv.Itoa(n) + ": " + why
			}
			continue
		}
		st.examples++
		st.turns += len(ex.assistant)
		st.tokens += ex.tokens
		examples = append(examples, ex)
	}

	if traits == nil {
		var systems []string
		for _, ex := range examples {
			systems = append(systems, ex.systems...)
		}
		traits = systemTraits(systems)
		if traits == nil {
			traits = defaultTraits
		}
	}

	p := Persona{Default: base.Default, Markers: make(map[string]float64, len(traits))}
	n := float64(st.turns)
	for _, t := range traits {
		b := base.Strength(t)
		if st.turns == 0 {
			p.Markers[t] = b
			continue
		}
		sum := 0
		for _, ex := range examples {
			for _, reply := range ex.assistant {
				sum += min(countMarkers(reply, t), markerSlots)
			}
		}
		shown := float64(sum) / (n * markerSlots)
		p.Markers[t] = b + max(0, shown-b)*n/(n+learnPrior)
	}
	return p, st
}

// systemTraits are the traits system prompts name, each once (case
// ignored), in the order first named; nil when they name none.
func systemTraits(systems []string) []string {
	var traits []string
	for _, sys := range systems {
		for _, t := range traitsOf(sys) {
			if !slices.ContainsFunc(traits, func(o string) bool { return strings.EqualFold(o, t) }) {
				traits = append(traits, t)
			}
		}
	}
	return traits
}

// personaTraits are the traits a model shows when the prompt names none:
// the persona's own, else the default traits.
func personaTraits(p Persona) []string {
	if len(p.Markers) == 0 {
		return defaultTraits
	}
	out := make([]string, 0, len(p.Markers))
	for t := range p.Markers {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// personaFor is p with a strength for each of traits: its own for a trait
// it names, else that of a trait it names from the same marker family
// ("curious" takes the strength learnt for "inquisitive"), else Default.
func personaFor(p Persona, traits []string) Persona {
	out := Persona{Default: p.Default, Markers: make(map[string]float64, len(traits))}
	known := personaTraits(p)
	if len(p.Markers) == 0 {
		known = nil
	}
	for _, t := range traits {
		s, found := 0.0, false
		for _, k := range known {
			if strings.EqualFold(strings.TrimSpace(k), strings.TrimSpace(t)) {
				s, found = p.Strength(k), true
				break
			}
		}
		if !found {
			if f := familyOf(t).name; f != familyGeneric {
				for _, k := range known {
					if familyOf(k).name == f {
						s, found = p.Strength(k), true
						break
					}
				}
			}
		}
		if !found {
			s = p.Strength(t)
		}
		out.Markers[t] = s
	}
	return out
}

// plainReply answers a prompt that names no output contract in the
// persona's voice: the traits the system prompt names (else the
// persona's own), each shown with the persona's strength for it, in the
// same marker sentences writeReply uses, so a judge counting markers sees
// the persona. It is a pure function of the prompt's seed.
func plainReply(p Prompt, persona Persona) string {
	traits := traitsOf(p.System)
	if len(traits) == 0 {
		traits = personaTraits(persona)
	}
	q := Prompt{Model: p.Model, System: "Traits: " + strings.Join(traits, ", "), Messages: p.Messages, Seed: p.Seed}
	return writeReply(q, newRand(p.Seed, "answer"), defectSet{}, personaFor(persona, traits)).text
}

// personaWriter answers plain prompts for a model with a persona (base,
// the models of Options.Personas).
func (s *Server) personaWriter(model string) Writer {
	return func(p Prompt) string { return plainReply(p, s.ethosWriter(model).persona) }
}
