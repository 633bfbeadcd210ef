package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// syntheticBattles draws n battles among k models whose true ratings are
// spread 40 points apart, with 20% ties.
func syntheticBattles(n, k int, seed uint64) []Battle {
	rng := rand.New(rand.NewPCG(seed, 0))
	names := make([]string, k)
	for i := range names {
		names[i] = fmt.Sprintf("model-%02d", i)
	}
	out := make([]Battle, n)
	for b := range out {
		i, j := rng.IntN(k), rng.IntN(k-1)
		if j >= i {
			j++
		}
		p := 1 / (1 + math.Pow(10, float64(j-i)*40/400))
		w := Tie
		switch u := rng.Float64(); {
		case u < 0.2:
		case u < 0.2+0.8*p:
			w = Left
		default:
			w = Right
		}
		out[b] = Battle{names[i], names[j], w}
	}
	return out
}

// BenchmarkBradleyTerryBootstrap is the speed target of the evaluation
// issue: Bradley–Terry with 1,000 bootstrap rounds over 100,000 battles
// among 20 models in under 5 s on 2 cores. One op is the whole job: the
// point fit plus 1,000 refits.
func BenchmarkBradleyTerryBootstrap(b *testing.B) {
	tab := NewTable(syntheticBattles(100_000, 20, 1))
	b.ResetTimer()
	for b.Loop() {
		if _, err := BradleyTerry(tab, BTOptions{}); err != nil {
			b.Fatal(err)
		}
		iv, err := Bootstrap{Rounds: 1000, Seed: 1}.BradleyTerry(tab, BTOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if iv.Dropped != 0 {
			b.Fatalf("%d rounds dropped", iv.Dropped)
		}
	}
}

// BenchmarkBradleyTerryFit is one fit of the same data.
func BenchmarkBradleyTerryFit(b *testing.B) {
	tab := NewTable(syntheticBattles(100_000, 20, 1))
	for b.Loop() {
		if _, err := BradleyTerry(tab, BTOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEloBootstrap is FastChat's Elo bootstrap on the same data with
// 1,000 rounds, for comparison.
func BenchmarkEloBootstrap(b *testing.B) {
	tab := NewTable(syntheticBattles(100_000, 20, 1))
	for b.Loop() {
		if _, err := (Bootstrap{Rounds: 1000, Seed: 1}).Elo(tab, EloOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
