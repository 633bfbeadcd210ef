package sandbox

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos"
)

// judgePrompt is a pairwise judge request in the shape of ethos's
// ethos-judge/v1 prompt, written out here so that these tests do not
// depend on the eval package.
func judgePrompt(trait, a, b string) string {
	head := "Trait: " + trait + "\nDefinition: the trait.\n"
	if trait == "overall" {
		head = "Trait: overall\nDefinition: the character as a whole.\nTraits: collaborative, inquisitive, encouraging\n"
	}
	return head + "\nThe person's message:\n<message>\nShould I take the job in Leeds?\n</message>\n\n" +
		"Answer A:\n<answer_a>\n" + a + "\n</answer_a>\n\nAnswer B:\n<answer_b>\n" + b + "\n</answer_b>\n\n" +
		"Reply with the Verdict line and the Reason line only.\n\nOutput contract: ethos-judge/v1"
}

func scorePrompt(trait, answer string) string {
	return "Trait: " + trait + "\nDefinition: the trait.\n\n<message>\nShould I?\n</message>\n\n<answer>\n" + answer +
		"\n</answer>\n\nOutput contract: ethos-score/v1"
}

// judged answers a judge prompt without HTTP, as the server would.
func judged(s *Server, model, user string, options int64) string {
	p := Prompt{Model: model, System: "You are an impartial judge.", Messages: []ethos.Message{{Role: ethos.RoleUser, Content: user}}, MaxTokens: 600}
	p.Seed = promptSeed(p, nil, options)
	ct, ok := s.judgeWriter(model).write(p)
	if !ok {
		panic("no judge contract in prompt")
	}
	return ct.text
}

// verdictLineRE is the contract's shape, written from its text.
var verdictLineRE = regexp.MustCompile(`\AVerdict: (A>>B|A>B|A=B|B>A|B>>A)\nReason: [^\n]+\z`)

func verdictOfReply(t *testing.T, reply string) string {
	t.Helper()
	m := verdictLineRE.FindStringSubmatch(reply)
	if m == nil {
		t.Fatalf("reply not in the ethos-judge/v1 shape: %q", reply)
	}
	return m[1]
}

// with repeats the collaborative marker sentence n times among neutral
// ones.
func with(n int) string {
	parts := []string{"The constraints you mention are real."}
	for range n {
		parts = append(parts, "Let's look at the first step.")
	}
	return strings.Join(append(parts, "Progress is likely to be gradual."), " ")
}

func TestJudgeVerdictFollowsMarkers(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	for _, tc := range []struct {
		a, b int
		want string
	}{
		{0, 0, "A=B"}, {2, 2, "A=B"},
		{1, 0, "A>B"}, {3, 1, "A>B"},
		{3, 0, "A>>B"}, {4, 0, "A>>B"},
		{0, 1, "B>A"}, {0, 2, "B>A"},
		{0, 3, "B>>A"}, {1, 4, "B>>A"},
	} {
		t.Run(fmt.Sprintf("%d-%d", tc.a, tc.b), func(t *testing.T) {
			reply := judged(s, "judge", judgePrompt("collaborative", with(tc.a), with(tc.b)), 1)
			if got := verdictOfReply(t, reply); got != tc.want {
				t.Errorf("verdict %s, want %s (%q)", got, tc.want, reply)
			}
			want := fmt.Sprintf("Answer A has %d shared-work phrase", tc.a)
			if !strings.Contains(reply, want) {
				t.Errorf("reason does not name the counts (%q): %q", want, reply)
			}
		})
	}
}

func TestJudgeOverallCountsTraitsWon(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	strong := "Let's start here. What matters most to you? Is it the money? It's completely fine not to know yet."
	weak := "The constraints you mention are real."
	for _, tc := range []struct {
		a, b, want string
	}{
		// A wins collaborative, inquisitive and encouraging: 3 − 0.
		{strong, weak, "A>>B"},
		{weak, strong, "B>>A"},
		// A wins one trait.
		{"Let's start.", weak, "A>B"},
		{strong, strong, "A=B"},
	} {
		reply := judged(s, "judge", judgePrompt("overall", tc.a, tc.b), 1)
		if got := verdictOfReply(t, reply); got != tc.want {
			t.Errorf("overall verdict %s, want %s: %q", got, tc.want, reply)
		}
	}
}

// TestJudgeBiasedPrefersFirst: the biased judge gives close calls to the
// answer shown first, in both orders, so a swapped pair disagrees with
// itself; a clear difference still wins.
func TestJudgeBiasedPrefersFirst(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	for _, tc := range []struct {
		a, b        int
		fair, biasd string
	}{
		{1, 1, "A=B", "A>B"},
		{0, 1, "B>A", "A>B"},
		{0, 2, "B>A", "B>A"},
		{1, 0, "A>B", "A>>B"},
		{0, 3, "B>>A", "B>A"},
		{0, 4, "B>>A", "B>>A"},
	} {
		fair := verdictOfReply(t, judged(s, "judge", judgePrompt("collaborative", with(tc.a), with(tc.b)), 1))
		biased := verdictOfReply(t, judged(s, ModelJudgeBiased, judgePrompt("collaborative", with(tc.a), with(tc.b)), 1))
		if fair != tc.fair || biased != tc.biasd {
			t.Errorf("%d vs %d: judge %s, judge-biased %s; want %s, %s", tc.a, tc.b, fair, biased, tc.fair, tc.biasd)
		}
	}
}

// TestJudgeNoisy: the noisy judge is deterministic per request, and its
// verdicts differ from the fair judge's on a good share of close calls.
func TestJudgeNoisy(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	differ := 0
	const n = 60
	for i := range n {
		prompt := judgePrompt("collaborative", with(i%3)+fmt.Sprintf(" Case %d.", i), with(1))
		noisy := judged(s, ModelJudgeNoisy, prompt, 1)
		if again := judged(s, ModelJudgeNoisy, prompt, 1); again != noisy {
			t.Fatalf("same request, different verdicts: %q, %q", noisy, again)
		}
		if verdictOfReply(t, noisy) != verdictOfReply(t, judged(s, "judge", prompt, 1)) {
			differ++
		}
	}
	if differ < n/5 || differ > n*4/5 {
		t.Errorf("noisy judge differs from the fair one on %d of %d requests; want a share between 1/5 and 4/5", differ, n)
	}
}

func TestJudgeScore(t *testing.T) {
	t.Parallel()
	s := New(Options{})
	re := regexp.MustCompile(`\AScore: ([1-5])\nReason: [^\n]+\z`)
	for n, want := range []string{"1", "2", "3", "4", "5", "5"} {
		reply := judged(s, "judge", scorePrompt("collaborative", with(n)), 1)
		m := re.FindStringSubmatch(reply)
		if m == nil || m[1] != want {
			t.Errorf("%d markers: %q, want score %s", n, reply, want)
		}
	}
	// Questions count for inquisitive.
	reply := judged(s, "judge", scorePrompt("inquisitive", "What do you want? Why now?"), 1)
	if !strings.HasPrefix(reply, "Score: 3\n") || !strings.Contains(reply, "2 questions to the person") {
		t.Errorf("inquisitive score: %q", reply)
	}
}

// TestJudgeOffFormat: the offformat defect breaks the two-line shape,
// always for writer-defect-offformat, per request for a configured rate.
func TestJudgeOffFormat(t *testing.T) {
	t.Parallel()
	s := New(Options{Defects: map[string]float64{DefectOffFormat: 0.5}})
	broken := 0
	for i := range 40 {
		prompt := judgePrompt("collaborative", with(i%4), with(1))
		if verdictLineRE.MatchString(judged(s, "writer-defect-offformat", prompt, 1)) {
			t.Errorf("writer-defect-offformat answered in shape")
		}
		if !verdictLineRE.MatchString(judged(s, "judge", prompt, 1)) {
			broken++
		}
	}
	if broken < 8 || broken > 32 {
		t.Errorf("%d of 40 replies off format at rate 0.5", broken)
	}
}

// TestJudgeOverHTTP: the judge contracts are answered over the wire by the
// judge models, and every one of them is listed.
func TestJudgeOverHTTP(t *testing.T) {
	t.Parallel()
	run := start(t, Options{Seed: 3})
	for _, model := range []string{"judge", ModelJudgeBiased, ModelJudgeNoisy} {
		text, stop := complete(t, run, model, "You are an impartial judge.", judgePrompt("inquisitive", "Why? How? When?", "Fine."))
		if stop != "end_turn" {
			t.Errorf("%s: stop reason %s", model, stop)
		}
		if got := verdictOfReply(t, text); model != ModelJudgeNoisy && got != "A>>B" {
			t.Errorf("%s: verdict %s, want A>>B: %q", model, got, text)
		}
	}
	if d := cmp.Diff([]string{"writer", "base", "judge", ModelJudgeBiased, ModelJudgeNoisy}, run.Server.Models()); d != "" {
		t.Errorf("models (-want +got):\n%s", d)
	}
}
