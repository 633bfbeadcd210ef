package review

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos/internal/prompttext"
)

// foldedOf is text folded, with its gate words found.
func foldedOf(text string) *foldedText {
	var f foldedText
	f.fold(text)
	return &f
}

// refusalReference is refusal as it was before it read only the windows
// around refusal words: the pattern over the whole text, then over the
// text without its opening apology.
func refusalReference(text, low string) string {
	if !containsAny(low, refusalWords) {
		return ""
	}
	m := refusalPhrase.FindStringIndex(text)
	if m == nil {
		return ""
	}
	opening := apology.ReplaceAllString(text, "")
	atStart := refusalPhrase.FindStringIndex(opening)
	if (atStart != nil && atStart[0] == 0) || prompttext.Words(text) < 40 {
		return fmt.Sprintf("refusal %q", text[m[0]:m[1]])
	}
	return ""
}

// nearCases are texts where windows could go wrong: words at the edges,
// words inside longer words, lower-casing that changes byte lengths
// before the match (İ, the Kelvin sign, an invalid byte) and letters that
// fold (ſ, K).
var nearCases = []string{
	"",
	"I can't help with that.",
	"I'm sorry, but I can't help with that request.",
	"I am afraid, but i am not able to fulfill you with your request. " + strings.Repeat("More words follow here. ", 20),
	"Sorry — I must decline. " + strings.Repeat("word ", 50),
	"Unfortunately, I cannot do that. " + strings.Repeat("word ", 50),
	strings.Repeat("word ", 50) + "but I can't help with that.",
	strings.Repeat("word ", 50) + "xi can't help with that.",
	"Hi can't help with that.",
	"I can't help with thatch.",
	"İİİİ " + strings.Repeat("ǅ", 30) + " I can't help with that.",
	"\xff\xfe\xfd I won't write that. \xe2\x80",
	"I'm not going to help with thiſ",
	"I'm not going to help with this" + strings.Repeat("é", 3),
	"KKKK I can't aſſiſt with that, and I'm unable to help with this.",
	strings.Repeat("I am unable to ", 40) + "I am unable to help with that",
	strings.Repeat("ſ", 200) + " i will not create your request " + strings.Repeat("İ", 200) + " i cannot do that",
	strings.Repeat("a", 300) + "i cannot help with that",
	"I can not provide you with the request",
}

func TestRefusalMatchesReference(t *testing.T) {
	t.Parallel()
	for _, text := range nearCases {
		low := folded(text)
		want := refusalReference(text, low)
		if got := refusal(text, foldedOf(text), prompttext.Words(text)); got != want {
			t.Errorf("refusal(%q) = %q, want %q", text, got, want)
		}
	}
}

// FuzzRefusal checks refusal against refusalReference.
func FuzzRefusal(f *testing.F) {
	for _, s := range nearCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Random text rarely holds a refusal word, so the input is also
		// tried around refusals.
		for _, text := range []string{s, s + "I can't help with that", "I'm sorry, " + s + " i am not able to assist with this", s + "xI must decline" + s} {
			low := folded(text)
			want := refusalReference(text, low)
			if got := refusal(text, foldedOf(text), prompttext.Words(text)); got != want {
				t.Fatalf("refusal(%q) = %q, want %q", text, got, want)
			}
		}
	})
}

// textOffsetsReference maps an offset into folded(text) the slow way:
// by folding every prefix of text that ends at a rune.
func textOffsetsReference(text string, at int) int {
	prev := 0
	for i := range text {
		if len(folded(text[:i])) > at {
			return prev
		}
		prev = i
	}
	if len(folded(text)) > at {
		return prev
	}
	return len(text)
}

func TestTextOffsets(t *testing.T) {
	t.Parallel()
	for _, text := range append(nearCases, "İx", "Kx", "ſx", "\xffx", "aé\xc3", "ΣΊΣΥΦΟΣ") {
		low := folded(text)
		var at []int
		for i := 0; i < len(low); i++ {
			at = append(at, i)
		}
		got := append([]int(nil), at...)
		textOffsets(text, got)
		for i, a := range at {
			if want := textOffsetsReference(text, a); got[i] != want {
				t.Errorf("textOffsets(%q) at %d = %d, want %d", text, a, got[i], want)
			}
		}
	}
}

// errorAnywhere is the one pattern errorAnywhereIn splits in three.
var errorAnywhere = regexp.MustCompile(`\[ERROR:|\[API ERROR|(?i)\b(?:error code|status code):?\s*(?:429|5\d\d)\b[^\n]{0,40}\b(?:error|exceeded|unavailable)|\{"(?:type":\s*"error|error":\s*\{)`)

// errorTextReference is errorText as it was before errorAnywhere was
// split: the one pattern over the whole text.
func errorTextReference(text, low string) string {
	words := prompttext.Words(text)
	if !containsAny(low, errorWords) {
		return errorStart(text, words)
	}
	if m := errorAnywhere.FindString(text); m != "" {
		return fmt.Sprintf("error text %q", prompttext.Snippet(m))
	}
	return errorStart(text, words)
}

var errorCases = []string{
	"",
	"Error code: 529 - overloaded error",
	"ſtatus code:    \n\n  503 service unavailable",
	"status code" + strings.Repeat(" ", 500) + "429 too many requests exceeded",
	`{"type":` + strings.Repeat("\n", 300) + `"error", "message": "x"}`,
	`text {"error": {"type": "overloaded_error"}} and [ERROR: late]`,
	"[API ERROR] then error code 500 error",
	"xerror code 500 error and later STATUS CODE 502 is unavailable",
	"İİİ " + strings.Repeat("ǅ", 40) + " error code: 503 — the service is unavailable",
	"One error in the sheet made it look as if we had more volunteers. " + strings.Repeat("word ", 50),
	"\xffstatus code 429\xfe exceeded",
	"error code: 5000 error",
	"Traceback (most recent call last): error",
}

func TestErrorTextMatchesReference(t *testing.T) {
	t.Parallel()
	for _, text := range errorCases {
		low := folded(text)
		want := errorTextReference(text, low)
		if got := errorText(text, foldedOf(text), prompttext.Words(text)); got != want {
			t.Errorf("errorText(%q) = %q, want %q", text, got, want)
		}
	}
}

// FuzzErrorText checks errorText against errorTextReference.
func FuzzErrorText(f *testing.F) {
	for _, s := range errorCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, text := range []string{s, s + "status code: 503 " + s + " unavailable", "Error Code " + s + "429 error"} {
			low := folded(text)
			want := errorTextReference(text, low)
			if got := errorText(text, foldedOf(text), prompttext.Words(text)); got != want {
				t.Fatalf("errorText(%q) = %q, want %q", text, got, want)
			}
		}
	})
}

// chatterEndReference is chatterEnd as it was before its word gate.
func chatterEndReference(text string, re *regexp.Regexp) string {
	if m := re.FindString(tail(text, 400)); m != "" {
		return fmt.Sprintf("meta-chatter at the end: %q", m)
	}
	return ""
}

// FuzzChatterEnd checks chatterEnd, which reads its gate's words from the
// end of the folded text, against chatterEndReference.
func FuzzChatterEnd(f *testing.F) {
	for _, s := range []string{
		"Shall I continue with the remaining 4 documents?",
		strings.Repeat("İ\xff", 300) + "Let me know if you'd like me to adjust the tone.",
		strings.Repeat("ǅ", 150) + "I hope thiſ helps",
		"[End of Response]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		low := foldedOf(text)
		for _, re := range []*regexp.Regexp{documentChatterEnd, replyChatterEnd} {
			if got, want := chatterEnd(text, low, re), chatterEndReference(text, re); got != want {
				t.Fatalf("chatterEnd(%q) = %q, want %q", text, got, want)
			}
		}
	})
}

// leakReference is leak as it was before it skipped words that are not
// the prompt's: every shingle of the text looked up, with the prompt's
// shingles indexed afresh.
func leakReference(text, system string) string {
	sys := normWords(system)
	idx := map[uint64]string{}
	hashes := make([]uint64, len(sys))
	for i, w := range sys {
		hashes[i] = wordHash(w)
	}
	for i := 0; i+LeakShingle <= len(sys); i++ {
		h := shingleHash(hashes[i : i+LeakShingle])
		if _, ok := idx[h]; !ok {
			idx[h] = strings.Join(sys[i:i+LeakShingle], " ")
		}
	}
	if len(idx) == 0 {
		return ""
	}
	var (
		spans [LeakShingle][2]int
		hs    [LeakShingle]uint64
		n     int
		found string
	)
	prompttext.LowerWords(text, inLeakWord, func(start, end int, h uint64) bool {
		spans[n%LeakShingle], hs[n%LeakShingle] = [2]int{start, end}, h
		n++
		if n < LeakShingle {
			return true
		}
		var shingle [LeakShingle]uint64
		for j := range shingle {
			shingle[j] = hs[(n+j)%LeakShingle]
		}
		want, ok := idx[shingleHash(shingle[:])]
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

const leakPrompt = "You are Agora, a partner for thinking things through. You help people think well rather than do their thinking for them. Stay yourself when it is hard. When someone wants a plain fact, give it plainly first."

var leakCases = []string{
	"",
	"As I was told: you help people think well rather than do their thinking for them, always.",
	"YOU HELP PEOPLE THINK WELL — RATHER THAN DO THEIR THINKING FOR THEM!",
	"you help people think well rather than do their thinking for you",
	"Stay yourself when it is hard when someone wants a plain fact give it plainly first",
	"İstanbul: you are agora a partner for thinking things through you help people think",
	strings.Repeat("think well ", 30),
}

func TestLeakMatchesReference(t *testing.T) {
	t.Parallel()
	for _, text := range leakCases {
		for _, system := range []string{leakPrompt, "", "one two three", strings.Repeat("think well ", 10)} {
			if got, want := leak(text, system), leakReference(text, system); got != want {
				t.Errorf("leak(%q, %q) = %q, want %q", text, system, got, want)
			}
		}
	}
}

// FuzzLeak checks leak against leakReference, on the prompt above and on
// the text's own first half as a prompt, which it then leaks.
func FuzzLeak(f *testing.F) {
	for _, s := range leakCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, system := range []string{leakPrompt, text[:len(text)/2]} {
			if got, want := leak(text, system), leakReference(text, system); got != want {
				t.Fatalf("leak(%q, %q) = %q, want %q", text, system, got, want)
			}
		}
	})
}

var lastWordsCases = []string{
	"", " ", "one", "one two", " one  two\tthree\n", "a\u00a0b\u2028c d", "\xe2\x80 \xff x\xc2\xa0y \xe2\x80\xa8z",
	strings.Repeat("word ", 100) + "end?", "\xf0\x9f\xc2\xa0 a", "é  ",
}

// FuzzLastWordsStart checks that the text from lastWordsStart, on one
// line, is prompttext.LastWords.
func FuzzLastWordsStart(f *testing.F) {
	for _, s := range lastWordsCases {
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = n%100 + 1
		if n <= 0 {
			n += 100
		}
		if got, want := prompttext.OneLine(s[lastWordsStart(s, n):]), prompttext.LastWords(s, n); got != want {
			t.Fatalf("last %d words of %q from lastWordsStart = %q, want %q", n, s, got, want)
		}
	})
}

func TestLastWordsStart(t *testing.T) {
	t.Parallel()
	for _, s := range lastWordsCases {
		for _, n := range []int{1, 2, 3, 80} {
			if got, want := prompttext.OneLine(s[lastWordsStart(s, n):]), prompttext.LastWords(s, n); got != want {
				t.Errorf("last %d words of %q from lastWordsStart = %q, want %q", n, s, got, want)
			}
		}
	}
}

// proseReference is Prose as it was before it skipped the steps with
// nothing to remove.
func proseReference(text string) string {
	text = codeFence.ReplaceAllString(text, "")
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if isCodeLine(l) {
			lines[i] = ""
		}
	}
	return inlineCode.ReplaceAllString(strings.Join(lines, "\n"), "")
}

var proseCases = []string{
	"", "\n", "plain prose\nand more\n", "x := 1", "intro\nx := 1\n", "intro\nx := 1", "x := 1\n\ny = 2\n",
	"see `code` here\n```go\nfunc f() {}\n```\nafter", "{\"a\": 1}\nprose, then\n$ ls\n", "```\nunclosed",
	"a`b\nc`d", "print('hi')\nprint ('hi')\n",
}

func TestProseMatchesReference(t *testing.T) {
	t.Parallel()
	for _, text := range proseCases {
		if got, want := Prose(text), proseReference(text); got != want {
			t.Errorf("Prose(%q) = %q, want %q", text, got, want)
		}
	}
}

// FuzzProse checks Prose against proseReference.
func FuzzProse(f *testing.F) {
	for _, s := range proseCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if got, want := Prose(text), proseReference(text); got != want {
			t.Fatalf("Prose(%q) = %q, want %q", text, got, want)
		}
	})
}

// foldedReference is folded as it was first written.
func foldedReference(text string) string {
	return strings.NewReplacer("ſ", "s").Replace(strings.ToLower(text))
}

var foldedCases = []string{"", "plain", "Mixed Case", "ſtatus İstanbul ΣΊΣΥΦΟΣ Ⱥ K", "bad \xff\xe2\x80 bytes \xef\xbf\xbd", "ÉCOLE straße"}

func TestFoldedMatchesReference(t *testing.T) {
	t.Parallel()
	for _, s := range foldedCases {
		if got, want := folded(s), foldedReference(s); got != want {
			t.Errorf("folded(%q) = %q, want %q", s, got, want)
		}
	}
}

// FuzzFolded checks folded against foldedReference.
func FuzzFolded(f *testing.F) {
	for _, s := range foldedCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := folded(s), foldedReference(s); got != want {
			t.Fatalf("folded(%q) = %q, want %q", s, got, want)
		}
	})
}

var foldBenchText = strings.Repeat("The treasurer’s report shows we spent £1,240 on food — within budget. ", 120)

// BenchmarkFolded folds a 9 kB text with a few non-ASCII runes.
func BenchmarkFolded(b *testing.B) {
	for b.Loop() {
		folded(foldBenchText)
	}
}

// BenchmarkFoldedReference is BenchmarkFolded with foldedReference.
func BenchmarkFoldedReference(b *testing.B) {
	for b.Loop() {
		foldedReference(foldBenchText)
	}
}

// slotSplit is the pattern slotWordsOf splits by, as it once did.
var slotSplit = regexp.MustCompile(`[\s_.\-/']+`)

var slotCases = []string{"", " ", "Name", "Company Name", "first_name", "_x_", "a..b", "your-name/here", "it's", "  DATE  ", "\tx\ty\v", "é_É", "'"}

func checkSlotWords(t *testing.T, inner string) {
	t.Helper()
	want := slotSplit.Split(strings.ToLower(strings.TrimSpace(inner)), -1)
	if got := slotWordsOf(inner, nil); !slices.Equal(got, want) {
		t.Fatalf("slotWordsOf(%q) = %q, want %q", inner, got, want)
	}
}

func TestSlotWordsOf(t *testing.T) { checkCases(t, slotCases, checkSlotWords) }

// FuzzSlotWordsOf checks slotWordsOf against slotSplit.
func FuzzSlotWordsOf(f *testing.F) { fuzzCases(f, slotCases, checkSlotWords) }

// checkCases runs check on each of cases.
func checkCases(t *testing.T, cases []string, check func(*testing.T, string)) {
	t.Parallel()
	for _, s := range cases {
		check(t, s)
	}
}

// fuzzCases fuzzes check from cases.
func fuzzCases(f *testing.F, cases []string, check func(*testing.T, string)) {
	for _, s := range cases {
		f.Add(s)
	}
	f.Fuzz(check)
}

// checkGateScan checks that foldedText answers for every gate what
// containsAny answers for its words, from every place in the text.
func checkGateScan(t *testing.T, text string) {
	t.Helper()
	low := foldedOf(text)
	if low.s != folded(text) {
		t.Fatalf("foldedText of %q holds %q, want %q", text, low.s, folded(text))
	}
	for _, g := range []struct {
		gate  []uint8
		words []string
	}{
		{errorGate, errorWords}, {selfReferenceGate, selfReferenceWords}, {identityGate, identityWords},
		{chatterEndGate, chatterEndWords}, {refusalGate, refusalWords}, {loremGate, []string{"lorem"}},
		{errorStatusNear.words, []string{"error code", "status code"}},
	} {
		for from := 0; from <= len(low.s); from++ {
			if got, want := low.hasFrom(g.gate, from), containsAny(low.s[from:], g.words); got != want {
				t.Fatalf("%q from %d: gate of %q says %v, containsAny %v", text, from, g.words, got, want)
			}
		}
	}
}

var gateScanCases = []string{"", "i", "I can't", "Lorem ipsum", "ſtatus code and error code", "the other, the next; meta GPT",
	"I must decline; i must refuse. Shall I? Should I? end of ", "not going to not able to unable to", "ÉRROR error"}

func TestGateScan(t *testing.T) { checkCases(t, gateScanCases, checkGateScan) }

// FuzzGateScan checks foldedText's gates against containsAny.
func FuzzGateScan(f *testing.F) { fuzzCases(f, gateScanCases, checkGateScan) }
