package sandbox

import (
	"flag"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
)

// Defects of generated content the sandbox can inject into answers to the
// ethos output contracts, so that the pipeline's review has something real
// to catch. Each applies only where it makes sense:
//
//	placeholder  an unfilled "{company_name}"-style slot         documents
//	chatter      "Here is the document…" / "Shall I continue…"   documents, replies
//	truncate     text cut short, stop reason max_tokens          documents, replies
//	duplicate    the same text as for another request            documents, replies
//	offformat    the contract broken (prose, missing tags, …)    ideas, documents, reviews
//	persona      "As an AI language model, I …"                  replies
//	short        fewer ideas than asked, valid JSON              ideas
const (
	DefectPlaceholder = "placeholder"
	DefectChatter     = "chatter"
	DefectTruncate    = "truncate"
	DefectDuplicate   = "duplicate"
	DefectOffFormat   = "offformat"
	DefectPersona     = "persona"
	DefectShort       = "short"
)

// DefectNames lists every defect, in the order they are drawn.
var DefectNames = []string{DefectPlaceholder, DefectChatter, DefectTruncate, DefectDuplicate, DefectOffFormat, DefectPersona, DefectShort}

func isDefect(name string) bool { return slices.Contains(DefectNames, name) }

// defectSet is what was drawn for one request.
type defectSet map[string]bool

// drawDefects decides which defects hit a request. Each defect gets its own
// roll, hashed from the request's seed and the defect's name, so the
// outcome depends on the request alone: not on arrival order, not on
// which other defects are configured. forced is always included.
func drawDefects(seed uint64, rates map[string]float64, forced string) defectSet {
	set := defectSet{}
	for _, name := range DefectNames {
		if r, ok := rates[name]; ok && r > 0 && unitRoll(seed, "defect:"+name) < r {
			set[name] = true
		}
	}
	if forced != "" {
		set[forced] = true
	}
	return set
}

// unitRoll is a number in [0, 1) that depends only on seed and label.
func unitRoll(seed uint64, label string) float64 {
	h := fnv.New64a()
	h.Write([]byte(label))
	return float64(splitmix(seed^h.Sum64())>>11) / (1 << 53)
}

// ParseDefects parses "placeholder=0.05,chatter=0.1" into a defect →
// probability map. Names must be among DefectNames and probabilities within
// [0, 1].
func ParseDefects(v string) (map[string]float64, error) {
	m := map[string]float64{}
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, rate, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("defect %q: want name=probability", part)
		}
		name = strings.TrimSpace(name)
		if !isDefect(name) {
			return nil, fmt.Errorf("defect %q: unknown name %q (want one of %s)", part, name, strings.Join(DefectNames, ", "))
		}
		p, err := strconv.ParseFloat(strings.TrimSpace(rate), 64)
		if err != nil || !(p >= 0 && p <= 1) {
			return nil, fmt.Errorf("defect %q: probability must be within [0, 1]", part)
		}
		m[name] = p
	}
	return m, nil
}

// RegisterDefectFlags registers --defect on fs, writing into *m:
//
//	--defect placeholder=0.05,chatter=0.05,truncate=0.02
//
// Repeating the flag adds to the map; a later value for a name wins.
func RegisterDefectFlags(fs *flag.FlagSet, m *map[string]float64) {
	fs.Var((*defectRates)(m), "defect", "inject content defects into ethos contract answers: comma-separated name=probability ("+strings.Join(DefectNames, ", ")+")")
}

// defectRates is the flag.Value behind --defect.
type defectRates map[string]float64

func (d *defectRates) String() string {
	if d == nil || len(*d) == 0 {
		return ""
	}
	names := make([]string, 0, len(*d))
	for n := range *d {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + strconv.FormatFloat((*d)[n], 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

func (d *defectRates) Set(v string) error {
	m, err := ParseDefects(v)
	if err != nil {
		return err
	}
	if *d == nil {
		*d = defectRates{}
	}
	for n, p := range m {
		(*d)[n] = p
	}
	return nil
}
