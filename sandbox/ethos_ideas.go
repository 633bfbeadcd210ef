package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// idea is one entry of an ethos-ideas/v1 answer.
type idea struct {
	Summary   string   `json:"summary"`
	Situation string   `json:"situation,omitempty"`
	Traits    []string `json:"traits"`
	Hard      bool     `json:"hard"`
}

// ideaSpec is what the ideas prompt asks for.
type ideaSpec struct {
	n      int
	theme  theme
	traits []string
	hard   bool
}

func readIdeaSpec(p Prompt) ideaSpec {
	text := promptText(p)
	n, ok := labelInt(text, "Number of ideas")
	if !ok || n < 1 {
		n = 5
	}
	n = min(n, 50)
	category, _ := label(text, "Category")
	desc, ok := label(text, "Category description")
	if !ok {
		desc, _ = label(text, "Description")
	}
	th := themeFor(category + " " + desc)
	hard := th.hard
	for _, name := range []string{"Hard case", "Hard"} {
		if v, ok := label(text, name); ok {
			v = strings.ToLower(v)
			hard = strings.HasPrefix(v, "yes") || strings.HasPrefix(v, "true")
			break
		}
	}
	return ideaSpec{n: n, theme: th, traits: traitsOf(text), hard: hard}
}

// writeIdeas answers ethos-ideas/v1: a JSON object of N ideas drawn from
// the category's theme, each with its own person, place and complication.
func writeIdeas(p Prompt, r *rand.Rand, d defectSet) contractText {
	spec := readIdeaSpec(p)
	count := spec.n
	if d[DefectShort] {
		count = r.IntN(spec.n) // 0..n-1: a shortfall the pipeline tops up
	}
	offformat := -1
	if d[DefectOffFormat] {
		offformat = r.IntN(3)
		if offformat == 1 {
			count = spec.n + 1 + r.IntN(2)
		}
	}
	// Distinct first names and, while the theme has enough, distinct
	// scenarios within one answer: no two ideas in a reply share a person
	// or a premise.
	names := r.Perm(len(firstNames))
	premises := r.Perm(len(spec.theme.scenarios))
	ideas := make([]idea, count)
	for i := range ideas {
		sc := spec.theme.scenarios[premises[i%len(premises)]]
		ideas[i] = newIdea(r, spec, sc, firstNames[names[i%len(names)]])
	}
	switch offformat {
	case 0:
		var b strings.Builder
		b.WriteString("Here are some scenario ideas for this category:\n\n")
		for i, id := range ideas {
			fmt.Fprintf(&b, "%d. %s\n   %s\n\n", i+1, id.Summary, id.Situation)
		}
		b.WriteString("Let me know if you would like more ideas or a different mix of traits.")
		return contractText{text: b.String()}
	case 2:
		if len(ideas) > 0 {
			ideas[r.IntN(len(ideas))].Situation = "" // omitted by omitempty
		} else {
			return contractText{text: `{"ideas": "none"}`}
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		Ideas []idea `json:"ideas"`
	}{ideas}); err != nil {
		panic("sandbox: encode ideas: " + err.Error())
	}
	text := strings.TrimSpace(buf.String())
	if r.IntN(3) == 0 {
		text = "```json\n" + text + "\n```"
	}
	return contractText{text: text}
}

func newIdea(r *rand.Rand, spec ideaSpec, sc scenario, first string) idea {
	role := pick(r, sc.roles)
	surname := pick(r, surnames)
	city := pick(r, cities)
	v := slots(r, false)
	v["@city"] = city

	var sit strings.Builder
	switch r.IntN(3) {
	case 0:
		fmt.Fprintf(&sit, "%s %s is %s in %s. ", first, surname, role, city)
	case 1:
		fmt.Fprintf(&sit, "%s %s, %s based in %s, works with %s. ", first, surname, role, city, pick(r, orgs))
	default:
		fmt.Fprintf(&sit, "%s %s is %s living in %s. ", first, surname, role, city)
	}
	sit.WriteString(capitalize(thirdPerson(sc.face)) + ". ")
	for _, i := range r.Perm(len(stakes))[:1+r.IntN(2)] {
		sit.WriteString(v.fill(stakes[i]) + " ")
	}
	sit.WriteString(v.fill(pick(r, twists)) + " ")
	fmt.Fprintf(&sit, "They will ask: %q", pick(r, sc.asks))

	var summary string
	switch r.IntN(4) {
	case 0:
		summary = fmt.Sprintf("%s, %s in %s, needs help with %s %s", first, role, city, sc.topic, pick(r, timeframes))
	case 1:
		summary = fmt.Sprintf("%s %s (%s) is stuck on %s and wants a way forward", first, surname, role, sc.topic)
	case 2:
		summary = fmt.Sprintf("%s from %s, %s, asks about %s", first+" "+surname, city, role, sc.topic)
	default:
		summary = fmt.Sprintf("%s, %s in %s, weighs what to do about %s", first, role, city, sc.topic)
	}
	if len(summary) > 200 {
		summary = summary[:200]
	}

	var traits []string
	if len(spec.traits) > 0 {
		k := 1 + r.IntN(min(3, len(spec.traits)))
		chosen := r.Perm(len(spec.traits))[:k]
		for i, t := range spec.traits {
			for _, c := range chosen {
				if c == i {
					traits = append(traits, t)
				}
			}
		}
	}
	return idea{Summary: summary, Situation: strings.TrimSpace(sit.String()), Traits: traits, Hard: spec.hard}
}

// vars are the @-slots of a phrase template.
type vars map[string]string

// slots draws the shared slot values; firstPerson picks I/me/my over
// they/them/their.
func slots(r *rand.Rand, firstPerson bool) vars {
	v := vars{
		"@colleague": pick(r, firstNames) + " " + pick(r, surnames),
		"@amount":    "£" + strconv.Itoa((2+r.IntN(60))*250),
		"@month":     pick(r, months),
		"@weekday":   pick(r, weekdays),
		"@deadline":  pick(r, timeframes),
		"@n":         strconv.Itoa(2 + r.IntN(11)),
		"@org":       pick(r, orgs),
		"@city":      pick(r, cities),
	}
	if firstPerson {
		v["@They"], v["@they"], v["@Them"], v["@them"], v["@Their"], v["@their"] = "I", "I", "Me", "me", "My", "my"
	} else {
		v["@They"], v["@they"], v["@Them"], v["@them"], v["@Their"], v["@their"] = "They", "they", "Them", "them", "Their", "their"
	}
	return v
}

// fill replaces every @slot in s, the longest slot name that matches
// first, so "@their" is never read as "@the…".
func (v vars) fill(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 32) // a slot's value is seldom much longer than its name
	for {
		i := strings.IndexByte(s, '@')
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		best := ""
		for k := range v {
			if len(k) > len(best) && strings.HasPrefix(s, k) {
				best = k
			}
		}
		if best == "" {
			b.WriteByte('@')
			s = s[1:]
			continue
		}
		b.WriteString(v[best])
		s = s[len(best):]
	}
	out := b.String()
	// The banks conjugate for "they"; "I" differs only in "are".
	if v["@they"] == "I" {
		out = strings.ReplaceAll(out, "I are ", "I am ")
	}
	return out
}

// thirdPerson rewrites a first-person phrase about its writer as "they".
func thirdPerson(s string) string {
	words := strings.Fields(s)
	orig := append([]string(nil), words...)
	for i, w := range words {
		core := strings.TrimRight(w, ",.;:")
		tail := w[len(core):]
		var rep string
		switch core {
		case "I":
			rep = "they"
		case "I'm":
			rep = "they're"
		case "I've":
			rep = "they've"
		case "my":
			rep = "their"
		case "My":
			rep = "Their"
		case "me":
			rep = "them"
		case "myself":
			rep = "themselves"
		case "am":
			if i > 0 && orig[i-1] == "I" {
				rep = "are"
			}
		case "was":
			if i > 0 && orig[i-1] == "I" {
				rep = "were"
			}
		}
		if rep != "" {
			words[i] = rep + tail
		}
	}
	return strings.Join(words, " ")
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
