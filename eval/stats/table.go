package stats

import (
	"fmt"
	"slices"
)

// Table is a list of battles compiled for rating: model names replaced by
// indices, file order kept (online Elo depends on it), and optionally each
// battle's group — the unit a bootstrap resamples. In an evaluation the
// group is the prompt: the two orders of one comparison, and every trait
// judged on it, are not independent, so they are resampled together.
type Table struct {
	// Models are the model names in sorted order; every per-model result
	// of this package is aligned with it.
	Models []string
	index  map[string]int

	left, right []int32
	score       []float64 // the left model's score: 1 win, ½ tie, 0 loss

	group  []int32 // the battle's group, nil when every battle is its own
	groups int

	// Filled by compileCells.
	pairs [][2]int32 // distinct unordered pairs of models, lower index first
	cell  []int32    // per battle: 3·pair + outcome (0 lower wins, 1 tie, 2 higher wins)
}

// NewTable compiles battles; each battle is its own resampling unit.
func NewTable(battles []Battle) *Table {
	t := &Table{index: map[string]int{}}
	for _, b := range battles {
		for _, m := range []string{b.Left, b.Right} {
			if _, ok := t.index[m]; !ok {
				t.index[m] = 0
				t.Models = append(t.Models, m)
			}
		}
	}
	slices.Sort(t.Models)
	for i, m := range t.Models {
		t.index[m] = i
	}
	t.left = make([]int32, len(battles))
	t.right = make([]int32, len(battles))
	t.score = make([]float64, len(battles))
	for i, b := range battles {
		t.left[i] = int32(t.index[b.Left])
		t.right[i] = int32(t.index[b.Right])
		switch b.Winner {
		case Left:
			t.score[i] = 1
		case Tie:
			t.score[i] = 0.5
		}
	}
	return t
}

// NewGroupedTable compiles battles whose i-th battle belongs to the group
// named groups[i]; a bootstrap over the table resamples whole groups.
func NewGroupedTable(battles []Battle, groups []string) (*Table, error) {
	if len(groups) != len(battles) {
		return nil, fmt.Errorf("stats: %d group keys for %d battles", len(groups), len(battles))
	}
	t := NewTable(battles)
	ids := map[string]int32{}
	t.group = make([]int32, len(battles))
	for i, g := range groups {
		id, ok := ids[g]
		if !ok {
			id = int32(len(ids))
			ids[g] = id
		}
		t.group[i] = id
	}
	t.groups = len(ids)
	return t, nil
}

// Len is the number of battles.
func (t *Table) Len() int { return len(t.score) }

// Groups is the number of resampling units: groups if the table has
// them, else battles.
func (t *Table) Groups() int {
	if t.group == nil {
		return len(t.score)
	}
	return t.groups
}

// Index returns the position of model in Models.
func (t *Table) Index(model string) (int, bool) {
	i, ok := t.index[model]
	return i, ok
}

// WithoutTies returns the table less its tied battles (the "skip" tie
// rule), keeping the models, order and groups.
func (t *Table) WithoutTies() *Table {
	u := &Table{Models: t.Models, index: t.index, groups: t.groups}
	for i, s := range t.score {
		if s == 0.5 {
			continue
		}
		u.left = append(u.left, t.left[i])
		u.right = append(u.right, t.right[i])
		u.score = append(u.score, s)
		if t.group != nil {
			u.group = append(u.group, t.group[i])
		}
	}
	return u
}

// Record is a model's wins, losses and ties.
type Record struct {
	Wins, Losses, Ties int
}

// Games is the number of battles the model played.
func (r Record) Games() int { return r.Wins + r.Losses + r.Ties }

// Records counts each model's wins, losses and ties.
func (t *Table) Records() []Record {
	recs := make([]Record, len(t.Models))
	for i, s := range t.score {
		l, r := t.left[i], t.right[i]
		switch s {
		case 1:
			recs[l].Wins++
			recs[r].Losses++
		case 0:
			recs[l].Losses++
			recs[r].Wins++
		default:
			recs[l].Ties++
			recs[r].Ties++
		}
	}
	return recs
}

// compileCells assigns every battle to a cell: its unordered pair of
// models (lower index first) and the outcome from the lower index's side.
// Bradley–Terry needs nothing else, and a bootstrap round only has to
// count cells.
func (t *Table) compileCells() {
	if t.cell != nil || len(t.score) == 0 {
		return
	}
	at := map[[2]int32]int32{}
	t.cell = make([]int32, len(t.score))
	for b, s := range t.score {
		i, j := t.left[b], t.right[b]
		if i > j {
			i, j, s = j, i, 1-s
		}
		p, ok := at[[2]int32{i, j}]
		if !ok {
			p = int32(len(t.pairs))
			at[[2]int32{i, j}] = p
			t.pairs = append(t.pairs, [2]int32{i, j})
		}
		outcome := int32(1) // tie
		switch s {
		case 1:
			outcome = 0
		case 0:
			outcome = 2
		}
		t.cell[b] = 3*p + outcome
	}
}

// cellCounts counts the battles of each cell.
func (t *Table) cellCounts() []float64 {
	t.compileCells()
	counts := make([]float64, 3*len(t.pairs))
	for _, c := range t.cell {
		counts[c]++
	}
	return counts
}
