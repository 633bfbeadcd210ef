package dataset_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/dataset"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStatsFile(t *testing.T) {
	t.Parallel()
	// Texts of whole tokens (four bytes each) keep the arithmetic plain:
	// example 1 is 10+20+30 tokens and 3×4 of overhead = 72; example 2 is
	// 100+200 and 2×4 = 308; example 3 repeats example 1.
	ex1 := msgs(turn("system", strings.Repeat("sys ", 10)), turn("user", strings.Repeat("tree ", 16)), turn("assistant", strings.Repeat("leaf ", 24)))
	ex2 := msgs(turn("user", strings.Repeat("moon ", 80)), turn("assistant", strings.Repeat("star ", 160)))
	path := writeFile(t, "train.jsonl", file(ex1, "not json", ex2, ex1))
	st, err := dataset.StatsFile(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	want := &dataset.Stats{
		Path: path, Format: "conversation", Examples: 3, Skipped: 1, Turns: 8,
		TurnsPerExample: dataset.Distribution{Min: 2, P50: 3, P90: 3, Max: 3, Mean: 8.0 / 3},
		Roles: []dataset.RoleStats{
			{Role: "system", Messages: 2, Tokens: 20, MeanTokens: 10},
			{Role: "user", Messages: 3, Tokens: 140, MeanTokens: 140.0 / 3},
			{Role: "assistant", Messages: 3, Tokens: 260, MeanTokens: 260.0 / 3},
		},
		Tokens:      dataset.Distribution{Min: 72, P50: 72, P90: 308, Max: 308, Mean: 452.0 / 3},
		TotalTokens: 452, TrainedTokens: 260,
		Histogram: []dataset.Bucket{
			{From: 50, To: 100, Count: 2}, {From: 100, To: 150}, {From: 150, To: 200},
			{From: 200, To: 250}, {From: 250, To: 300}, {From: 300, To: 350, Count: 1},
		},
		Duplicates: 1,
	}
	if diff := cmp.Diff(want, st, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("stats (-want +got):\n%s", diff)
	}
}

func TestStatsFormats(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, content string
		roles         []string
		trained       int
	}{
		{"instruction", file(`{"prompt":"abcdabcd","completion":"abcd"}`), []string{"prompt", "completion"}, 1},
		{"preference", file(`{"input":{"messages":[{"role":"user","content":"abcd"}]},"preferred_output":[{"role":"assistant","content":"abcdabcd"}],"non_preferred_output":[{"role":"assistant","content":"abcdabcdabcd"}]}`),
			[]string{"user", "preferred_output", "non_preferred_output"}, 2},
		{"weights", file(msgs(turn("user", "abcd"), `{"role":"assistant","content":"abcd","weight":0}`, turn("user", "abcd"), `{"role":"assistant","content":"abcdabcd","weight":1}`)),
			[]string{"user", "assistant"}, 2},
		{"openai roles", file(msgs(turn("developer", "abcd"), turn("user", "abcd"), turn("tool", "abcd"), turn("assistant", "abcd"))), []string{"developer", "user", "assistant", "tool"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := dataset.ReadStats(t.Context(), strings.NewReader(tc.content))
			if err != nil {
				t.Fatal(err)
			}
			var roles []string
			for _, r := range st.Roles {
				roles = append(roles, r.Role)
			}
			if diff := cmp.Diff(tc.roles, roles); diff != "" || st.TrainedTokens != tc.trained || st.Examples != 1 {
				t.Errorf("roles (-want +got):\n%s\ntrained %d (want %d), examples %d", diff, st.TrainedTokens, tc.trained, st.Examples)
			}
		})
	}
}

func TestStatsEmptyAndMissing(t *testing.T) {
	t.Parallel()
	st, err := dataset.StatsFile(t.Context(), writeFile(t, "empty.jsonl", ""))
	if err != nil {
		t.Fatal(err)
	}
	if st.Examples != 0 || st.Roles == nil || st.Histogram == nil {
		t.Errorf("empty file: %+v (roles and histogram must be empty lists, not null, for JSON)", st)
	}
	if _, err := dataset.StatsFile(t.Context(), filepath.Join(t.TempDir(), "nope.jsonl")); ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("missing file: %v", err)
	}
}

func TestStatsNearDuplicates(t *testing.T) {
	t.Parallel()
	long := "Our team of five keeps missing sprint deadlines because estimates are made by one person, reviews pile up at the end, and nobody owns the release checklist. What would you change first?"
	st, err := dataset.ReadStats(t.Context(), strings.NewReader(file(
		msgs(turn("user", long), turn("assistant", pairs[10][1])),
		msgs(turn("user", strings.Replace(long, "five", "six", 1)), turn("assistant", pairs[10][1])),
		chat(3),
	)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Duplicates != 0 || st.NearDuplicates != 1 {
		t.Errorf("duplicates %d, near %d; want 0 and 1", st.Duplicates, st.NearDuplicates)
	}
}

func TestHistogramWidths(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		values []int
		want   []dataset.Bucket
	}{
		{[]int{9}, []dataset.Bucket{{From: 9, To: 10, Count: 1}}},
		{[]int{2224, 2319, 2250}, nil}, // width 10: 2220 … 2320, 11 buckets
		{[]int{9, 1009}, nil},          // width 100: 11 buckets
	} {
		st, err := dataset.ReadStats(t.Context(), strings.NewReader(examplesOfTokens(tc.values)))
		if err != nil {
			t.Fatal(err)
		}
		h := st.Histogram
		total := 0
		for i, b := range h {
			total += b.Count
			if i > 0 && b.From != h[i-1].To {
				t.Errorf("%v: buckets not contiguous: %+v", tc.values, h)
			}
		}
		if total != len(tc.values) || len(h) > 11 || h[0].From > st.Tokens.Min || h[len(h)-1].To <= st.Tokens.Max {
			t.Errorf("%v: %+v", tc.values, h)
		}
		if tc.want != nil {
			if diff := cmp.Diff(tc.want, h); diff != "" {
				t.Error(diff)
			}
		}
	}
}

// examplesOfTokens writes one instruction example a value whose estimate
// is that many tokens (at least 9): 2×4 of overhead, a completion of
// one token and a prompt of the rest.
func examplesOfTokens(values []int) string {
	var lines []string
	for i, v := range values {
		prompt := strings.Repeat("x", max(v-8-1, 0)*4)
		lines = append(lines, `{"prompt":"`+prompt+`","completion":"`+string(rune('a'+i%26))+`"}`)
	}
	return file(lines...)
}

// TestStatsPreference counts a preference file's pairs, the tokens of
// each part and the pairs whose outputs do not differ.
func TestStatsPreference(t *testing.T) {
	t.Parallel()
	near1, near2 := longAnswer+" Kind regards.", longAnswer+" Best wishes."
	path := writeFile(t, "pairs.jsonl", file(
		pref([]string{turn("user", strings.Repeat("moon ", 16))}, strings.Repeat("star ", 24), strings.Repeat("dust ", 8)),
		pref([]string{turn("system", strings.Repeat("sys ", 4)), turn("user", strings.Repeat("tree ", 8))}, strings.Repeat("leaf ", 16), strings.Repeat("leaf ", 16)),
		"not json",
		pref([]string{turn("user", pairs[0][0])}, near1, near2),
	))
	st, err := dataset.StatsFile(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	tok := func(s string) int { return ethos.EstimateTokens(s) + 4 }
	answerWords := len(strings.Fields(longAnswer))
	in3, chosen3, rejected3 := tok(pairs[0][0]), tok(near1), tok(near2)
	dist := func(a, b, c int) dataset.Distribution {
		v := []int{a, b, c}
		slices.Sort(v)
		return dataset.Distribution{Min: v[0], P50: v[1], P90: v[2], Max: v[2], Mean: float64(a+b+c) / 3}
	}
	want := &dataset.PreferenceStats{
		Pairs:              3,
		InputTokens:        dist(24, 8+14, in3),
		PreferredTokens:    dist(34, 24, chosen3),
		NonPreferredTokens: dist(14, 24, rejected3),
		Identical:          1,
		NearIdentical:      1,
		// none, all, and all of longAnswer's words but the last two
		SharedPrefix:     (0 + 1 + float64(answerWords)/float64(answerWords+2)) / 3,
		SharedPrefixHalf: 2,
		RejectedLonger:   0,
	}
	if rejected3 > chosen3 {
		want.RejectedLonger = 1
	}
	if diff := cmp.Diff(want, st.Preference, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("preference stats (-want +got):\n%s", diff)
	}
	if st.Format != dataset.FormatPreference || st.Examples != 3 || st.Skipped != 1 {
		t.Errorf("format %q, %d examples, %d skipped; want preference, 3, 1", st.Format, st.Examples, st.Skipped)
	}

	chats := writeFile(t, "chat.jsonl", file(chats(2)...))
	if st, err := dataset.StatsFile(t.Context(), chats); err != nil || st.Preference != nil {
		t.Errorf("a conversation file has preference stats %+v (err %v); want none", st.Preference, err)
	}
}
