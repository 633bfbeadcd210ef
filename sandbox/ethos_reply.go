package sandbox

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"regexp"
	"strings"
)

// Replies (ethos-response/v1) show the character's traits through
// transparent lexical markers, and reviews (ethos-review/v1) score each
// trait by counting the same markers, so that a marker-poor reply scores
// low and evaluations can measure a persona's strength from text alone.
// Every marker sentence carries exactly one marker; the neutral sentences
// around them carry none.

// markerFamily is the markers of one kind of trait.
type markerFamily struct {
	name string
	// keys match a trait name to the family (substrings, lower case).
	keys []string
	// phrases are counted in a reply (lower case); nil for the families
	// counted by shape (questions, numbered points) or by trait name.
	phrases []string
	// sentences each carry one marker; @topic and @trait are filled in.
	sentences []string
	// what names the markers in a review's reason, singular and plural.
	what [2]string
}

const (
	familyQuestions = "inquisitive"
	familyNumbered  = "thorough"
	familyGeneric   = "generic"
)

// markerSlots is how many marker sentences a trait can get in one reply:
// at strength 1 every slot is filled and the review scores 5.
const markerSlots = 4

var markerFamilies = []markerFamily{
	{name: "collaborative", keys: []string{"collab", "partner", "cooperat", "team"},
		phrases: []string{"let's", "together", "we could", "we can"}, what: [2]string{"shared-work phrase", "shared-work phrases"},
		sentences: []string{
			"Let's start with what you already know about @topic and build from there.",
			"One way we could approach this is to separate what has to be decided now from what can wait.",
			"If it helps, we can walk through the first step right now, one piece at a time.",
			"Working through the options together usually shows which constraint really matters.",
			"Let's keep the first step small enough that you can try it this week.",
		}},
	{name: familyQuestions, keys: []string{"inquisit", "curious", "curiosity", "question"}, what: [2]string{"question to the person", "questions to the person"},
		sentences: []string{
			"What matters most to you about @topic?",
			"What have you already ruled out, and why?",
			"How would you know, a month from now, that this had gone well?",
			"Who else has a stake in how this turns out?",
			"Which part of this feels most uncertain to you right now?",
		}},
	{name: "cautious", keys: []string{"caut", "ethic", "careful", "honest", "humble", "nuanc", "balanced"},
		phrases: []string{"on the other hand", "i'm not certain", "it depends", "i might be wrong", "to be fair"}, what: [2]string{"hedge or other perspective", "hedges and other perspectives"},
		sentences: []string{
			"On the other hand, there is a real case for the more careful option, and it deserves a fair hearing.",
			"I'm not certain which way this should go without knowing more, and I would rather say so than guess.",
			"It depends partly on details that only you can see from where you are.",
			"I might be wrong about how this works in your setting, so check it against your own experience.",
			"To be fair to the other view, people who disagree here usually have good reasons.",
		}},
	{name: "encouraging", keys: []string{"encourag", "warm", "support", "kind", "empath", "friendly"},
		phrases: []string{"great question", "right track", "good instinct", "well done", "completely fine"}, what: [2]string{"word of encouragement", "words of encouragement"},
		sentences: []string{
			"This is a great question to be asking at this stage.",
			"You're on the right track in writing all of this down before acting.",
			"Wanting to pause before you commit is a good instinct.",
			"Laying the situation out this clearly is already half the work, so well done.",
			"It's completely fine not to have this figured out yet.",
		}},
	{name: familyNumbered, keys: []string{"thorough", "detail", "rigor", "rigour", "comprehens", "systematic"}, what: [2]string{"numbered point", "numbered points"},
		sentences: []string{
			"**Clarify the goal.** Write down in one sentence what a good outcome for @topic looks like.",
			"**Map the constraints.** List the time, money and people involved, and mark which of them are fixed.",
			"**Lay out the options.** Put at least three side by side, including the option of changing nothing.",
			"**Test the smallest step.** Pick one action that is cheap to try and easy to undo.",
			"**Review and adjust.** Set a date to look at what happened and decide the next move.",
		}},
}

// genericSentences show a trait no family knows by naming it.
var genericSentences = []string{
	"Being @trait about this means starting from what you have actually seen.",
	"A @trait way to read the situation points to the first practical step.",
	"In a @trait spirit, here is the part that matters most.",
	"Staying @trait here means not skipping the details that make your case different.",
	"The @trait choice is usually the one you can explain to the people involved.",
}

// neutralSentences fill a reply around the markers and carry none of them.
var neutralSentences = []string{
	"From what you describe, the situation around @topic has several moving parts.",
	"The most useful first move is usually the one that gives you information quickly.",
	"It helps to separate the facts you know from the assumptions you have been working with.",
	"A short written plan, even a rough one, makes the next conversation with others easier.",
	"Small, reversible steps are worth more here than one large decision.",
	"The constraints you mention are real, and any plan has to fit inside them.",
	"Timing matters: some choices get harder the longer they wait, others get easier.",
	"Keeping notes as you go will make it much easier to see what changed and why.",
	"The people affected will usually accept a decision more readily when they understand the reasons for it.",
	"There is rarely a perfect option in situations like this, only better and worse trade-offs.",
	"Your own experience with @topic is evidence too, and it deserves weight.",
	"A clear picture of the cost of doing nothing often makes the choice easier.",
	"Most of the risk sits in the first few weeks, so that is where attention pays off.",
	"Expert advice is worth getting for the parts that are technical or legal.",
	"Progress here is likely to be gradual rather than sudden.",
	"Writing the decision down in one paragraph is a good test of whether it is clear yet.",
}

// familyOf finds the marker family of a trait name.
func familyOf(trait string) markerFamily {
	t := strings.ToLower(trait)
	for _, f := range markerFamilies {
		for _, k := range f.keys {
			if strings.Contains(t, k) {
				return f
			}
		}
	}
	return markerFamily{name: familyGeneric, sentences: genericSentences, what: [2]string{"mention of the trait", "mentions of the trait"}}
}

var numberedLineRE = regexp.MustCompile(`(?m)^\s*\d+\.\s`)

// countMarkers counts trait's markers in reply.
func countMarkers(reply, trait string) int {
	f := familyOf(trait)
	low := strings.ToLower(reply)
	switch f.name {
	case familyQuestions:
		return strings.Count(reply, "?")
	case familyNumbered:
		return len(numberedLineRE.FindAllStringIndex(reply, -1))
	case familyGeneric:
		name := strings.ToLower(strings.TrimSpace(trait))
		if name == "" {
			return 0
		}
		return len(regexp.MustCompile(`\b`+regexp.QuoteMeta(name)+`\b`).FindAllStringIndex(low, -1))
	}
	n := 0
	for _, p := range f.phrases {
		n += strings.Count(low, p)
	}
	return n
}

// markerScore maps a marker count to a 1–5 score.
func markerScore(count int) int { return min(count, 4) + 1 }

// defaultTraits are used when a prompt names no traits.
var defaultTraits = []string{"collaborative", "inquisitive", "cautious", "encouraging", "thorough"}

// topicOf finds what a document is about: the first scenario topic, in
// the order of the banks, that it mentions.
func topicOf(doc string) string {
	if i := topics.first(doc); i >= 0 {
		return topics.list[i]
	}
	return "what you have described"
}

// topics are the scenario topics in the order of the banks, indexed for
// finding in one pass over a document which of them it holds (a search
// per topic read a reply's whole prompt 127 times).
var topics = newTopicIndex()

// topicIndex finds the first of a list of phrases, all at least
// topicPrefix bytes long, that a text holds.
type topicIndex struct {
	list []string
	// byPrefix lists, by their first topicPrefix bytes, the phrases that
	// start so; lead marks the first two bytes of any phrase, a cheap
	// test at each position of the text before the map.
	byPrefix map[string][]int
	lead     [1 << 16]bool
}

const topicPrefix = 8

func newTopicIndex() *topicIndex {
	x := &topicIndex{byPrefix: map[string][]int{}}
	for _, th := range append(themes, generalTheme) {
		for _, sc := range th.scenarios {
			if len(sc.topic) < topicPrefix {
				panic("sandbox: topic shorter than the index's prefix: " + sc.topic)
			}
			i := len(x.list)
			x.list = append(x.list, sc.topic)
			p := sc.topic[:topicPrefix]
			x.byPrefix[p] = append(x.byPrefix[p], i)
			x.lead[uint16(p[0])<<8|uint16(p[1])] = true
		}
	}
	return x
}

// first is the index in list of the first phrase that text holds, or -1.
func (x *topicIndex) first(text string) int {
	best := len(x.list)
	for i := 0; i+topicPrefix <= len(text) && best > 0; i++ {
		if !x.lead[uint16(text[i])<<8|uint16(text[i+1])] {
			continue
		}
		for _, t := range x.byPrefix[text[i:i+topicPrefix]] {
			if t < best && strings.HasPrefix(text[i:], x.list[t]) {
				best = t
			}
		}
	}
	if best == len(x.list) {
		return -1
	}
	return best
}

// writeReply answers ethos-response/v1 in the persona's voice.
func writeReply(p Prompt, r *rand.Rand, d defectSet, persona Persona) contractText {
	traits := traitsOf(p.System)
	if len(traits) == 0 {
		traits = defaultTraits
	}
	topic := topicOf(lastUser(p))
	if d[DefectDuplicate] {
		// The reply another document gets: drawn from the traits alone.
		h := fnv.New64a()
		fmt.Fprintf(h, "duplicate-reply|%s", strings.Join(traits, "|"))
		r = newRand(h.Sum64(), "answer")
		topic = pick(r, pick(r, themes).scenarios).topic
	}
	fill := func(s, trait string) string { return fillSlots(s, topic, strings.ToLower(trait)) }

	// Decide each trait's marker sentences.
	var opening, middle, points, questions []string
	for _, trait := range traits {
		f := familyOf(trait)
		s := persona.Strength(trait)
		order := r.Perm(len(f.sentences))
		for slot := 0; slot < markerSlots; slot++ {
			if r.Float64() >= s {
				continue
			}
			sent := fill(f.sentences[order[slot%len(order)]], trait)
			switch f.name {
			case familyQuestions:
				questions = append(questions, sent)
			case familyNumbered:
				points = append(points, sent)
			case "encouraging":
				opening = append(opening, sent)
			default:
				middle = append(middle, sent)
			}
		}
	}

	neutral := r.Perm(len(neutralSentences))
	next := 0
	plain := func(k int) []string {
		var out []string
		for ; k > 0 && next < len(neutral); k-- {
			out = append(out, fill(neutralSentences[neutral[next]], ""))
			next++
		}
		return out
	}
	var paras []string
	first := append(opening, plain(2)...)
	paras = append(paras, strings.Join(first, " "))
	// Spread the middle markers over two paragraphs of neutral prose.
	half := len(middle) / 2
	paras = append(paras, strings.Join(interleave(plain(2+r.IntN(2)), middle[:half], r), " "))
	if len(points) > 0 {
		lines := make([]string, len(points))
		for i, pt := range points {
			lines[i] = fmt.Sprintf("%d. %s", i+1, pt)
		}
		paras = append(paras, "Broken into steps, it looks like this:\n\n"+strings.Join(lines, "\n"))
	}
	paras = append(paras, strings.Join(interleave(plain(2+r.IntN(2)), middle[half:], r), " "))
	if len(questions) > 0 {
		paras = append(paras, strings.Join(append(plain(1), questions...), " "))
	}
	text := strings.Join(paras, "\n\n")
	for wordCount(text) < 170 && next < len(neutral) {
		text += " " + strings.Join(plain(1), " ")
	}

	if d[DefectPersona] {
		breakLine := pick(r, []string{
			"As an AI language model, I don't have personal experience of " + topic + ", but I can offer some general thoughts.",
			"As a large language model, I cannot make this decision for you or know your full situation.",
			"I'm just an AI language model, so please treat this as general information.",
		})
		if r.IntN(2) == 0 {
			text = breakLine + " " + text
		} else {
			ps := strings.Split(text, "\n\n")
			at := len(ps) / 2
			ps[at] = breakLine + " " + ps[at]
			text = strings.Join(ps, "\n\n")
		}
	}
	if d[DefectChatter] {
		if r.IntN(2) == 0 {
			text = pick(r, []string{"Here is my response:", "Sure! Here's a reply in the character's voice:", "Here's how the assistant might respond:"}) + "\n\n" + text
		} else {
			text += "\n\n" + pick(r, []string{"I hope this response captures the character well. Shall I write another one?", "Let me know if you'd like me to revise this reply.", "Shall I continue with the remaining documents?"})
		}
	}
	if d[DefectTruncate] {
		return contractText{text: cutText(text, r), truncated: true}
	}
	return contractText{text: text}
}

// interleave places marks among base at random positions, keeping the
// order of each.
func interleave(base, marks []string, r *rand.Rand) []string {
	out := make([]string, 0, len(base)+len(marks))
	i, j := 0, 0
	for i < len(base) || j < len(marks) {
		if j < len(marks) && (i == len(base) || r.IntN(2) == 0) {
			out = append(out, marks[j])
			j++
		} else {
			out = append(out, base[i])
			i++
		}
	}
	return out
}

var replyTagRE = regexp.MustCompile(`(?s)<(reply|response|assistant_reply)>(.*?)</(reply|response|assistant_reply)>`)

// replyOf finds the reply under review: inside <reply>/<response> tags, or
// after a "Reply:" or "Response:" heading line up to the contract line.
func replyOf(text string) string {
	if m := replyTagRE.FindAllStringSubmatch(text, -1); m != nil {
		return m[len(m)-1][2]
	}
	lines := strings.Split(text, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		h := strings.ToLower(strings.Trim(strings.TrimSpace(lines[i]), "#*= "))
		for _, name := range []string{"reply", "response", "the reply", "the response", "assistant reply", "assistant's reply"} {
			if h == name+":" || h == name || strings.HasPrefix(h, name+" to ") && strings.HasSuffix(h, ":") {
				var out []string
				for _, l := range lines[i+1:] {
					if contractRE.MatchString(l) {
						break
					}
					out = append(out, l)
				}
				return strings.Join(out, "\n")
			}
		}
	}
	return text
}

// writeReview answers ethos-review/v1: a 1–5 score per trait counted from
// the trait's markers in the reply under review.
func writeReview(p Prompt, r *rand.Rand, d defectSet) contractText {
	text := promptText(p)
	traits := traitsOf(text)
	if len(traits) == 0 {
		traits = defaultTraits
	}
	reply := replyOf(lastUser(p))
	type entry struct {
		trait  string
		score  int
		reason string
	}
	entries := make([]entry, len(traits))
	for i, t := range traits {
		n := countMarkers(reply, t)
		f := familyOf(t)
		what := f.what[1]
		if n == 1 {
			what = f.what[0]
		}
		reason := fmt.Sprintf("The reply has %d %s, so the trait is %s.", n, what, []string{"absent", "barely present", "present", "clearly present", "strongly present"}[markerScore(n)-1])
		entries[i] = entry{t, markerScore(n), reason}
	}
	if d[DefectOffFormat] {
		switch r.IntN(3) {
		case 0:
			var b strings.Builder
			b.WriteString("Overall this is a solid reply. ")
			for _, e := range entries {
				fmt.Fprintf(&b, "It rates %d/5 for %s. ", e.score, e.trait)
			}
			return contractText{text: strings.TrimSpace(b.String())}
		case 1:
			entries = entries[:len(entries)-1]
		default:
			entries[r.IntN(len(entries))].score = 0
		}
	}
	var b strings.Builder
	b.WriteString("{\"scores\": {")
	for i, e := range entries {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "\n  %s: {\"score\": %d, \"reason\": %s}", jsonString(e.trait), e.score, jsonString(e.reason))
	}
	b.WriteString("\n}}")
	return contractText{text: b.String()}
}

// jsonString is s as a JSON string, with &, < and > left as they are.
func jsonString(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic("sandbox: encode string: " + err.Error())
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// fillSlots replaces every "@topic" in s with topic and every "@trait"
// with trait, in one pass as strings.NewReplacer would, without building
// a replacer for each sentence of each reply.
func fillSlots(s, topic, trait string) string {
	i := strings.IndexByte(s, '@')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + len(topic) + len(trait))
	for ; i >= 0; i = strings.IndexByte(s, '@') {
		b.WriteString(s[:i])
		s = s[i:]
		switch {
		case strings.HasPrefix(s, "@topic"):
			b.WriteString(topic)
			s = s[len("@topic"):]
		case strings.HasPrefix(s, "@trait"):
			b.WriteString(trait)
			s = s[len("@trait"):]
		default:
			b.WriteByte('@')
			s = s[1:]
		}
	}
	b.WriteString(s)
	return b.String()
}
