package stats

import (
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
