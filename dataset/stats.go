package dataset

import (
	"context"
	"errors"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/ethos-toolkit/ethos"
)

// Stats summarises a dataset. Token counts are estimates by the rule every
// budget in ethos uses (ethos.EstimateTokens: four bytes a token), with four
// tokens of overhead a message, as llm.EstimateInput counts them; a
// provider's tokenizer will differ by a few tens of percent.
type Stats struct {
	Path string `json:"path"`
	// Format is the format of the first example, by Together's names:
	// conversation, instruction, preference or general.
	Format string `json:"format"`
	// Examples counts the lines that are JSON objects with a known format;
	// Skipped counts the other lines (blank, not JSON, unknown columns),
	// which "ethos dataset check" reports.
	Examples int `json:"examples"`
	Skipped  int `json:"skipped"`
	// Turns counts messages (or columns, for the instruction and general
	// formats) over all examples.
	Turns           int          `json:"turns"`
	TurnsPerExample Distribution `json:"turns_per_example"`
	// Roles has one entry per role (or column), in the order system,
	// developer, user, assistant, tool, then the others by name.
	Roles []RoleStats `json:"roles"`
	// Tokens is the distribution of estimated tokens per example.
	Tokens      Distribution `json:"tokens"`
	TotalTokens int          `json:"total_tokens"`
	// TrainedTokens are the estimated tokens of the text the model learns
	// to write: assistant messages with a weight other than 0,
	// completions and preferred outputs.
	TrainedTokens int `json:"trained_tokens"`
	// Histogram counts examples by estimated tokens in about ten buckets
	// of equal, round width (1, 2 or 5 times a power of ten), from the
	// bucket of the shortest example to that of the longest; empty
	// buckets between are included, so they can be drawn as they are.
	Histogram []Bucket `json:"histogram"`
	// Duplicates counts examples identical to an earlier one;
	// NearDuplicates those whose text is nearly the same as an earlier
	// one's (see Check).
	Duplicates     int `json:"duplicates"`
	NearDuplicates int `json:"near_duplicates"`
	// Preference summarises the pairs of a preference (DPO) file: set
	// when the first example is a preference example, nil otherwise.
	Preference *PreferenceStats `json:"preference,omitempty"`
}

// PreferenceStats summarises the pairs of a preference file: the tokens of
// each part (estimated as for Stats, message overhead included) and how
// many pairs have outputs that do not differ (see Check's
// preference.identical and preference.near_identical).
type PreferenceStats struct {
	// Pairs counts the preference examples with both outputs readable.
	Pairs int `json:"pairs"`
	// InputTokens, PreferredTokens and NonPreferredTokens are the tokens
	// per pair of the input messages and of each output.
	InputTokens        Distribution `json:"input_tokens"`
	PreferredTokens    Distribution `json:"preferred_tokens"`
	NonPreferredTokens Distribution `json:"non_preferred_tokens"`
	// Identical counts pairs whose outputs are the same text;
	// NearIdentical those whose outputs are nearly the same.
	Identical     int `json:"identical"`
	NearIdentical int `json:"near_identical"`
	// SharedPrefix is the mean, over pairs, of the share of the shorter
	// output's words that open both outputs alike; SharedPrefixHalf counts
	// the pairs that share at least half. DPO learns only from where the
	// sides differ, so a pair alike for most of its length teaches little.
	SharedPrefix     float64 `json:"shared_prefix"`
	SharedPrefixHalf int     `json:"shared_prefix_half"`
	// RejectedLonger counts the pairs whose non-preferred output has more
	// tokens than the preferred one: when most do, DPO can learn to be
	// brief rather than to be the character.
	RejectedLonger int `json:"rejected_longer"`
}

// pairTally gathers PreferenceStats.
type pairTally struct {
	st                         PreferenceStats
	input, preferred, rejected []int
	prefixSum                  float64
}

// add counts one preference example's turns.
func (p *pairTally) add(turns []turn) {
	var in, chosen, rejected int
	var texts [2]string
	var read [2]bool
	for _, t := range turns {
		n := ethos.EstimateTokens(t.text) + messageOverhead
		switch t.role {
		case "preferred_output":
			chosen, texts[0], read[0] = n, t.text, true
		case "non_preferred_output":
			rejected, texts[1], read[1] = n, t.text, true
		default:
			in += n
		}
	}
	if !read[0] || !read[1] {
		return
	}
	p.st.Pairs++
	p.input, p.preferred, p.rejected = append(p.input, in), append(p.preferred, chosen), append(p.rejected, rejected)
	share := sharedPrefix(texts[0], texts[1])
	p.prefixSum += share
	if share >= 0.5 {
		p.st.SharedPrefixHalf++
	}
	if rejected > chosen {
		p.st.RejectedLonger++
	}
	switch identical, _, near := sidesAlike(texts[0], texts[1]); {
	case identical:
		p.st.Identical++
	case near:
		p.st.NearIdentical++
	}
}

func (p *pairTally) stats() *PreferenceStats {
	st := p.st
	st.InputTokens, st.PreferredTokens, st.NonPreferredTokens = distribution(p.input), distribution(p.preferred), distribution(p.rejected)
	if st.Pairs > 0 {
		st.SharedPrefix = p.prefixSum / float64(st.Pairs)
	}
	return &st
}

// sharedPrefix is the share of the shorter text's words that open both
// texts alike: 0 when their first words differ, 1 when one text opens the
// other (or both are empty).
func sharedPrefix(a, b string) float64 {
	wa, wb := strings.Fields(a), strings.Fields(b)
	shorter := min(len(wa), len(wb))
	if shorter == 0 {
		return 1
	}
	n := 0
	for n < shorter && wa[n] == wb[n] {
		n++
	}
	return float64(n) / float64(shorter)
}

// RoleStats counts the messages of one role and their estimated tokens.
type RoleStats struct {
	Role       string  `json:"role"`
	Messages   int     `json:"messages"`
	Tokens     int     `json:"tokens"`
	MeanTokens float64 `json:"mean_tokens"`
}

// Distribution summarises a list of counts. Percentiles are by the
// nearest-rank method: P90 is the smallest value that at least 90% of the
// values do not exceed.
type Distribution struct {
	Min  int     `json:"min"`
	P50  int     `json:"p50"`
	P90  int     `json:"p90"`
	Max  int     `json:"max"`
	Mean float64 `json:"mean"`
}

// Bucket counts the examples with From ≤ tokens < To.
type Bucket struct {
	From  int `json:"from"`
	To    int `json:"to"`
	Count int `json:"count"`
}

// messageOverhead is the estimated tokens a message costs beyond its text.
const messageOverhead = 4

// StatsFile reads the dataset at path and summarises it. Lines that are
// not examples are counted in Skipped, not reported: Check does that.
func StatsFile(ctx context.Context, path string) (*Stats, error) {
	f, err := openDataset(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := ReadStats(ctx, f)
	if st != nil {
		st.Path = path
	}
	return st, err
}

// ReadStats summarises the dataset read from r.
func ReadStats(ctx context.Context, r io.Reader) (*Stats, error) {
	c := &checker{p: together} // parses without reporting
	dups := newDupIndex()
	st := &Stats{Roles: []RoleStats{}, Histogram: []Bucket{}}
	roles := map[string]*RoleStats{}
	var tokens, turns []int
	var pairs pairTally
	lr := newLineReader(r, 0)
	for {
		if lr.n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		line, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, ethos.Errorf(ethos.Invalid, "reading dataset: %w", err)
		}
		if lr.n == 1 {
			line = trimBOM(line)
		}
		ex, ok := c.parse(lr.n, line)
		if !ok || ex.format == "" {
			st.Skipped++
			continue
		}
		st.Examples++
		if MethodOf(ex.format) == MethodPreference {
			pairs.add(ex.turns)
		}
		exTokens := 0
		for _, t := range ex.turns {
			n := ethos.EstimateTokens(t.text)
			exTokens += n + messageOverhead
			rs := roles[t.role]
			if rs == nil {
				rs = &RoleStats{Role: t.role}
				roles[t.role] = rs
			}
			rs.Messages++
			rs.Tokens += n
			if trained(t) {
				st.TrainedTokens += n
			}
		}
		st.Turns += len(ex.turns)
		st.TotalTokens += exTokens
		tokens = append(tokens, exTokens)
		turns = append(turns, len(ex.turns))
		switch exactOf, nearOf, _ := dups.add(lr.n, ex.turns); {
		case exactOf > 0:
			st.Duplicates++
		case nearOf > 0:
			st.NearDuplicates++
		}
	}
	st.Format = c.format
	if MethodOf(st.Format) == MethodPreference {
		st.Preference = pairs.stats()
	}
	st.Tokens = distribution(tokens)
	st.TurnsPerExample = distribution(turns)
	st.Histogram = histogram(tokens)
	for _, rs := range roles {
		rs.MeanTokens = float64(rs.Tokens) / float64(rs.Messages)
		st.Roles = append(st.Roles, *rs)
	}
	sort.Slice(st.Roles, func(i, j int) bool {
		a, b := roleRank(st.Roles[i].Role), roleRank(st.Roles[j].Role)
		if a != b {
			return a < b
		}
		return st.Roles[i].Role < st.Roles[j].Role
	})
	return st, nil
}

func trimBOM(line []byte) []byte {
	if len(line) >= 3 && string(line[:3]) == string(utf8BOM) {
		return line[3:]
	}
	return line
}

// trained says whether a turn is text the model learns to write.
func trained(t turn) bool {
	switch t.role {
	case "assistant":
		return t.weight != 0
	case "completion", "preferred_output":
		return true
	}
	return false
}

var roleOrder = []string{"system", "developer", "user", "prompt", "text", "assistant", "completion", "preferred_output", "non_preferred_output", "tool", "function"}

func roleRank(role string) int {
	if i := slices.Index(roleOrder, role); i >= 0 {
		return i
	}
	return len(roleOrder)
}

// distribution summarises values; it sorts them.
func distribution(values []int) Distribution {
	if len(values) == 0 {
		return Distribution{}
	}
	slices.Sort(values)
	sum := 0
	for _, v := range values {
		sum += v
	}
	return Distribution{
		Min:  values[0],
		P50:  nearestRank(values, 50),
		P90:  nearestRank(values, 90),
		Max:  values[len(values)-1],
		Mean: float64(sum) / float64(len(values)),
	}
}

// nearestRank returns the p-th percentile of sorted values: the value at
// rank ⌈p/100·n⌉.
func nearestRank(sorted []int, p int) int {
	rank := (p*len(sorted) + 99) / 100
	return sorted[max(rank, 1)-1]
}

// histogram counts values in about histogramBuckets buckets of equal,
// round width (1, 2 or 5 times a power of ten), from the bucket of the
// smallest value to that of the largest.
func histogram(values []int) []Bucket {
	if len(values) == 0 {
		return []Bucket{}
	}
	lo, hi := slices.Min(values), slices.Max(values)
	width := roundWidth(float64(hi-lo) / histogramBuckets)
	start := lo / width * width
	buckets := make([]Bucket, hi/width-lo/width+1)
	for i := range buckets {
		from := start + i*width
		buckets[i] = Bucket{From: from, To: from + width}
	}
	for _, v := range values {
		buckets[(v-start)/width].Count++
	}
	return buckets
}

const histogramBuckets = 10

// roundWidth is the smallest of 1, 2, 5, 10, 20, 50, … that is at least w.
func roundWidth(w float64) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if float64(m*p) >= w {
				return m * p
			}
		}
	}
}
