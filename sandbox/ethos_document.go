package sandbox

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
)

// docSpec is what a document is written from: the idea as far as the
// prompt gives it, filled in from the theme where it does not.
type docSpec struct {
	docType     string
	words       int
	theme       theme
	sc          scenario
	role        string
	first, last string
	ask         string
	v           vars
}

var quotedQuestionRE = regexp.MustCompile(`"([^"]{8,300}[?.])"`)

func readDocSpec(p Prompt, r *rand.Rand) docSpec {
	text := promptText(p)
	user := lastUser(p)
	s := docSpec{words: 1000}
	if t, ok := label(text, "Document type"); ok {
		t = strings.ToLower(strings.Trim(t, " .`\""))
		for _, dt := range documentTypes {
			if t == dt {
				s.docType = dt
			}
		}
	}
	if s.docType == "" {
		s.docType = pick(r, documentTypes)
	}
	if n, ok := labelInt(text, "Target length"); ok {
		s.words = n
	}
	s.words = min(max(s.words, 150), 6000)
	category, _ := label(text, "Category")
	s.theme = themeFor(category)

	idea := user
	summary, ok := label(user, "Scenario")
	if !ok {
		summary, _ = label(user, "Summary")
	}
	situation, ok := label(user, "Situation")
	if ok {
		idea = summary + "\n" + situation
	}
	s.sc = pick(r, s.theme.scenarios)
	lowIdea := strings.ToLower(idea)
	for _, sc := range s.theme.scenarios {
		if strings.Contains(lowIdea, sc.topic) || strings.Contains(lowIdea, strings.ToLower(thirdPerson(sc.face))) {
			s.sc = sc
			break
		}
	}
	s.role = pick(r, s.sc.roles)
	for _, role := range s.sc.roles {
		if strings.Contains(idea, role) {
			s.role = role
		}
	}
	s.first, s.last = pick(r, firstNames), pick(r, surnames)
	s.first = firstIn(idea, firstNames, s.first)
	s.last = firstIn(idea, surnames, s.last)
	s.ask = pick(r, s.sc.asks)
	if m := quotedQuestionRE.FindStringSubmatch(idea); m != nil {
		s.ask = m[1]
	}
	s.v = slots(r, true)
	s.v["@city"] = firstIn(idea, cities, s.v["@city"])
	s.v["@org"] = firstIn(idea, orgs, s.v["@org"])
	s.v["@topic"] = s.sc.topic
	s.v["@role"] = s.role
	s.v["@friend"] = pick(r, firstNames)
	return s
}

// firstIn returns the earliest of names that text mentions, or def.
func firstIn(text string, names []string, def string) string {
	best, at := def, -1
	for _, n := range names {
		if i := strings.Index(text, n); i >= 0 && (at < 0 || i < at) {
			best, at = n, i
		}
	}
	return best
}

// writeDocument answers ethos-document/v1: a document of the asked type
// and about the asked length, written by the idea's person to the
// assistant and ending with their question.
func writeDocument(p Prompt, r *rand.Rand, d defectSet) contractText {
	spec := readDocSpec(p, r)
	if d[DefectDuplicate] {
		// The same document another request in this category and type gets:
		// drawn from a seed that ignores the idea, with only the writer's
		// name kept, so the copies are near-duplicates.
		h := fnv.New64a()
		fmt.Fprintf(h, "duplicate-document|%s|%s|%d", spec.theme.name, spec.docType, spec.words)
		dr := newRand(h.Sum64(), "answer")
		dspec := readDocSpec(Prompt{System: "Document type: " + spec.docType + "\nTarget length: " + strconv.Itoa(spec.words) + " words"}, dr)
		dspec.theme = spec.theme
		dspec.sc = pick(dr, spec.theme.scenarios)
		dspec.role = pick(dr, dspec.sc.roles)
		dspec.ask = pick(dr, dspec.sc.asks)
		dspec.v["@topic"], dspec.v["@role"] = dspec.sc.topic, dspec.role
		dspec.first, dspec.last = spec.first, spec.last
		spec, r = dspec, dr
	}
	title, body := composeDocument(spec, r)
	if d[DefectPlaceholder] {
		body = insertPlaceholder(body, r)
	}
	text := "<title>" + title + "</title>\n<type>" + spec.docType + "</type>\n<document>\n" + body + "\n</document>"
	if d[DefectOffFormat] {
		switch r.IntN(3) {
		case 0:
			text = title + "\n\n" + body
		case 1:
			text = strings.TrimSuffix(text, "\n</document>")
		default:
			text = strings.Replace(text, "<type>"+spec.docType+"</type>", "<type>note</type>", 1)
		}
	}
	if d[DefectChatter] {
		if r.IntN(2) == 0 {
			text = pick(r, documentPreambles) + "\n\n" + text
		} else {
			text += "\n\n" + pick(r, documentSignoffs)
		}
	}
	if d[DefectTruncate] {
		return contractText{text: cutText(text, r), truncated: true}
	}
	return contractText{text: text}
}

var (
	documentPreambles = []string{"Here is the document you asked for:", "Sure! Here's a realistic document for this scenario:", "Certainly. Below is the document."}
	documentSignoffs  = []string{"Shall I continue with the remaining documents?", "Let me know if you'd like me to adjust the tone or length of this document.", "I hope this works for your dataset! Want another one?"}
	placeholders      = []string{"{company_name}", "{manager_name}", "{date}", "{your_name}", "{project_name}", "{amount}"}
)

// insertPlaceholder adds a sentence with an unfilled template slot at a
// paragraph break in the middle of body.
func insertPlaceholder(body string, r *rand.Rand) string {
	ph := pick(r, placeholders)
	sentence := pick(r, []string{
		"I have copied " + ph + " on this so everyone has the same picture.",
		"The latest figures are in the file " + ph + " shared last week.",
		"For reference, the contact at the other end is " + ph + ".",
	})
	paras := strings.Split(body, "\n\n")
	at := len(paras) / 2
	paras[at] = paras[at] + " " + sentence
	return strings.Join(paras, "\n\n")
}

// Sentences of document bodies, in the writer's voice.
var docSentences = []string{
	"I first ran into trouble with @topic in @month, and it has taken up more of my time every week since.",
	"My colleague @colleague thinks I am overthinking it, but I have seen how these things go when nobody plans ahead.",
	"So far I have spent roughly @amount trying to sort this out, which is more than I can comfortably afford.",
	"I have talked it through with @friend twice, and each time we ended up more confused than when we started.",
	"The main constraint is time: I have about @n hours a week to give this, and not all of them are good hours.",
	"Last @weekday I tried a quick fix, and it seemed to work for a day before everything went back to how it was.",
	"What makes this hard is that the obvious option and the safe option point in different directions.",
	"People at @org have opinions about it too, and they do not all agree with each other.",
	"I keep a running list of what I have tried, and it now has @n entries on it.",
	"Part of me wants to leave it alone for a while and see whether the situation settles on its own.",
	"Another part of me knows that waiting has not helped so far.",
	"I would rather understand the reasoning than be handed a rule I cannot explain to anyone else.",
	"When I describe the problem to friends in @city, they usually suggest something I have already tried.",
	"My best guess is that an assumption I made early on is wrong, but I cannot tell which one.",
	"The people affected by this have been patient, but that patience will not last forever.",
	"I have read several articles about @topic, and most of them assume a situation simpler than mine.",
	"There is a version of this where everything works out, and I would like to find the path to it.",
	"If I am honest, some of my hesitation is about pride rather than about the facts.",
	"I wrote down the pros and cons on a Sunday evening, and the two columns came out almost even.",
	"@colleague offered to help, although their schedule is even fuller than mine.",
	"My notes from the last few weeks are messy, but the pattern in them is clear enough.",
	"The numbers have moved in the wrong direction for @n weeks in a row.",
	"I do not need a perfect answer, only one that I can act on and adjust later.",
	"One thing I have learned is that the first explanation that comes to mind is rarely the whole story.",
	"I am happy to do the work; I mostly need help seeing where the work should go.",
	"The deadline I am working to is @deadline, and it is not one I can move.",
	"My manager at @org has been supportive, but they expect a plan rather than a list of worries.",
	"I have a feeling that I am close, which makes it more frustrating rather than less.",
	"What I keep coming back to is how much of this is within my control.",
	"I tried asking on a forum, and the replies disagreed with each other so strongly that I gave up.",
	"I know a little about @topic, enough to be dangerous and not enough to be confident.",
	"A friend who went through something similar in @city said the key was to slow down.",
	"Looking back over @month, the weeks that went well were the ones where I had a clear plan.",
	"I have kept the receipts, notes and messages, so I can check any detail you need.",
	"My first instinct was to fix everything at once, and I think that instinct made things worse.",
	"There are @n people I would need to bring along with whatever I decide.",
	"It would help to know which parts of this matter and which I can safely ignore.",
	"I did a rough estimate, and the cost of doing nothing comes to around @amount over a year.",
	"I want to handle this in a way I will still feel good about a year from now.",
	"The part that worries me most is the part I have not been able to measure.",
	"As @role, I am used to solving problems, but this one does not fit the usual shapes.",
	"I spoke to someone at @org on @weekday, and they were friendly but could not tell me much.",
	"I have a few hypotheses and no good way yet to tell them apart.",
	"The situation is not an emergency, but it is the kind of thing that becomes one if ignored.",
	"Everyone I ask seems to have a strong view and very little detail behind it.",
}

// docFindings are short list items for reports, notes and proposals.
var docFindings = []string{
	"The problem shows up on @n of the last fourteen days.",
	"Costs so far: about @amount.",
	"@colleague has offered two days of help @deadline.",
	"Nothing changed after the fix I tried on @weekday.",
	"Two options are still open; neither is clearly better.",
	"The people involved want an update @deadline.",
	"The earliest records go back to @month.",
	"A contact at @org is willing to share what they did.",
	"The budget left is smaller than expected.",
	"My own notes cover @n weeks in detail.",
}

// composeDocument writes the title and body of spec's document.
func composeDocument(s docSpec, r *rand.Rand) (title, body string) {
	v := s.v
	name := s.first + " " + s.last
	topic := s.sc.topic
	day := strconv.Itoa(1+r.IntN(28)) + " " + pick(r, months)
	order := r.Perm(len(docSentences))
	next := 0
	para := func(k int) string {
		var b strings.Builder
		b.Grow(k * 120) // docSentences filled run to about a hundred bytes
		for i := 0; i < k; i++ {
			if next == len(order) {
				order, next = r.Perm(len(docSentences)), 0
			}
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(v.fill(docSentences[order[next]]))
			next++
		}
		return b.String()
	}
	list := func(k int, numbered bool) string {
		items := r.Perm(len(docFindings))[:min(k, len(docFindings))]
		lines := make([]string, len(items))
		for i, it := range items {
			mark := "- "
			if numbered {
				mark = strconv.Itoa(i+1) + ". "
			}
			lines[i] = mark + v.fill(docFindings[it])
		}
		return strings.Join(lines, "\n")
	}
	intro := fmt.Sprintf("I'm %s, %s in %s. %s.", s.first, s.role, v["@city"], capitalize(s.sc.face))
	ask := s.ask
	if !strings.HasSuffix(ask, "?") {
		ask += " Can you help me with that?"
	}
	closing := pick(r, []string{"So here is my question for you: ", "What I would like from you is this. ", "Which brings me to what I need from you. ", "My question, then: "}) + ask

	// sections fills the sections with paragraphs until the body reaches
	// the target length; every section gets at least one paragraph.
	sections := func(heads []string, fixed int) []string {
		budget := s.words - fixed - wordCount(intro) - wordCount(closing)
		out := make([]string, len(heads))
		words := 0
		for i := range heads {
			out[i] = para(2 + r.IntN(3))
			words += wordCount(out[i])
		}
		for i := 0; words < budget; i = (i + 1) % len(heads) {
			p := para(2 + r.IntN(3))
			out[i] += "\n\n" + p
			words += wordCount(p)
		}
		return out
	}
	var b strings.Builder
	b.Grow(s.words*7 + 512) // about six bytes a word, and the headers
	switch s.docType {
	case "memo":
		title = "Memo: " + topic
		fmt.Fprintf(&b, "MEMO\nTo: Assistant\nFrom: %s, %s\nDate: %s\nRe: %s\n\n%s\n\n", name, s.role, day, capitalize(topic), intro)
		heads := []string{"Background", "Where things stand", "Options I am weighing"}
		for i, sec := range sections(heads, 20) {
			fmt.Fprintf(&b, "%s\n\n%s\n\n", heads[i], sec)
		}
		b.WriteString(closing)
	case "email":
		title = "Email about " + topic
		fmt.Fprintf(&b, "From: %s <%s.%s@example.com>\nTo: assistant@example.com\nSubject: Need a second opinion on %s\nDate: %s %s\n\nHi,\n\n%s\n\n", name,
			strings.ToLower(s.first), strings.ToLower(s.last), topic, pick(r, weekdays), day, intro)
		for _, sec := range sections([]string{"", ""}, 25) {
			b.WriteString(sec + "\n\n")
		}
		fmt.Fprintf(&b, "Thanks for reading this far.\n\nBest,\n%s\n\nP.S. %s", s.first, closing)
	case "report":
		title = "Report on " + topic
		fmt.Fprintf(&b, "%s\nPrepared by %s (%s), %s\n\n1. Summary\n\n%s\n\n", capitalize(title), name, s.role, day, intro)
		heads := []string{"2. Background", "3. Findings", "4. Options", "5. Risks"}
		secs := sections(heads, 60)
		for i, sec := range secs {
			fmt.Fprintf(&b, "%s\n\n%s\n\n", heads[i], sec)
			if i == 1 {
				b.WriteString(list(4, false) + "\n\n")
			}
		}
		b.WriteString("6. Request\n\n" + closing)
	case "proposal":
		title = "Proposal: a plan for " + topic
		fmt.Fprintf(&b, "%s\nSubmitted by %s, %s\n%s\n\nOverview\n\n%s\n\n", capitalize(title), name, s.role, day, intro)
		heads := []string{"Goals", "Approach", "Budget and timeline", "Risks"}
		for i, sec := range sections(heads, 60) {
			fmt.Fprintf(&b, "%s\n\n%s\n\n", heads[i], sec)
			if i == 1 {
				b.WriteString(list(3, true) + "\n\n")
			}
		}
		b.WriteString("Feedback wanted\n\n" + closing)
	case "chat log":
		title = "Chat with " + strings.Fields(v["@colleague"])[0] + " about " + topic
		other := strings.Fields(v["@colleague"])[0]
		fmt.Fprintf(&b, "Here is a chat I had with %s about %s, copied as it was.\n\n", other, topic)
		h, m := 8+r.IntN(10), r.IntN(60)
		words := 0
		for turn := 0; words < s.words-wordCount(closing)-40; turn++ {
			who := s.first
			if turn%2 == 1 {
				who = other
			}
			line := para(1 + r.IntN(2))
			fmt.Fprintf(&b, "[%02d:%02d] %s: %s\n", h, m, who, line)
			words += wordCount(line) + 2
			m += 1 + r.IntN(6)
			if m >= 60 {
				h, m = (h+1)%24, m-60
			}
		}
		fmt.Fprintf(&b, "\n%s\n\n%s", intro, closing)
	case "meeting notes":
		title = "Meeting notes: " + topic
		fmt.Fprintf(&b, "Meeting notes: %s\nDate: %s\nAttendees: %s, %s, %s\nNotes taken by: %s\n\nAgenda\n%s\n\n", topic, day, name, v["@colleague"], v["@friend"], s.first,
			"- Status of "+topic+"\n- Options\n- Next steps")
		heads := []string{"Discussion", "Decisions so far", "Open points"}
		for i, sec := range sections(heads, 70) {
			fmt.Fprintf(&b, "%s\n\n%s\n\n", heads[i], sec)
		}
		fmt.Fprintf(&b, "Action items\n%s\n\nNote for the assistant: %s\n\n%s", list(3, false), intro, closing)
	case "letter":
		title = "Letter about " + topic
		fmt.Fprintf(&b, "%s, %s\n\nDear Assistant,\n\n%s\n\n", v["@city"], day, intro)
		for _, sec := range sections([]string{"", "", ""}, 20) {
			b.WriteString(sec + "\n\n")
		}
		fmt.Fprintf(&b, "With thanks,\n%s\n\nP.S. %s", name, closing)
	default: // forum post
		title = capitalize(topic) + ": looking for advice"
		fmt.Fprintf(&b, "%s\nPosted by %s_%s%d in Community Help\n\n%s\n\n", title, strings.ToLower(s.first), strings.ToLower(s.last[:1]), 10+r.IntN(89), intro)
		for _, sec := range sections([]string{"", ""}, 20) {
			b.WriteString(sec + "\n\n")
		}
		fmt.Fprintf(&b, "Edit: some people asked what I actually want to know. %s", closing)
	}
	return title, b.String()
}
