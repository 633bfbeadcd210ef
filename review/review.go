// Package review holds the deterministic review rules a document or a
// reply must pass before it becomes training data: length, truncation,
// refusals, error text, unfilled placeholders, meta-chatter, persona
// breaks, system-prompt leaks and, for documents, a closing request. The
// rules are pure (no calls, no storage, no clocks) and import only the
// standard library and the domain package; generate reviews every text it
// writes with them, and dataset runs them over files from elsewhere.
package review

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/prompttext"
)

// Review rule names, the values of Finding.Rule.
const (
	RuleEmpty            = "empty"
	RuleTooShort         = "too_short"
	RuleTooLong          = "too_long"
	RuleTruncated        = "truncated"
	RuleRefusal          = "refusal"
	RuleErrorText        = "error_text"
	RulePlaceholder      = "placeholder"
	RuleChatter          = "chatter"
	RulePersonaBreak     = "persona_break"
	RuleSystemPromptLeak = "system_prompt_leak"
	RuleNoRequest        = "no_request"
)

// LeakShingle is how many consecutive words of the system prompt appearing
// in a text count as a leak. Shorter runs occur by chance in ordinary prose
// ("when it is hard", "in proportion to the question").
const LeakShingle = 12

// Rules are the deterministic checks a document or reply must pass before
// it becomes training data. Zero limits are not checked.
type Rules struct {
	MinWords, MaxWords int
	// MaxTokens is the output limit of the call that produced the text; an
	// answer that reaches it is treated as cut off.
	MaxTokens int
	// SystemPrompt is the character's system prompt; a run of LeakShingle
	// of its words in a text is a leak.
	SystemPrompt string
	// CharacterName is the persona's own name, which it may use of itself
	// ("I'm Agora") without that being a persona break.
	CharacterName string
}

// Finding is one reason a text is rejected.
type Finding struct {
	Rule   string `json:"rule"`
	Detail string `json:"detail"`
}

func (f Finding) String() string { return f.Rule + ": " + f.Detail }

// Document reviews a written document. stop is why its call ended.
func (r Rules) Document(d ethos.Document, stop ethos.StopReason) []Finding {
	body := strings.TrimSpace(d.Body)
	if body == "" {
		return []Finding{{RuleEmpty, "the document is empty"}}
	}
	var fs findings
	var low, title foldedText
	low.fold(body)
	title.fold(d.Title)
	r.common(&fs, body, &low, stop, ethos.EstimateTokens(d.Body))
	fs.add(RulePlaceholder, placeholder(d.Title, &title))
	fs.add(RuleChatter, chatterStart(body, documentChatterStart))
	fs.add(RuleChatter, chatterEnd(body, &low, documentChatterEnd))
	fs.add(RulePersonaBreak, selfReference(body, &low))
	fs.add(RuleNoRequest, noRequest(body))
	return fs.list()
}

// Reply reviews a reply in character. stop is why its call ended and
// outTokens the output tokens the provider counted (0 if unknown, in which
// case the length is estimated).
func (r Rules) Reply(reply string, stop ethos.StopReason, outTokens int) []Finding {
	text := strings.TrimSpace(reply)
	if text == "" {
		return []Finding{{RuleEmpty, "the reply is empty"}}
	}
	if outTokens <= 0 {
		outTokens = ethos.EstimateTokens(reply)
	}
	var fs findings
	var low foldedText
	low.fold(text)
	r.common(&fs, text, &low, stop, outTokens)
	fs.add(RuleChatter, chatterStart(text, replyChatterStart))
	fs.add(RuleChatter, chatterEnd(text, &low, replyChatterEnd))
	fs.add(RulePersonaBreak, selfReference(text, &low))
	fs.add(RulePersonaBreak, r.otherIdentity(text, &low))
	return fs.list()
}

// common runs the rules documents and replies share; low is text
// folded.
func (r Rules) common(fs *findings, text string, low *foldedText, stop ethos.StopReason, tokens int) {
	words := prompttext.Words(text)
	if r.MinWords > 0 && words < r.MinWords {
		fs.add(RuleTooShort, fmt.Sprintf("%d words, want at least %d", words, r.MinWords))
	}
	if r.MaxWords > 0 && words > r.MaxWords {
		fs.add(RuleTooLong, fmt.Sprintf("%d words, want at most %d", words, r.MaxWords))
	}
	switch {
	case stop.Cut():
		fs.add(RuleTruncated, "the call stopped at "+string(stop))
	case r.MaxTokens > 0 && tokens >= r.MaxTokens:
		fs.add(RuleTruncated, fmt.Sprintf("%d output tokens reach the limit of %d", tokens, r.MaxTokens))
	}
	if stop == ethos.StopRefusal {
		fs.add(RuleRefusal, "the call stopped with a refusal")
	} else {
		fs.add(RuleRefusal, refusal(text, low, words))
	}
	fs.add(RuleErrorText, errorText(text, low, words))
	fs.add(RulePlaceholder, placeholder(text, low))
	fs.add(RuleSystemPromptLeak, leak(text, r.SystemPrompt))
}

// findings collects at most one finding per rule, in the order the rules
// ran, so the same text always gives the same list.
type findings struct{ fs []Finding }

func (f *findings) add(rule, detail string) {
	if detail == "" {
		return
	}
	for _, x := range f.fs {
		if x.Rule == rule {
			return
		}
	}
	f.fs = append(f.fs, Finding{Rule: rule, Detail: detail})
}

func (f *findings) list() []Finding { return f.fs }

func match(text string, re *regexp.Regexp) string {
	if m := re.FindString(text); m != "" {
		return fmt.Sprintf("%q", strings.TrimSpace(m))
	}
	return ""
}

// --- placeholders ---------------------------------------------------------

// slotWords are the words unfilled template slots are made of. A name in
// square or angle brackets is a slot only if it reads like one, so that
// citations ([1], [sic]), log levels ([INFO]) and markup (<div>) pass.
var slotWords = wordSet(`name names first last full your my their insert enter add fill placeholder
	company organization organisation business employer client customer vendor brand product service
	date time day month year deadline address city state country location street zip postcode
	email phone number title position role job department team manager recipient sender signature
	amount price budget salary figure percentage school university project topic event`)

func wordSet(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

var (
	braceSlot   = regexp.MustCompile(`(\$|%)?\{\{?\s*([A-Za-z][A-Za-z0-9_ .-]{0,40}?)\s*\}\}?`)
	squareSlot  = regexp.MustCompile(`\[([A-Za-z][A-Za-z0-9_ ./'-]{0,40})\](\()?`)
	angleSlot   = regexp.MustCompile(`<([A-Za-z][A-Za-z0-9_ ./'-]{0,40})>`)
	loremIpsum  = regexp.MustCompile(`(?i)\blorem ipsum\b`)
	codeFence   = regexp.MustCompile("(?s)```.*?(```|$)")
	inlineCode  = regexp.MustCompile("`[^`\n]*`")
	slotOpeners = wordSet(`your insert enter add fill placeholder`)
	// codeShape is a line written as code rather than prose: a JSON member
	// ("key": …), an assignment, a call with quoted arguments, a block
	// opened at the end of the line, a shell or REPL prompt, or a keyword
	// that starts a statement (in lower case, as prose lines do not start).
	codeShape = regexp.MustCompile(`^\s*"[^"]*"\s*:|^\s*[A-Za-z_][\w.\[\]"']*\s*(?::=|\+=|-=|=)\s*\S|\b[A-Za-z_][\w.]*\([^()]*["'][^()]*\)|\{\s*$|^\s*(?:\$|>>>|#!)\s|^\s*(?:def|func|function|return|import|from|const|let|var|echo|printf|print|console\.log|SELECT|INSERT|UPDATE)\b`)
)

// Prose is text without its code: fenced blocks, inline code spans and
// lines that read as code or JSON, where braces and brackets are
// legitimate. Lines are kept in place, emptied, so the text keeps its
// shape.
//
// A regexp's ReplaceAllString copies the text even where nothing matches,
// so each step runs only on text that holds what it removes, and text
// without code comes back as it is.
func Prose(text string) string {
	if strings.Contains(text, "```") {
		text = codeFence.ReplaceAllString(text, "")
	}
	text = withoutCodeLines(text)
	if strings.IndexByte(text, '`') >= 0 {
		text = inlineCode.ReplaceAllString(text, "")
	}
	return text
}

// withoutCodeLines is text with each line isCodeLine takes for code
// emptied, its newline kept.
func withoutCodeLines(text string) string {
	var b strings.Builder
	kept, changed := 0, false // text[kept:] is still to be copied
	for start := 0; start <= len(text); {
		end := strings.IndexByte(text[start:], '\n')
		if end < 0 {
			end = len(text)
		} else {
			end += start
		}
		if isCodeLine(text[start:end]) {
			b.WriteString(text[kept:start])
			kept, changed = end, true
		}
		start = end + 1
	}
	if !changed {
		return text
	}
	b.WriteString(text[kept:])
	return b.String()
}

// isCodeLine says whether a line parses as JSON or has the shape of code.
func isCodeLine(line string) bool {
	t := strings.TrimSuffix(strings.TrimSpace(line), ",")
	if (strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")) && json.Valid([]byte(t)) {
		return true
	}
	return mayBeCode(line) && codeShape.MatchString(line)
}

// mayBeCode is a cheap test in front of codeShape: every alternative of
// the pattern needs one of these characters, starts with one of its
// prompts or keywords, or is a call with a quoted argument, and most
// lines of prose have none of these. FuzzCodeShapeGate checks that it
// never hides a match.
func mayBeCode(line string) bool {
	if strings.ContainsAny(line, codeShapeChars) {
		return true
	}
	start := strings.TrimLeft(line, " \t\n\f\r")
	for _, k := range codeKeywords {
		if strings.HasPrefix(start, k) {
			return true
		}
	}
	return strings.IndexByte(line, '\'') >= 0 && hasCallParen(line)
}

// hasCallParen reports whether line has a parenthesis right after a
// name, as a call has (print('hi')); prose puts a space before one.
func hasCallParen(line string) bool {
	for i := 1; i < len(line); i++ {
		if line[i] == '(' && (isWordByte(line[i-1]) || line[i-1] == '.') {
			return true
		}
	}
	return false
}

// codeShapeChars are the characters codeShape's alternatives need, but
// for its prompts and calls: the quote of a JSON member, the equals sign
// of an assignment, the brace that opens a block.
const codeShapeChars = `"={`

// codeKeywords are the prompts and the words codeShape takes for a
// statement's start.
var codeKeywords = []string{"$", ">>>", "#!", "def", "func", "function", "return", "import", "from", "const", "let", "var",
	"echo", "printf", "print", "console.log", "SELECT", "INSERT", "UPDATE"}

// placeholder names the first unfilled slot in text, or "".
func placeholder(text string, low *foldedText) string {
	// Every slot has a bracket and filler text says lorem; text with
	// neither (most text) needs no closer look, and finding its code
	// lines is the costly part of the review.
	if !strings.ContainsAny(text, "{[<") && !low.has(loremGate) {
		return ""
	}
	prose := Prose(text)
	// braceSlot has no literal to skip to, so it runs only on prose with
	// a brace.
	for _, m := range bracesIn(prose) {
		if slot := prose[m[0]:m[1]]; braceSlotIn(prose[:m[0]], slot, prose[m[4]:m[5]]) {
			return fmt.Sprintf("unfilled slot %q", slot)
		}
	}
	for _, m := range squareSlot.FindAllStringSubmatch(prose, -1) {
		if m[2] == "" && isSlot(m[1]) {
			return fmt.Sprintf("unfilled slot %q", m[0])
		}
	}
	for _, m := range angleSlot.FindAllStringSubmatch(prose, -1) {
		if isSlot(m[1]) && !isTagLike(m[1]) {
			return fmt.Sprintf("unfilled slot %q", m[0])
		}
	}
	if hasLorem(prose) {
		if m := loremIpsum.FindString(prose); m != "" {
			return fmt.Sprintf("filler text %q", m)
		}
	}
	return ""
}

func bracesIn(prose string) [][]int {
	if strings.IndexByte(prose, '{') < 0 {
		return nil
	}
	return braceSlot.FindAllStringSubmatchIndex(prose, -1)
}

// hasLorem reports whether s holds "lorem" in any case, as every match of
// loremIpsum does (none of its letters folds to a rune outside ASCII).
func hasLorem(s string) bool {
	for i := 0; i+len("lorem") <= len(s); i++ {
		if (s[i] == 'l' || s[i] == 'L') && strings.EqualFold(s[i:i+len("lorem")], "lorem") {
			return true
		}
	}
	return false
}

// braceSlotIn says whether slot, a name (inner) in braces found in prose
// after before, is unfilled. In prose, braces around a name ({date},
// {{manager}}, {company_name}) are nothing but a template's slot. The
// exceptions: a one-letter name in single braces ({x}, a variable in
// maths), a LaTeX argument (\textbf{word}), and a shell or template-literal
// variable (${HOME}) unless its name is made of slot words (${amount}).
func braceSlotIn(before, slot, inner string) bool {
	switch {
	case isCommandArg(before):
		return false
	case slot[0] == '$' || slot[0] == '%':
		return hasSlotWord(inner)
	case len(inner) < 2:
		return strings.HasPrefix(slot, "{{")
	}
	return true
}

// isCommandArg says whether a brace that follows before holds an argument,
// as in LaTeX (\textbf{word}, \frac{a}{b}), rather than a slot.
func isCommandArg(before string) bool {
	if strings.HasSuffix(before, "}") {
		return true
	}
	name := strings.TrimRightFunc(before, func(r rune) bool { return r < utf8.RuneSelf && unicode.IsLetter(r) })
	return len(name) < len(before) && strings.HasSuffix(name, "\\")
}

// slotWordsOf appends to buf the lower-case words of a bracket's inside:
// the pieces between runs of white space, underscores, dots, hyphens,
// slashes and apostrophes, with an empty piece where the inside starts
// or ends with one, and one empty piece for an empty inside.
func slotWordsOf(inner string, buf []string) []string {
	s := strings.ToLower(strings.TrimSpace(inner))
	beg := 0
	for i := 0; i < len(s); {
		if !isSlotSep(s[i]) {
			i++
			continue
		}
		buf = append(buf, s[beg:i])
		for i < len(s) && isSlotSep(s[i]) {
			i++
		}
		beg = i
	}
	return append(buf, s[beg:])
}

// isSlotSep is a byte that separates the words of a slot.
func isSlotSep(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\f', '\r', '_', '.', '-', '/', '\'':
		return true
	}
	return false
}

func hasSlotWord(inner string) bool {
	var buf [8]string
	return anySlotWord(slotWordsOf(inner, buf[:0]))
}

func anySlotWord(words []string) bool {
	for _, w := range words {
		if slotWords[w] {
			return true
		}
	}
	return false
}

// isSlot says whether the inside of a square or angle bracket reads like a
// template slot: a phrase opened by "your"/"insert"/… or made of slot
// words and capitalised ([Name], [Company Name], [DATE]). [name] in lower
// case may be an index or a markdown reference and is left alone.
func isSlot(inner string) bool {
	var buf [8]string
	words := slotWordsOf(inner, buf[:0])
	if len(words) == 0 || words[0] == "" {
		return false
	}
	if slotOpeners[words[0]] && len(words) > 1 {
		return true
	}
	if !anySlotWord(words) {
		return false
	}
	upper := strings.ToUpper(inner) == inner
	titled := unicode.IsUpper([]rune(inner)[0])
	return titled || upper
}

// isTagLike keeps single-word markup such as <name> or <Title> from being
// read as a slot; only multi-word or snake_case angle slots count.
func isTagLike(inner string) bool {
	return !strings.ContainsAny(inner, " _") && strings.ToUpper(inner) != inner
}

// --- chatter --------------------------------------------------------------

var (
	// A person may open with "Here's the chat log from our channel:", so
	// for documents a "here is" line counts as chatter only when it talks
	// about the writing task, opens with an assistant's "Sure!", or is a
	// bare "Here is the document:".
	documentChatterStart = regexp.MustCompile(`(?i)^(?:(?:sure|certainly|of course|absolutely|okay|ok)[,!.]?\s+(?:here|below|i've|i have)\b|(?:here is|here's|here are|below is|below are|i've written|i have written|i've drafted|i have drafted|i've created|i have created)\b[^\n]*?\b(?:you asked for|you requested|requested|realistic|sample|example|for (?:this|the) scenario|written (?:by|from|as)|from the perspective|in the voice)\b|(?:here is|here's|below is) (?:the|a|an|your) (?:requested )?(?:document|draft|version)s?\s*:|as requested\b)`)
	replyChatterStart    = regexp.MustCompile(`(?i)^(?:(?:sure|certainly|of course|absolutely|okay|ok)[,!.]?\s+)?(?:(?:here is|here's|below is)\b[^\n]{0,80}?\b(?:response|reply)\b[^\n]*?:|as requested\b|here's how (?:i|\w+) would (?:respond|reply)|(?:sure|certainly)[,!.]?\s+(?:here|below)\b)`)
	documentChatterEnd   = regexp.MustCompile(`(?i)(?:\b(?:shall|should) i (?:continue|go on|proceed|write)\b|\b(?:would you|do you) (?:like|want) me to (?:continue|write|generate|create|produce|draft)\b|\bthe (?:remaining|other|next) \d+ (?:documents|examples|scenarios|ideas|emails|memos)\b|\blet me know if you(?:'d| would) like me to (?:adjust|revise|modify|change|tweak|rewrite|write|generate|create|continue|produce|expand|shorten|make)\b|\bi hope this helps\b|\bi hope this (?:document|memo|email|draft) (?:works|meets|fits)\b|\(?\[?\bend of (?:document|memo|email|report|letter|post|notes|proposal)\b)`)
	replyChatterEnd      = regexp.MustCompile(`(?i)(?:\b(?:shall|should) i continue with\b|\bthe (?:remaining|other|next) \d+ (?:documents|examples|scenarios|responses|replies)\b|\blet me know if you(?:'d| would) like me to (?:adjust|revise|modify|change|tweak|rewrite) (?:the|this|my) (?:response|reply|tone|draft)\b|\bi hope this (?:response|reply) (?:captures|meets|fits|works)\b|\(?\[?\bend of (?:response|reply)\b)`)
)

// chatterStart looks for a model talking about its output in the first
// line of the text.
func chatterStart(text string, re *regexp.Regexp) string {
	first, _, _ := strings.Cut(text, "\n")
	if m := re.FindString(strings.TrimSpace(first)); m != "" {
		return fmt.Sprintf("meta-chatter at the start: %q", prompttext.Snippet(m))
	}
	return ""
}

// chatterEnd looks for the same in the last few hundred characters. low
// is text folded.
func chatterEnd(text string, low *foldedText, re *regexp.Regexp) string {
	end := tail(text, 400)
	// folded(end) ends low, and lowering a rune at most triples its
	// bytes (an invalid byte becomes U+FFFD).
	if !low.hasFrom(chatterEndGate, max(0, len(low.s)-3*len(end))) {
		return ""
	}
	if m := re.FindString(end); m != "" {
		return fmt.Sprintf("meta-chatter at the end: %q", m)
	}
	return ""
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := len(s) - n
	for i < len(s) && s[i]&0xC0 == 0x80 {
		i++
	}
	return s[i:]
}

// --- persona --------------------------------------------------------------

var (
	// modelSelfReference is the writer speaking as a model. A person would
	// not say this of themself, and the character must not say it either.
	modelSelfReference = regexp.MustCompile(`(?i)\b(?:as an? (?:ai )?(?:large )?language model|as an ai (?:model|assistant|system) (?:developed|created|made|trained|built) by|i(?:'m| am) (?:just |only |merely )?(?:an? )?(?:ai )?(?:large )?language model|i(?:'m| am) an ai (?:model|assistant) (?:developed|created|made|trained|built) by|(?:i was|i've been|i have been|i am|i'm) (?:developed|created|made|trained|built) by (?:openai|anthropic|google|meta|mistral)|my (?:training data|knowledge cutoff|training cutoff)\b)`)
	// assistantNames are other assistants' identities the character might
	// slip into.
	otherIdentity = regexp.MustCompile(`(?i)\b(?:i(?:'m| am)|my name is|this is)\s+(claude|chatgpt|gpt-?\d\w*|gemini|bard|llama|copilot)\b|\bi(?:'m| am) an? (?:openai|anthropic|google|meta) (?:model|assistant|ai)\b`)
)

func (r Rules) otherIdentity(text string, low *foldedText) string {
	if !low.has(identityGate) {
		return ""
	}
	for _, m := range otherIdentity.FindAllStringSubmatch(text, -1) {
		if m[1] != "" && strings.EqualFold(m[1], strings.TrimSpace(r.CharacterName)) {
			continue
		}
		return fmt.Sprintf("%q", m[0])
	}
	return ""
}

// --- refusals and error text ---------------------------------------------

var (
	refusalPhrase = regexp.MustCompile(`(?i)\b(?:i(?:'m| am) (?:sorry|afraid),? (?:but )?)?(?:i (?:can't|cannot|can not|won't|will not|am unable to|'m unable to|am not able to|'m not able to) (?:help|assist|comply|provide|fulfil|fulfill|do that|create|write|generate)(?: (?:you )?with)? (?:that|this|your request|the request|with that|with this)\b|i must (?:decline|refuse)\b|i(?:'m| am) not (?:able|going) to (?:help|assist) with (?:that|this)\b)`)
	apology       = regexp.MustCompile(`(?i)^(?:(?:i'm|i am) (?:sorry|afraid)|sorry|i apologi[sz]e|unfortunately)\b[^.!?\n]{0,40}[,.!]?\s*`)
)

// refusal flags a text that is a refusal, not one that declines part of a
// request and helps with the rest, which is what a good character does
// with a harmful ask. A refusal opens the text, or makes up a short one.
// words is prompttext.Words(text).
func refusal(text string, low *foldedText, words int) string {
	if !low.has(refusalGate) {
		return ""
	}
	m := refusalNear.find(text, low)
	if m == nil {
		return ""
	}
	// apology is anchored at the start, so removing its matches removes
	// at most the one there.
	opening := text
	if a := apology.FindStringIndex(text); a != nil {
		opening = text[a[1]:]
	}
	if words < 40 || refusalAtStart.MatchString(opening[:windowEnd(opening, refusalAfter)]) {
		return fmt.Sprintf("refusal %q", text[m[0]:m[1]])
	}
	return ""
}

// refusalAtStart matches where refusalPhrase matches at the start of a
// text. Its matches are at most refusalAfter bytes long, so it reads no
// further.
var refusalAtStart = regexp.MustCompile(`^(?:` + refusalPhrase.String() + `)`)

// refusalNear finds refusalPhrase near refusal words. Every match starts
// with an I that starts a word.
var refusalNear = &nearPattern{re: refusalPhrase, words: refusalGate, before: refusalBefore,
	reach: reachBy(refusalAfter), opens: "iI", anchored: refusalAtStart}

// The bounds refusalNear needs for refusalPhrase, in bytes: a refusal word
// starts at most 22 characters into a match ("i am afraid, but i am not
// able to"), a match is at most 63 characters long, and a character that
// folds to a letter of the pattern takes at most 3 bytes (K, the Kelvin
// sign), so 66 and 189 bytes, with some room.
const refusalBefore, refusalAfter = 80, 200

var (
	// An error message anywhere in the text, in the shapes API wrappers
	// produce: errorAnywhereIn finds the leftmost match of these three.
	errorBrackets = []string{"[ERROR:", "[API ERROR"}
	errorStatus   = regexp.MustCompile(`(?i)\b(?:error code|status code):?\s*(?:429|5\d\d)\b[^\n]{0,40}\b(?:error|exceeded|unavailable)`)
	errorBody     = regexp.MustCompile(`\{"(?:type":\s*"error|error":\s*\{)`)
	errorOpening  = regexp.MustCompile(`(?i)^(?:\[?error\b|api error|rate limit exceeded|traceback \(most recent call last\)|internal server error|service unavailable|request timed out|exception:|null$|none$|undefined$)`)
	errorPhrase   = regexp.MustCompile(`(?i)\[error|api error|rate limit exceeded|traceback \(most recent call last\)|internal server error`)
)

// errorText flags a text that is, or is made of, an error message of the
// system that called the model. A document may quote a traceback or a 500
// from the person's own program; that is content, so a phrase counts only
// when it opens the text, when the text is short, or in the shapes API
// wrappers produce ("[ERROR: …]", an error JSON body).
func errorText(text string, low *foldedText, words int) string {
	if !low.has(errorGate) {
		return errorStart(text, words)
	}
	if m := errorAnywhereIn(text, low); m != nil {
		return fmt.Sprintf("error text %q", prompttext.Snippet(text[m[0]:m[1]]))
	}
	return errorStart(text, words)
}

// errorAnywhereIn is the leftmost match of the error shapes in text:
// the leftmost of each shape's leftmost match. The shapes start with different characters
// ([, a letter, {), so no two match at one place. The bracket phrases are
// literal, errorBody starts with a literal the regexp engine skips to,
// and errorStatus, which has no literal, is run near its words.
func errorAnywhereIn(text string, low *foldedText) []int {
	var best []int
	for _, b := range errorBrackets {
		if i := strings.Index(text, b); i >= 0 && (best == nil || i < best[0]) {
			best = []int{i, i + len(b)}
		}
	}
	if m := errorStatusNear.find(text, low); m != nil && (best == nil || m[0] < best[0]) {
		best = m
	}
	if m := errorBody.FindStringIndex(text); m != nil && (best == nil || m[0] < best[0]) {
		best = m
	}
	return best
}

// errorStatusNear finds errorStatus near its words, which open every
// match.
var errorStatusNear = &nearPattern{re: errorStatus, words: newGate([]string{"error code", "status code"}), reach: errorStatusReach}

// errorStatusReach bounds the end of an errorStatus match that opens at
// text[at:]: the phrase and its colon (12 characters of up to 3 bytes),
// any run of spaces, then a code, 40 characters and a word, of up to 4
// bytes each.
func errorStatusReach(text string, at int) int {
	i := min(at+36, len(text))
	for i < len(text) && strings.IndexByte("\t\n\f\r ", text[i]) >= 0 {
		i++
	}
	return i + 256
}

// errorStart finds error text at the start of text, or anywhere in a
// short text of words words.
func errorStart(text string, words int) string {
	if m := errorOpening.FindString(text); m != "" {
		return fmt.Sprintf("text opens with error text %q", m)
	}
	if words < 40 {
		if m := errorPhrase.FindString(text); m != "" {
			return fmt.Sprintf("short text with error text %q", m)
		}
	}
	return ""
}

// --- system prompt leaks --------------------------------------------------

// leak reports the first run of LeakShingle consecutive words of the
// system prompt found in text, compared without case or punctuation.
func leak(text, system string) string {
	idx := leakIndexOf(system)
	if len(idx.shingles) == 0 {
		return ""
	}
	// The last LeakShingle words' spans and hashes, in a ring, and how
	// many words in a row may be the prompt's: a shingle is looked up
	// only when all its words may be.
	var (
		spans  [LeakShingle][2]int
		hashes [LeakShingle]uint64
		n, run int
		found  string
	)
	prompttext.LowerWords(text, inLeakWord, func(start, end int, h uint64) bool {
		spans[n%LeakShingle], hashes[n%LeakShingle] = [2]int{start, end}, h
		n++
		if !idx.mayHold(h) {
			run = 0
			return true
		}
		if run++; run < LeakShingle {
			return true
		}
		var shingle [LeakShingle]uint64
		for j := range shingle {
			shingle[j] = hashes[(n+j)%LeakShingle]
		}
		want, ok := idx.shingles[shingleHash(shingle[:])]
		if !ok {
			return true
		}
		words := make([]string, LeakShingle)
		for j := range words {
			sp := spans[(n+j)%LeakShingle]
			words[j] = strings.ToLower(text[sp[0]:sp[1]])
		}
		if s := strings.Join(words, " "); s == want {
			found = fmt.Sprintf("%d words of the system prompt: %q", LeakShingle, s)
			return false
		}
		return true
	})
	return found
}

// leakIndex is a system prompt's shingles of LeakShingle words by hash,
// and a bit per word hash (its low 12 bits) of the prompt's words: a text
// word whose bit is clear is no word of the prompt.
type leakIndex struct {
	shingles map[uint64]string
	words    [64]uint64
}

func (x *leakIndex) mayHold(h uint64) bool { return x.words[h>>6&63]&(1<<(h&63)) != 0 }

// leakIndexes holds, per system prompt, its leakIndex: a run reviews
// thousands of texts against the same prompt.
var leakIndexes sync.Map // string → *leakIndex

func leakIndexOf(system string) *leakIndex {
	if v, ok := leakIndexes.Load(system); ok {
		return v.(*leakIndex)
	}
	sys := normWords(system)
	idx := &leakIndex{shingles: map[uint64]string{}}
	hashes := make([]uint64, len(sys))
	for i, w := range sys {
		hashes[i] = wordHash(w)
		idx.words[hashes[i]>>6&63] |= 1 << (hashes[i] & 63)
	}
	for i := 0; i+LeakShingle <= len(sys); i++ {
		// Of two shingles with one hash the first is kept; a text
		// repeating the second is then missed, at odds of 2^-64.
		h := shingleHash(hashes[i : i+LeakShingle])
		if _, ok := idx.shingles[h]; !ok {
			idx.shingles[h] = strings.Join(sys[i:i+LeakShingle], " ")
		}
	}
	v, _ := leakIndexes.LoadOrStore(system, idx)
	return v.(*leakIndex)
}

func wordHash(w string) uint64 {
	h := uint64(14695981039346656037) // FNV-1a
	for i := 0; i < len(w); i++ {
		h = (h ^ uint64(w[i])) * 1099511628211
	}
	return h
}

func shingleHash(words []uint64) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	for _, w := range words {
		h = mix64(h ^ w)
	}
	return h
}

// mix64 is the SplitMix64 finaliser, a cheap, well-mixed bijection.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// normWords are the words of s in lower case, as leak compares them: runs
// of letters, digits and apostrophes. wordHash of each is the hash
// prompttext.LowerWords gives it (both FNV-1a).
func normWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !inLeakWord(r) })
}

func inLeakWord(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'' }

// --- requests -------------------------------------------------------------

var requestPhrase = regexp.MustCompile(`(?i)\?|\b(?:can you|could you|would you|will you|please|help me|i need (?:you|your|help|advice|some)|i'd (?:like|love|appreciate)|i would (?:like|love|appreciate)|i want (?:you|your|to know)|tell me|give me|show me|walk me through|explain|advise|recommend|suggest|what do you think|your (?:thoughts|take|advice|help|input|opinion|view)|any (?:thoughts|advice|ideas|suggestions|tips|help)|thoughts\?|help (?:us|with)|let me know (?:what|how|if|whether|which))\b`)

// noRequest flags a document whose closing part asks the assistant for
// nothing. The last paragraphs are searched, so a sign-off after the
// request is fine, but a question buried at the top does not count.
func noRequest(body string) string {
	last := body[lastWordsStart(body, 80):]
	// A question mark is a request to requestPhrase; most documents end
	// with one, and then the closing part needs no closer look.
	if strings.IndexByte(last, '?') >= 0 || requestPhrase.MatchString(prompttext.OneLine(last)) {
		return ""
	}
	return "the document does not end with a request or question to the assistant"
}

// lastWordsStart is where the last n words of s start (words as
// strings.Fields splits them), found from the end, or 0 when s has no
// more than n: prompttext.LastWords(s, n) is prompttext.OneLine of
// s[lastWordsStart(s, n):].
func lastWordsStart(s string, n int) int {
	in := false
	for i := len(s); i > 0; {
		r, size := utf8.DecodeLastRuneInString(s[:i])
		if unicode.IsSpace(r) {
			if in {
				if n--; n == 0 {
					return i
				}
			}
			in = false
		} else {
			in = true
		}
		i -= size
	}
	return 0
}

// The costly case-insensitive scans of whole documents run only on text
// that holds one of the words every match of theirs contains (checked in
// lower case): most text holds none. FuzzReviewGates checks that a gate
// never hides a match.
var (
	// Every error shape errorAnywhereIn finds has "error" or "status code".
	errorWords = []string{"error", "status code"}
	// Every alternative of modelSelfReference names a language model, an
	// AI, a model maker, or its own training.
	selfReferenceWords = []string{"language model", "an ai ", "openai", "anthropic", "google", "meta", "mistral",
		"my training data", "my knowledge cutoff", "my training cutoff"}
	// Every alternative of otherIdentity names another assistant or a
	// model maker.
	identityWords = []string{"claude", "gpt", "gemini", "bard", "llama", "copilot", "openai", "anthropic", "google", "meta"}
	// Every alternative of documentChatterEnd and replyChatterEnd has one
	// of these ("let me know if you'd like me to").
	chatterEndWords = []string{"shall i", "should i", "me to", "the remaining", "the other", "the next", "i hope this", "end of "}
	// Every alternative of refusalPhrase has one of these, with the "i"
	// before it where the phrase always puts one.
	refusalWords = []string{"i can't", "i cannot", "i can not", "i won't", "i will not", "unable to", "not able to",
		"i must decline", "i must refuse", "not going to"}
)

// The gates of the word lists above, and of "lorem", which all filler
// text placeholder looks for holds.
var (
	errorGate         = newGate(errorWords)
	selfReferenceGate = newGate(selfReferenceWords)
	identityGate      = newGate(identityWords)
	chatterEndGate    = newGate(chatterEndWords)
	refusalGate       = newGate(refusalWords)
	loremGate         = newGate([]string{"lorem"})
)

// mayMatch reports whether text, in lower case, holds one of words. It
// also folds the long s (ſ), which Go's case-insensitive matching takes
// for an s and strings.ToLower leaves alone, so the gate is never
// stricter than the pattern behind it.
func mayMatch(text string, words []string) bool { return containsAny(folded(text), words) }

// folded is text in lower case with the long s folded, as the word gates
// read it; a review computes it once for all of them.
//
// It is written out as one pass, byte for byte what
// strings.NewReplacer("ſ", "s").Replace(strings.ToLower(text)) returns: an invalid byte becomes U+FFFD, as strings.ToLower
// writes it.
func folded(text string) string {
	i := 0
	for i < len(text) && text[i] < utf8.RuneSelf && (text[i] < 'A' || text[i] > 'Z') {
		i++
	}
	if i == len(text) {
		return text
	}
	var b strings.Builder
	b.Grow(len(text) + utf8.UTFMax)
	b.WriteString(text[:i])
	for i < len(text) {
		c := text[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if r = unicode.ToLower(r); r == 'ſ' {
			r = 's'
		}
		b.WriteRune(r)
		i += size
	}
	return b.String()
}

// containsAny reports whether low holds one of words; foldedText.has
// answers the same for the words of a gate.
func containsAny(low string, words []string) bool {
	for _, w := range words {
		if strings.Contains(low, w) {
			return true
		}
	}
	return false
}

// selfReference names the first place the text speaks as a model, or "".
func selfReference(text string, low *foldedText) string {
	if !low.has(selfReferenceGate) {
		return ""
	}
	return match(text, modelSelfReference)
}
