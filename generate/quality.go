package generate

import (
	"github.com/ethos-toolkit/ethos/dedup"
	"github.com/ethos-toolkit/ethos/review"
)

// The review rules and near-duplicate detection the pipeline applies live
// in the pure packages review and dedup, which dataset and eval use too.
// These names are the pipeline's own spelling of them.
type (
	// ReviewRules are the checks a document or reply must pass.
	//
	// Deprecated: use review.Rules.
	ReviewRules = review.Rules
	// Finding is one reason a text is rejected.
	//
	// Deprecated: use review.Finding.
	Finding = review.Finding
	// Deduper finds near-duplicate texts.
	//
	// Deprecated: use dedup.Index.
	Deduper = dedup.Index
)

// DefaultDedupThreshold is dedup.DefaultThreshold.
//
// Deprecated: use dedup.DefaultThreshold.
const DefaultDedupThreshold = dedup.DefaultThreshold

// NewDeduper is dedup.New.
//
// Deprecated: use dedup.New.
func NewDeduper(threshold float64) *Deduper { return dedup.New(threshold) }
