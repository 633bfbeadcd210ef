package stats

// Counting is each model's wins plus half its ties.
func Counting(t *Table) []float64 {
	out := make([]float64, len(t.Models))
	for b, s := range t.score {
		out[t.left[b]] += s
		out[t.right[b]] += 1 - s
	}
	return out
}

// WinRate is each model's share of points over all its battles, a tie
// counting ½: (wins + ½·ties)/games.
func WinRate(t *Table) []float64 {
	out := Counting(t)
	games := make([]float64, len(t.Models))
	for b := range t.score {
		games[t.left[b]]++
		games[t.right[b]]++
	}
	for i := range out {
		out[i] /= games[i]
	}
	return out
}

// AverageWinRate is, for each model, the mean over the opponents it met
// of its share of points against that opponent, M_ij/(M_ij + M_ji) with
// M = wins + ½·ties. Unlike WinRate it does not let one frequent opponent
// dominate.
func AverageWinRate(t *Table) []float64 {
	k := len(t.Models)
	m := make([]float64, k*k)
	for b, s := range t.score {
		l, r := int(t.left[b]), int(t.right[b])
		m[l*k+r] += s
		m[r*k+l] += 1 - s
	}
	out := make([]float64, k)
	for i := 0; i < k; i++ {
		met := 0
		for j := 0; j < k; j++ {
			if tot := m[i*k+j] + m[j*k+i]; j != i && tot > 0 {
				out[i] += m[i*k+j] / tot
				met++
			}
		}
		if met > 0 {
			out[i] /= float64(met)
		}
	}
	return out
}
