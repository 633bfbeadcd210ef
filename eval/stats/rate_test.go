package stats

import (
	"flag"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
)

// TestRaterRate: each method rates every model, best first, with its
// record over every battle, the interval the method has, and Bradley–Terry
// its strengths; ties skipped leave the records whole.
func TestRaterRate(t *testing.T) {
	t.Parallel()
	var battles []Battle
	add := func(n int, left, right string, w Winner) {
		for range n {
			battles = append(battles, Battle{Left: left, Right: right, Winner: w})
		}
	}
	add(7, "tuned", "base", Left)
	add(3, "tuned", "base", Right)
	add(2, "tuned", "base", Tie)
	add(4, "other", "base", Left)
	add(4, "other", "tuned", Right)
	add(1, "other", "tuned", Left)
	full := NewTable(battles)
	for _, tt := range []struct {
		rated    *Table
		method   string
		rounds   int
		interval bool
	}{
		{full, MethodElo, 0, false},
		{full, MethodElo, 50, true},
		{full, MethodBT, 0, false},
		{full.WithoutTies(), MethodBT, 50, true},
		{full, MethodWinRate, 0, true},
	} {
		r := Rater{Full: full, Rated: tt.rated, Bootstrap: Bootstrap{Rounds: tt.rounds, Seed: 1},
			Elo: EloOptions{Init: 1000, K: 4, Scale: 400}, BT: BTOptions{Scale: 400, Centre: 1000}}
		got, err := r.Rate(tt.method)
		if err != nil {
			t.Fatalf("%s: %v", tt.method, err)
		}
		if got.Method != tt.method || got.Battles != tt.rated.Len() || got.Bootstrap != tt.rounds || len(got.Ratings) != 3 {
			t.Fatalf("%s: %+v", tt.method, got)
		}
		if got.Ratings[0].Model != "tuned" || got.Ratings[2].Model != "base" {
			t.Errorf("%s: order %s, %s, %s; want tuned first, base last", tt.method,
				got.Ratings[0].Model, got.Ratings[1].Model, got.Ratings[2].Model)
		}
		for i, m := range got.Ratings {
			if i > 0 && m.Rating > got.Ratings[i-1].Rating {
				t.Errorf("%s: not best first: %+v", tt.method, got.Ratings)
			}
			if (m.CILow != nil) != tt.interval || (m.CILow != nil && !(*m.CILow <= m.Rating && m.Rating <= *m.CIHigh)) {
				t.Errorf("%s, %d rounds: %s's interval %v–%v around %v; want one: %v", tt.method, tt.rounds, m.Model, m.CILow, m.CIHigh, m.Rating, tt.interval)
			}
			if (m.Strength != nil) != (tt.method == MethodBT) {
				t.Errorf("%s: %s's strength %v", tt.method, m.Model, m.Strength)
			}
		}
		if tuned := got.Ratings[0]; tuned.Wins != 11 || tuned.Losses != 4 || tuned.Ties != 2 {
			t.Errorf("%s: tuned's record %d/%d/%d, want 11/4/2 over every battle", tt.method, tuned.Wins, tuned.Losses, tuned.Ties)
		}
	}
	if _, err := (Rater{Full: full, Rated: full}).Rate("glicko"); ethos.KindOf(err) != ethos.Invalid {
		t.Errorf("an unknown method: %v, want Invalid", err)
	}
}

func TestMethodsOfAndParseAnchor(t *testing.T) {
	t.Parallel()
	if m, ok := MethodsOf("all"); !ok || len(m) != 3 || m[0] != MethodElo || m[2] != MethodWinRate {
		t.Errorf("MethodsOf(all) = %v, %v", m, ok)
	}
	if m, ok := MethodsOf("bt"); !ok || len(m) != 1 || m[0] != MethodBT {
		t.Errorf("MethodsOf(bt) = %v, %v", m, ok)
	}
	if _, ok := MethodsOf("glicko"); ok {
		t.Error("MethodsOf(glicko) accepted")
	}
	if model, r, ok := ParseAnchor("base=1012.5"); !ok || model != "base" || r != 1012.5 {
		t.Errorf("ParseAnchor(base=1012.5) = %q, %v, %v", model, r, ok)
	}
	for _, bad := range []string{"base", "=1000", "base=high", ""} {
		if _, _, ok := ParseAnchor(bad); ok {
			t.Errorf("ParseAnchor(%q) accepted", bad)
		}
	}
}

// Over skips ties only when asked, and says when nothing is left; RateEach
// keeps the methods that worked when another fails.
func TestRaterOverAndRateEach(t *testing.T) {
	t.Parallel()
	ties := []Battle{{Left: "a", Right: "b", Winner: Tie}, {Left: "b", Right: "a", Winner: Tie}}
	if r, err := (Rater{}).Over(ties); err != nil || r.Rated.Len() != 2 {
		t.Errorf("ties counted half: %v, %d rated", err, r.Rated.Len())
	}
	if _, err := (Rater{Elo: EloOptions{Ties: TiesSkip}}).Over(ties); ethos.KindOf(err) != ethos.Invalid {
		t.Errorf("every battle a tie, ties skipped: %v, want an Invalid error", err)
	}

	// a wins every battle: Bradley–Terry has no finite rating.
	sweep := []Battle{{Left: "a", Right: "b", Winner: Left}, {Left: "b", Right: "a", Winner: Right}}
	r, err := (Rater{Elo: EloOptions{Init: 1000, K: 4, Scale: 400}, BT: BTOptions{Scale: 400, Centre: 1000}}).Over(sweep)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := r.RateEach([]string{MethodBT}); err == nil || res != nil {
		t.Errorf("bt alone: %v, %v; want its error and no results", res, err)
	}
	res, err := r.RateEach(Methods)
	if ethos.KindOf(err) != ethos.Invalid || err == nil || !strings.Contains(err.Error(), "1 of 3 methods failed: bt failed: ") {
		t.Errorf("all: error %v", err)
	}
	if len(res) != 3 || len(res[0].Ratings) != 2 || res[1].Error == "" || len(res[1].Ratings) != 0 || res[1].Battles != 2 || len(res[2].Ratings) != 2 {
		t.Errorf("all: %+v; want elo and winrate rated and bt with its error", res)
	}
}

// TestRaterFlags: the flags fill Elo's and the bootstrap's settings, and
// Check gives Bradley–Terry Elo's scale and centre and the anchor named,
// or refuses what no method can use.
func TestRaterFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    []string
		want    Rater
		wantErr string
	}{
		{name: "defaults", want: Rater{Bootstrap: Bootstrap{Rounds: 1000, Seed: 1},
			Elo: EloOptions{Init: 1000, K: 4, Scale: 400, Ties: TiesHalf}, BT: BTOptions{Scale: 400, Centre: 1000}}},
		{name: "every flag", args: []string{"--init", "1500", "--k", "32", "--scale", "173", "--ties", "skip", "--bootstrap", "0", "--seed", "7", "--anchor", "base=1200"},
			want: Rater{Bootstrap: Bootstrap{Rounds: 0, Seed: 7}, Elo: EloOptions{Init: 1500, K: 32, Scale: 173, Ties: TiesSkip},
				BT: BTOptions{Scale: 173, Centre: 1500, Anchor: "base", AnchorRating: 1200}}},
		{name: "unknown tie rule", args: []string{"--ties", "drop"}, wantErr: `--ties "drop": want half or skip`},
		{name: "zero K", args: []string{"--k", "0"}, wantErr: "--k and --scale must be positive"},
		{name: "negative bootstrap", args: []string{"--bootstrap", "-1"}, wantErr: "--bootstrap at least 0"},
		{name: "anchor without a rating", args: []string{"--anchor", "base"}, wantErr: `--anchor "base": want MODEL=RATING`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("rate", flag.ContinueOnError)
			var r Rater
			r.RegisterFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := r.Check()
			if tc.wantErr != "" {
				if ethos.KindOf(err) != ethos.Config || err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Check: %v, want a Config error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Bootstrap != tc.want.Bootstrap || r.Elo != tc.want.Elo || r.BT != tc.want.BT {
				t.Errorf("rater %+v %+v %+v, want %+v %+v %+v", r.Bootstrap, r.Elo, r.BT, tc.want.Bootstrap, tc.want.Elo, tc.want.BT)
			}
		})
	}
}
