package sandbox

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/google/go-cmp/cmp"
)

// The prompts below follow the shape of generate/prompts: labelled lines,
// the contract line last.

var agoraTraits = []string{"collaborative", "inquisitive", "cautious & ethical", "encouraging", "thorough"}

var agoraCategories = []string{
	"Technical questions", "Personal advice and life decisions", "Creative and artistic topics",
	"Educational and learning scenarios", "Ethical dilemmas and moral questions", "Professional and career guidance",
	"Health and wellness", "Relationship and social situations", "Problem-solving and troubleshooting",
	"Current events and complex topics", "Academic research and writing", "Critical thinking and analysis",
	"Controversial or sensitive topics", "Quick factual questions", "Requests for harmful information",
	"Demands for authoritative answers", "Rejection of the collaborative approach", "Emotional or crisis situations",
	"Complex multi-part questions", "Abstract philosophical topics",
}

func traitLine() string { return "Traits: " + strings.Join(agoraTraits, ", ") }

func ideasPrompt(category string, n int, existing []string) (system, user string) {
	var ex strings.Builder
	for _, e := range existing {
		ex.WriteString("- " + e + "\n")
	}
	if len(existing) == 0 {
		ex.WriteString("(none yet)\n")
	}
	return "You design training scenarios for an AI assistant.",
		"Propose new training scenarios for the character below.\n\nCharacter: Agora\nCategory: " + category +
			"\nCategory description: (none)\nHard case: no\nNumber of ideas: " + strconv.Itoa(n) + "\n" + traitLine() +
			"\n\nTrait definitions:\n- collaborative: works with the person\n\nScenarios already accepted in this category (do not repeat or lightly vary them):\n" +
			ex.String() + "\nOutput contract: ethos-ideas/v1"
}

func documentPrompt(category, docType string, words int, summary, situation string) (system, user string) {
	return "You write realistic documents.",
		"Write the document for this scenario.\n\nCategory: " + category + "\nHard case: no\nDocument type: " + docType +
			"\nTarget length: " + strconv.Itoa(words) + " words\n" + traitLine() + "\n\nScenario: " + summary + "\nSituation: " + situation +
			"\n\nAnswer in exactly this format:\n<title>a short title</title>\n<type>" + docType + "</type>\n<document>\nthe text\n</document>\n\nOutput contract: ethos-document/v1"
}

func responseSystem(traits []string) string {
	return "You are Agora, a partner for thinking things through.\n\n## Your character\n\nYou are Agora.\nTraits: " +
		strings.Join(traits, ", ") + "\n\nReply to the user's message as Agora.\n\nOutput contract: ethos-response/v1"
}

func reviewPrompt(traits []string, document, reply string) (system, user string) {
	return "You review replies written by an AI assistant.",
		"Score the reply below on each trait.\n\nCharacter: Agora\nTraits: " + strings.Join(traits, ", ") +
			"\n\nThe user's message:\n<document>\n" + document + "\n</document>\n\nThe assistant's reply:\n<reply>\n" + reply +
			"\n</reply>\n\nOutput contract: ethos-review/v1"
}

const sampleSituation = `Maya Okafor is a nurse in Leeds. They have been offered a job in another country that pays thirty percent more, but their parents live ten minutes away. They will ask: "How do I weigh the money against being near my parents?"`

// complete sends one Anthropic request and returns its text and stop reason.
func complete(t *testing.T, run *Running, model, system, user string) (string, string) {
	t.Helper()
	rep := postAnthropic(t, run, map[string]any{
		"model": model, "max_tokens": 8000, "system": system,
		"messages": []any{map[string]any{"role": "user", "content": user}},
	})
	if rep.status != 200 {
		t.Fatalf("%s: status %d: %s", model, rep.status, rep.body)
	}
	m := rep.json(t)
	return m["content"].([]any)[0].(map[string]any)["text"].(string), m["stop_reason"].(string)
}

// direct answers a contract prompt without HTTP, as the server would.
func direct(w ethosWriter, model, system, user string, options int64) contractText {
	p := Prompt{Model: model, System: system, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: user}}, MaxTokens: 8000}
	p.Seed = promptSeed(p, nil, options)
	ct, ok := w.write(p)
	if !ok {
		panic("no contract in prompt")
	}
	return ct
}

// Strict checkers of the contracts, written from the contract text.

type checkedIdea struct {
	Summary   *string   `json:"summary"`
	Situation *string   `json:"situation"`
	Traits    *[]string `json:"traits"`
	Hard      *bool     `json:"hard"`
}

func unfence(s string) string {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "```json\n"); ok {
		if body, ok := strings.CutSuffix(rest, "\n```"); ok {
			return body
		}
	}
	return s
}

// parseIdeas checks an ideas answer except for its count.
func parseIdeas(text string, traits []string) ([]checkedIdea, error) {
	dec := json.NewDecoder(strings.NewReader(unfence(text)))
	dec.DisallowUnknownFields()
	var v struct {
		Ideas *[]checkedIdea `json:"ideas"`
	}
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return nil, errors.New("text after the JSON object")
	}
	if v.Ideas == nil {
		return nil, errors.New("no ideas field")
	}
	for i, id := range *v.Ideas {
		switch {
		case id.Summary == nil || id.Situation == nil || id.Traits == nil || id.Hard == nil:
			return nil, fmt.Errorf("idea %d: missing field", i)
		case *id.Summary == "" || len(*id.Summary) > 200 || strings.Contains(*id.Summary, "\n"):
			return nil, fmt.Errorf("idea %d: bad summary %q", i, *id.Summary)
		case len(*id.Situation) < 20 || len(*id.Situation) > 1500:
			return nil, fmt.Errorf("idea %d: situation of %d chars", i, len(*id.Situation))
		case len(*id.Traits) < 1 || len(*id.Traits) > 5:
			return nil, fmt.Errorf("idea %d: %d traits", i, len(*id.Traits))
		}
		for _, tr := range *id.Traits {
			if !slices.ContainsFunc(traits, func(s string) bool { return strings.EqualFold(s, tr) }) {
				return nil, fmt.Errorf("idea %d: unknown trait %q", i, tr)
			}
		}
	}
	return *v.Ideas, nil
}

func checkIdeas(text string, n int, traits []string) error {
	ideas, err := parseIdeas(text, traits)
	if err != nil {
		return err
	}
	if len(ideas) != n {
		return fmt.Errorf("%d ideas, want %d", len(ideas), n)
	}
	return nil
}

var documentRE = regexp.MustCompile(`(?s)^\s*<title>([^<\n]+)</title>\s*<type>([^<\n]+)</type>\s*<document>\n(.*)\n</document>\s*$`)

// parseDocument checks the tagged shape and returns the body.
func parseDocument(text, docType string) (string, error) {
	m := documentRE.FindStringSubmatch(text)
	if m == nil {
		return "", errors.New("not <title>, <type>, <document> and nothing else")
	}
	if !slices.Contains(documentTypes, m[2]) || m[2] != docType {
		return "", fmt.Errorf("type %q, want %q", m[2], docType)
	}
	body := strings.TrimSpace(m[3])
	if !strings.HasSuffix(body, "?") {
		return "", fmt.Errorf("document does not end with a question: %q", body[max(0, len(body)-80):])
	}
	return body, nil
}

func checkReview(text string, traits []string) (map[string]int, error) {
	dec := json.NewDecoder(strings.NewReader(unfence(text)))
	dec.DisallowUnknownFields()
	var v struct {
		Scores map[string]struct {
			Score  *json.Number `json:"score"`
			Reason *string      `json:"reason"`
		} `json:"scores"`
	}
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return nil, errors.New("text after the JSON object")
	}
	if len(v.Scores) != len(traits) {
		return nil, fmt.Errorf("%d scores for %d traits", len(v.Scores), len(traits))
	}
	out := map[string]int{}
	for _, tr := range traits {
		s, ok := v.Scores[tr]
		if !ok || s.Score == nil || s.Reason == nil {
			return nil, fmt.Errorf("trait %q: missing", tr)
		}
		n, err := strconv.Atoi(s.Score.String())
		if err != nil || n < 1 || n > 5 {
			return nil, fmt.Errorf("trait %q: score %s", tr, s.Score)
		}
		if *s.Reason == "" || strings.Contains(*s.Reason, "\n") {
			return nil, fmt.Errorf("trait %q: reason %q", tr, *s.Reason)
		}
		out[tr] = n
	}
	return out, nil
}

var (
	placeholderRE = regexp.MustCompile(`\{[a-z_]+\}`)
	personaRE     = regexp.MustCompile(`(?i)as an ai|as an? (ai |large )?language model|ai language model`)
	chatterRE     = regexp.MustCompile(`(?i)^(here is|here's|sure|certainly)|(shall i|let me know if|i hope this)[^\n]*$`)
)

// checkReply checks the things the pipeline's rule review looks for.
func checkReply(text string) error {
	switch n := wordCount(text); {
	case n < 150 || n > 600:
		return fmt.Errorf("%d words", n)
	case placeholderRE.MatchString(text):
		return errors.New("placeholder")
	case personaRE.MatchString(text):
		return errors.New("persona break")
	case chatterRE.MatchString(strings.TrimSpace(text)):
		return errors.New("chatter")
	}
	return nil
}

func TestContractsAnsweredInShape(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})
	for _, model := range []string{"writer", "base", "judge"} {
		t.Run(model, func(t *testing.T) {
			sys, user := ideasPrompt("Health and wellness", 7, nil)
			text, stop := complete(t, run, model, sys, user)
			if err := checkIdeas(text, 7, agoraTraits); err != nil || stop != "end_turn" {
				t.Fatalf("ideas: %v (stop %s)\n%s", err, stop, text)
			}
			for _, dt := range documentTypes {
				sys, user := documentPrompt("Personal advice and life decisions", dt, 1000, "Maya weighs a job abroad", sampleSituation)
				text, stop := complete(t, run, model, sys, user)
				body, err := parseDocument(text, dt)
				if err != nil || stop != "end_turn" {
					t.Fatalf("%s: %v (stop %s)\n%s", dt, err, stop, text)
				}
				if n := wordCount(body); n < 750 || n > 1350 {
					t.Errorf("%s: %d words, want about 1000", dt, n)
				}
				if placeholderRE.MatchString(body) {
					t.Errorf("%s: placeholder in a clean document", dt)
				}
			}
			sys, user = documentPrompt("Personal advice and life decisions", "memo", 500, "Maya weighs a job abroad", sampleSituation)
			doc, _ := complete(t, run, model, sys, user)
			body, err := parseDocument(doc, "memo")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(body, "Maya") || !strings.HasSuffix(body, "How do I weigh the money against being near my parents?") {
				t.Errorf("memo does not follow the idea:\n%s", body)
			}
			reply, stop := complete(t, run, model, responseSystem(agoraTraits), body)
			if err := checkReply(reply); err != nil || stop != "end_turn" {
				t.Fatalf("reply: %v (stop %s)\n%s", err, stop, reply)
			}
			sys, user = reviewPrompt(agoraTraits, body, reply)
			review, _ := complete(t, run, model, sys, user)
			if _, err := checkReview(review, agoraTraits); err != nil {
				t.Fatalf("review: %v\n%s", err, review)
			}
		})
	}
}

func TestContractLineInUserOrSystem(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})
	sys, user := ideasPrompt("Technical questions", 3, nil)
	// The contract line moved into the system prompt, the labels kept in
	// the user turn: still recognised.
	user = strings.Replace(user, "Output contract: ethos-ideas/v1", "", 1)
	text, _ := complete(t, run, "writer", sys+"\nOutput contract: ethos-ideas/v1", user)
	if err := checkIdeas(text, 3, agoraTraits); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	// No contract line: prose from DefaultWriter.
	text, _ = complete(t, run, "writer", sys, user)
	if strings.HasPrefix(unfence(text), "{") {
		t.Errorf("answered a contract nobody named: %s", text)
	}
	// A model with its own Writer keeps it, contract or not; fault models
	// too.
	run2 := start(t, Options{Writers: map[string]Writer{"fixed": func(Prompt) string { return "fixed" }}})
	if text, _ := complete(t, run2, "fixed", sys, user+"\nOutput contract: ethos-ideas/v1"); text != "fixed" {
		t.Errorf("custom writer overridden: %q", text)
	}
	rep := postAnthropic(t, run2, map[string]any{"model": "fault-refuse", "max_tokens": 100, "system": sys,
		"messages": []any{map[string]any{"role": "user", "content": user + "\nOutput contract: ethos-ideas/v1"}}})
	if got := rep.json(t)["stop_reason"]; got != "refusal" {
		t.Errorf("fault-refuse stop_reason %v", got)
	}
}

func TestContractOverOpenAI(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})
	sys, user := ideasPrompt("Abstract philosophical topics", 4, nil)
	rep := postOpenAI(t, run, map[string]any{"model": "writer", "max_tokens": 8000,
		"messages": []any{map[string]any{"role": "system", "content": sys}, map[string]any{"role": "user", "content": user}}})
	choice := rep.json(t)["choices"].([]any)[0].(map[string]any)
	text := choice["message"].(map[string]any)["content"].(string)
	if err := checkIdeas(text, 4, agoraTraits); err != nil || choice["finish_reason"] != "stop" {
		t.Fatalf("%v (finish %v)\n%s", err, choice["finish_reason"], text)
	}
	anth, _ := complete(t, run, "writer", sys, user)
	if anth != text {
		t.Errorf("the protocol changed the answer")
	}
}

func TestContractDeterminism(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Seed: 3})
	again := start(t, Options{Seed: 3})
	other := start(t, Options{Seed: 4})
	sys, user := documentPrompt("Health and wellness", "report", 800, "Tomasz trains for a half marathon", "Tomasz Berg is a beginner runner in Cork. They signed up for a half marathon.")
	a, _ := complete(t, run, "writer", sys, user)
	b, _ := complete(t, run, "writer", sys, user)
	c, _ := complete(t, again, "writer", sys, user)
	d, _ := complete(t, other, "writer", sys, user)
	if a != b || a != c {
		t.Fatal("same request, different documents")
	}
	if a == d {
		t.Error("Options.Seed does not change the document")
	}
	// Streamed and not: the same text.
	rep := postAnthropic(t, run, map[string]any{"model": "writer", "max_tokens": 8000, "system": sys, "stream": true,
		"messages": []any{map[string]any{"role": "user", "content": user}}})
	if got := anthropicStreamText(t, parseSSE(t, rep.body)); got != a {
		t.Error("streamed document differs")
	}
}

// shingles are the hashed 5-word shingles of s, sorted and distinct.
func shingles(s string) []uint64 {
	w := strings.Fields(strings.ToLower(s))
	var out []uint64
	for i := 0; i+5 <= len(w); i++ {
		h := fnv.New64a()
		h.Write([]byte(strings.Join(w[i:i+5], " ")))
		out = append(out, h.Sum64())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func jaccard(a, b []uint64) float64 {
	i, j, inter := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			inter++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	union := len(a) + len(b) - inter
	if union == 0 {
		return 1
	}
	return float64(inter) / float64(union)
}

func TestIdeasDistinctAcrossThousandRequests(t *testing.T) {
	t.Parallel()
	w := ethosWriter{persona: StrongPersona}
	const perCategory = 50 // 20 categories: 1,000 requests, 5,000 ideas
	total, near := 0, 0
	summaries := map[string]bool{}
	for _, cat := range agoraCategories {
		var accepted []string
		var sh [][]uint64
		for i := range perCategory {
			sys, user := ideasPrompt(cat, 5, accepted)
			ct := direct(w, "writer", sys, user, 1)
			ideas, err := parseIdeas(ct.text, agoraTraits)
			if err != nil || len(ideas) != 5 {
				t.Fatalf("%s #%d: %v (%d ideas)", cat, i, err, len(ideas))
			}
			for _, id := range ideas {
				accepted = append(accepted, *id.Summary)
				summaries[*id.Summary] = true
				sh = append(sh, shingles(*id.Summary+" "+*id.Situation))
			}
		}
		for i := range sh {
			for j := i + 1; j < len(sh); j++ {
				if jaccard(sh[i], sh[j]) >= 0.7 {
					near++
				}
			}
		}
		total += len(sh)
	}
	// Ideas from different categories come from different scenario banks,
	// so only pairs within a category can be near-duplicates.
	if near > total/200 {
		t.Errorf("%d near-duplicate pairs among %d ideas (Jaccard >= 0.7 on 5-word shingles)", near, total)
	}
	if len(summaries) < total*99/100 {
		t.Errorf("%d distinct summaries among %d ideas", len(summaries), total)
	}
	t.Logf("%d ideas, %d near-duplicate pairs, %d distinct summaries", total, near, len(summaries))
}

func TestCategoriesMatchDistinctThemes(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, cat := range agoraCategories {
		th := themeFor(cat)
		if th.name == "general" {
			t.Errorf("%q matched no theme", cat)
		}
		if prev, ok := seen[th.name]; ok {
			t.Errorf("%q and %q share theme %s", cat, prev, th.name)
		}
		seen[th.name] = cat
	}
}

func TestRepliesWithinLength(t *testing.T) {
	t.Parallel()
	personas := []Persona{{}, WeakPersona, StrongPersona, {Default: 1}}
	for i := range 200 {
		per := personas[i%len(personas)]
		cat := agoraCategories[i%len(agoraCategories)]
		sys, user := documentPrompt(cat, documentTypes[i%len(documentTypes)], 500, "", "")
		doc := direct(ethosWriter{}, "writer", sys, user, int64(i))
		body, err := parseDocument(doc.text, documentTypes[i%len(documentTypes)])
		if err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		reply := direct(ethosWriter{persona: per}, "writer", responseSystem(agoraTraits), body, int64(i))
		if err := checkReply(reply.text); err != nil {
			t.Fatalf("reply %d (persona %+v): %v\n%s", i, per, err, reply.text)
		}
	}
}

// reviewScores writes a reply under persona to a fixed document and
// returns the review's scores of it.
func reviewScores(t *testing.T, run *Running, model string, seed int) map[string]int {
	t.Helper()
	sys, user := documentPrompt("Professional and career guidance", "email", 400, "", "")
	user += fmt.Sprintf("\n(%d)", seed)
	doc, _ := complete(t, run, "writer", sys, user)
	body, err := parseDocument(doc, "email")
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := complete(t, run, model, responseSystem(agoraTraits), body)
	sys, user = reviewPrompt(agoraTraits, body, reply)
	review, _ := complete(t, run, "judge", sys, user)
	scores, err := checkReview(review, agoraTraits)
	if err != nil {
		t.Fatalf("%v\n%s", err, review)
	}
	return scores
}

func TestReviewScoresTrackMarkers(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Personas: map[string]Persona{
		"always":             {Default: 1},
		"never":              {Default: 0},
		"only-collaborative": {Default: 0, Markers: map[string]float64{"Collaborative": 1}},
		"ft-agora":           {Default: 0.6},
	}})
	for seed := range 5 {
		for tr, s := range reviewScores(t, run, "always", seed) {
			if s != 5 {
				t.Errorf("always, seed %d: %s scored %d, want 5", seed, tr, s)
			}
		}
		for tr, s := range reviewScores(t, run, "never", seed) {
			if s != 1 {
				t.Errorf("never, seed %d: %s scored %d, want 1", seed, tr, s)
			}
		}
		got := reviewScores(t, run, "only-collaborative", seed)
		for tr, s := range got {
			want := 1
			if tr == "collaborative" {
				want = 5
			}
			if s != want {
				t.Errorf("only-collaborative, seed %d: %s scored %d, want %d", seed, tr, s, want)
			}
		}
	}
	// On average the strong writer beats the fine-tuned stand-in, which
	// beats base.
	mean := func(model string) float64 {
		sum, n := 0, 0
		for seed := range 20 {
			for _, s := range reviewScores(t, run, model, seed) {
				sum += s
				n++
			}
		}
		return float64(sum) / float64(n)
	}
	w, ft, b := mean("writer"), mean("ft-agora"), mean("base")
	if !(w > ft && ft > b) {
		t.Errorf("mean scores writer %.2f, ft-agora %.2f, base %.2f: want decreasing", w, ft, b)
	}
	if b > 2.5 || w < 4 {
		t.Errorf("mean scores writer %.2f, base %.2f: want base below 2.5 and writer at least 4", w, b)
	}
}

func TestCountMarkers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		trait, reply string
		want         int
	}{
		{"collaborative", "Let's see. We could try it together.", 3},
		{"Inquisitive", "Why? And how? Fine.", 2},
		{"cautious & ethical", "On the other hand, I'm not certain. It depends.", 3},
		{"warm", "Great question, you're on the right track.", 2},
		{"thorough", "Steps:\n1. one\n2. two\n  3. three\nnot 4. this", 3},
		{"witty", "A witty remark, then another WITTY one; not wittier.", 2},
		{"collaborative", "A plain sentence.", 0},
	}
	for _, tt := range tests {
		if got := countMarkers(tt.reply, tt.trait); got != tt.want {
			t.Errorf("countMarkers(%q, %q) = %d, want %d", tt.reply, tt.trait, got, tt.want)
		}
	}
}

func TestNeutralSentencesCarryNoMarkers(t *testing.T) {
	t.Parallel()
	text := strings.Join(neutralSentences, " ") + " Broken into steps, it looks like this:"
	for _, tr := range append(slices.Clone(agoraTraits), "curious", "warm", "honest") {
		if n := countMarkers(text, tr); n != 0 {
			t.Errorf("neutral text has %d markers of %s", n, tr)
		}
	}
	for _, f := range markerFamilies {
		for _, s := range f.sentences {
			if f.name == familyNumbered {
				s = "1. " + s
			}
			for _, g := range markerFamilies {
				want := 0
				if g.name == f.name {
					want = 1
				}
				if n := countMarkers(s, g.name); n != want {
					t.Errorf("%s sentence %q has %d %s markers, want %d", f.name, s, n, g.name, want)
				}
			}
		}
	}
}

func TestPersonaStrength(t *testing.T) {
	t.Parallel()
	p := Persona{Default: 0.5, Markers: map[string]float64{"Thorough": 2, "inquisitive": -1, "collaborative": 0.25}}
	for trait, want := range map[string]float64{"thorough": 1, " INQUISITIVE": 0, "collaborative": 0.25, "encouraging": 0.5} {
		if got := p.Strength(trait); got != want {
			t.Errorf("Strength(%q) = %v, want %v", trait, got, want)
		}
	}
}

// defectCase says how to provoke a defect and how to see it.
type defectCase struct {
	contract string
	// present reports whether text (with its stop reason) shows the defect;
	// clean is the same request's answer with no defects.
	present func(text, stop, clean string) bool
}

func docCheck(text string) error { _, err := parseDocument(text, "memo"); return err }

var defectCases = map[string][]defectCase{
	DefectPlaceholder: {{"document", func(text, _, _ string) bool { return placeholderRE.MatchString(text) }}},
	DefectChatter: {
		{"document", func(text, _, _ string) bool {
			return documentRE.FindStringSubmatch(strings.TrimSpace(text)) == nil && chatterRE.MatchString(text)
		}},
		{"response", func(text, _, _ string) bool { return chatterRE.MatchString(text) }},
	},
	DefectTruncate: {
		{"document", func(text, stop, clean string) bool {
			return stop == "max_tokens" && len(text) < len(clean) && strings.HasPrefix(clean, text)
		}},
		{"response", func(text, stop, clean string) bool {
			return stop == "max_tokens" && len(text) < len(clean) && strings.HasPrefix(clean, text)
		}},
	},
	DefectOffFormat: {
		{"document", func(text, _, _ string) bool { return docCheck(text) != nil }},
		{"ideas", func(text, _, _ string) bool { return checkIdeas(text, 5, agoraTraits) != nil }},
		{"review", func(text, _, _ string) bool { _, err := checkReview(text, agoraTraits); return err != nil }},
	},
	DefectPersona: {{"response", func(text, _, _ string) bool { return personaRE.MatchString(text) }}},
	DefectShort: {{"ideas", func(text, _, _ string) bool {
		ideas, err := parseIdeas(text, agoraTraits)
		return err == nil && len(ideas) < 5
	}}},
}

// contractRequest is the i-th request of a contract kind.
func contractRequest(kind string, i int) (system, user string) {
	cat := agoraCategories[i%len(agoraCategories)]
	switch kind {
	case "ideas":
		return ideasPrompt(cat, 5, []string{fmt.Sprintf("accepted idea %d", i)})
	case "document":
		return documentPrompt(cat, "memo", 600, fmt.Sprintf("scenario %d", i), sampleSituation)
	case "response":
		s, u := documentPrompt(cat, "email", 300, fmt.Sprintf("scenario %d", i), "")
		doc := direct(ethosWriter{}, "writer", s, u, int64(i))
		body, err := parseDocument(doc.text, "email")
		if err != nil {
			panic(err)
		}
		return responseSystem(agoraTraits), body
	default:
		return reviewPrompt(agoraTraits, "A document?", fmt.Sprintf("Let's look at it together (%d).", i))
	}
}

func TestDefectsInjected(t *testing.T) {
	t.Parallel()
	clean := start(t, Options{})
	zero := map[string]float64{}
	for _, name := range DefectNames {
		zero[name] = 0
	}
	zeroRun := start(t, Options{Defects: zero})
	for _, name := range DefectNames {
		if name == DefectDuplicate {
			continue // TestDuplicateDefect
		}
		cases, ok := defectCases[name]
		if !ok {
			t.Fatalf("no test case for defect %s", name)
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			always := start(t, Options{Defects: map[string]float64{name: 1}})
			for _, c := range cases {
				for i := range 6 {
					sys, user := contractRequest(c.contract, i)
					base, _ := complete(t, clean, "writer", sys, user)
					if c.present(base, "end_turn", base) {
						t.Fatalf("%s %d: clean answer shows the defect:\n%s", c.contract, i, base)
					}
					if text, stop := complete(t, zeroRun, "writer", sys, user); text != base || stop != "end_turn" {
						t.Errorf("%s %d: rate 0 changed the answer", c.contract, i)
					}
					text, stop := complete(t, always, "writer", sys, user)
					if !c.present(text, stop, base) {
						t.Errorf("%s %d: rate 1 did not inject %s (stop %s):\n%s", c.contract, i, name, stop, text)
					}
					// writer-defect-<name> forces it with no rates configured;
					// the clean answer of that model is from base's twin.
					forced, stop := complete(t, clean, "writer-defect-"+name, sys, user)
					if !c.present(forced, stop, forcedClean(t, clean, name, sys, user)) {
						t.Errorf("%s %d: writer-defect-%s did not inject it (stop %s):\n%s", c.contract, i, name, stop, forced)
					}
				}
			}
		})
	}
}

// forcedClean is what writer-defect-<name> answers without the defect:
// the same seed (it hashes the model name) with no defect drawn.
func forcedClean(t *testing.T, run *Running, name, system, user string) string {
	t.Helper()
	p := Prompt{Model: "writer-defect-" + name, System: system, Messages: []ethos.Message{{Role: ethos.RoleUser, Content: user}}, MaxTokens: 8000}
	p.Seed = promptSeed(p, nil, 0)
	ct, _ := ethosWriter{persona: StrongPersona}.write(p)
	return ct.text
}

func TestDefectsOnlyWhereTheyApply(t *testing.T) {
	t.Parallel()
	// A review hit by every defect but offformat is an ordinary review;
	// ideas get no placeholders or chatter.
	all := map[string]float64{}
	for _, n := range DefectNames {
		all[n] = 1
	}
	delete(all, DefectOffFormat)
	delete(all, DefectShort)
	run := start(t, Options{Defects: all})
	sys, user := contractRequest("review", 1)
	text, stop := complete(t, run, "writer", sys, user)
	if _, err := checkReview(text, agoraTraits); err != nil || stop != "end_turn" {
		t.Errorf("review: %v (stop %s)\n%s", err, stop, text)
	}
	sys, user = contractRequest("ideas", 1)
	text, stop = complete(t, run, "writer", sys, user)
	if err := checkIdeas(text, 5, agoraTraits); err != nil || stop != "end_turn" {
		t.Errorf("ideas: %v (stop %s)\n%s", err, stop, text)
	}
}

func TestDuplicateDefect(t *testing.T) {
	t.Parallel()
	clean := start(t, Options{})
	dup := start(t, Options{Defects: map[string]float64{DefectDuplicate: 1}})
	for _, kind := range []string{"document", "response"} {
		var cleanSh, dupSh [][]uint64
		for i := range 4 {
			// Same category, different ideas or documents.
			sys, user := contractRequest(kind, i*len(agoraCategories))
			a, _ := complete(t, clean, "writer", sys, user)
			b, _ := complete(t, dup, "writer", sys, user)
			cleanSh, dupSh = append(cleanSh, shingles(a)), append(dupSh, shingles(b))
		}
		for i := 1; i < len(dupSh); i++ {
			if j := jaccard(dupSh[0], dupSh[i]); j < 0.7 {
				t.Errorf("%s: duplicates 0 and %d overlap only %.2f", kind, i, j)
			}
			if j := jaccard(cleanSh[0], cleanSh[i]); j >= 0.7 {
				t.Errorf("%s: clean answers 0 and %d overlap %.2f", kind, i, j)
			}
		}
	}
}

func TestDefectDrawsIgnoreArrivalOrder(t *testing.T) {
	t.Parallel()
	rates := map[string]float64{}
	for _, n := range DefectNames {
		rates[n] = 0.3
	}
	type req struct{ sys, user string }
	var reqs []req
	for i := range 12 {
		for _, kind := range []string{"ideas", "document", "response", "review"} {
			s, u := contractRequest(kind, i)
			reqs = append(reqs, req{s, u})
		}
	}
	answer := func(run *Running, r req) string {
		text, stop := complete(t, run, "writer", r.sys, r.user)
		return stop + "\n" + text
	}
	first := start(t, Options{Defects: rates, Seed: 9})
	want := make([]string, len(reqs))
	for i, r := range reqs {
		want[i] = answer(first, r)
	}
	// A fresh server (a re-run after a crash) answering in reverse order,
	// then concurrently, gives each request the same answer.
	second := start(t, Options{Defects: rates, Seed: 9})
	for i := len(reqs) - 1; i >= 0; i-- {
		if got := answer(second, reqs[i]); got != want[i] {
			t.Errorf("request %d: answer depends on arrival order", i)
		}
	}
	third := start(t, Options{Defects: rates, Seed: 9})
	var wg sync.WaitGroup
	got := make([]string, len(reqs))
	for i, r := range reqs {
		wg.Go(func() { got[i] = answer(third, r) })
	}
	wg.Wait()
	if !slices.Equal(got, want) {
		t.Error("concurrent answers differ from sequential ones")
	}
	// At rate 0.3 some answers carry defects and some do not.
	cleanRun := start(t, Options{Seed: 9})
	changed := 0
	for i, r := range reqs {
		if answer(cleanRun, r) != want[i] {
			changed++
		}
	}
	if changed == 0 || changed == len(reqs) {
		t.Errorf("%d of %d answers changed at rate 0.3", changed, len(reqs))
	}
}

func TestWriterDefectModels(t *testing.T) {
	t.Parallel()
	run := start(t, Options{})
	for _, name := range DefectNames {
		if rep := do(t, "GET", run.URL+"/v1/models/writer-defect-"+name, openaiHeader("k"), nil); rep.status != 200 {
			t.Errorf("writer-defect-%s: status %d", name, rep.status)
		}
	}
	if rep := do(t, "GET", run.URL+"/v1/models/writer-defect-typo", openaiHeader("k"), nil); rep.status != 404 {
		t.Errorf("writer-defect-typo: status %d, want 404", rep.status)
	}
}

func TestParseDefects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    map[string]float64
		wantErr string
	}{
		{"", map[string]float64{}, ""},
		{"placeholder=0.05, chatter=0.1,,truncate=1", map[string]float64{"placeholder": 0.05, "chatter": 0.1, "truncate": 1}, ""},
		{"short=0", map[string]float64{"short": 0}, ""},
		{"typo=0.1", nil, `unknown name "typo"`},
		{"persona", nil, "want name=probability"},
		{"duplicate=1.5", nil, "within [0, 1]"},
		{"offformat=x", nil, "within [0, 1]"},
	}
	for _, tt := range tests {
		got, err := ParseDefects(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseDefects(%q) error %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseDefects(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseDefects(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestRegisterDefectFlags(t *testing.T) {
	t.Parallel()
	var m map[string]float64
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	RegisterDefectFlags(fs, &m)
	if err := fs.Parse([]string{"--defect", "placeholder=0.05,chatter=0.05", "--defect", "chatter=0.2,short=1"}); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"placeholder": 0.05, "chatter": 0.2, "short": 1}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("flags (-want +got):\n%s", diff)
	}
	if got := fs.Lookup("defect").Value.String(); got != "chatter=0.2,placeholder=0.05,short=1" {
		t.Errorf("String() = %q", got)
	}
	if err := fs.Parse([]string{"--defect", "bogus=1"}); err == nil {
		t.Error("unknown defect accepted")
	}
}
