package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/dataset"
	"github.com/ethos-toolkit/ethos/generate"
)

// datasetData is the dataset page and GET /api/runs/{id}/dataset: what a
// generation run's accepted examples cover.
type datasetData struct {
	Run    ethos.Run             `json:"run"`
	Output string                `json:"output,omitempty"` // the dataset file the run writes
	Stats  section[datasetStats] `json:"stats"`
	// File is the written file's statistics; nil until it exists.
	File section[*fileStats] `json:"file"`
}

// datasetStats describes the accepted examples of a run, from the store.
type datasetStats struct {
	Examples   int           `json:"examples"`
	Target     int           `json:"target,omitempty"`
	Categories []categoryRow `json:"categories"`
	Traits     []traitRow    `json:"traits"`
	DocTypes   []nameCount   `json:"document_types"`
	DocWords   histogram     `json:"document_words"`
	ReplyWords histogram     `json:"reply_words"`
	// Duplicates are the near-duplicates review caught, grouped by the
	// accepted item they repeated; the largest clusters first.
	Duplicates      []dupCluster `json:"duplicate_clusters"`
	DuplicateCount  int          `json:"duplicates"`
	ClustersOmitted int          `json:"clusters_omitted,omitempty"`
}

type categoryRow struct {
	Name     string `json:"name"`
	Hard     bool   `json:"hard,omitempty"`
	Examples int    `json:"examples"`
	Planned  int    `json:"planned"`
}

type traitRow struct {
	Name     string  `json:"name"`
	Examples int     `json:"examples"` // examples whose idea targets the trait
	Scored   int     `json:"scored"`   // examples with an LLM review score for it
	Mean     float64 `json:"mean_score,omitempty"`
}

type nameCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

type dupCluster struct {
	Stage string    `json:"stage"`
	Of    int64     `json:"of"` // the accepted item repeated
	Items []dupItem `json:"items"`
}

type dupItem struct {
	ID         int64            `json:"id"`
	Status     ethos.ItemStatus `json:"status"`
	Similarity float64          `json:"similarity"`
}

// histogram counts values in equal-width bins, with the geometry of its
// SVG bars (the template draws rects; no markup is built in Go).
type histogram struct {
	Count  int     `json:"count"`
	Min    int     `json:"min"`
	Max    int     `json:"max"`
	Mean   float64 `json:"mean"`
	Median int     `json:"median"`
	Bins   []bin   `json:"bins"`
}

type bin struct {
	Lo    int `json:"lo"` // inclusive
	Hi    int `json:"hi"` // exclusive
	Count int `json:"count"`
	// Bar geometry in the chart's 0 0 600 150 viewBox.
	X, Y, W, H float64 `json:"-"`
}

// Label names the bin's range of values.
func (b bin) Label() string {
	if b.Hi-b.Lo <= 1 {
		return strconv.Itoa(b.Lo)
	}
	return strconv.Itoa(b.Lo) + "–" + strconv.Itoa(b.Hi-1)
}

// histBins is the number of bins of a length histogram.
const histBins = 20

// maxClusters bounds the duplicate clusters listed.
const maxClusters = 50

// newHistogram bins values.
func newHistogram(values []int) histogram {
	h := histogram{Count: len(values)}
	if len(values) == 0 {
		return h
	}
	slices.Sort(values)
	h.Min, h.Max = values[0], values[len(values)-1]
	h.Median = values[len(values)/2]
	sum := 0
	for _, v := range values {
		sum += v
	}
	h.Mean = math.Round(float64(sum)/float64(len(values))*10) / 10
	width := max((h.Max-h.Min)/histBins+1, 1)
	nb := (h.Max-h.Min)/width + 1
	h.Bins = make([]bin, nb)
	for i := range h.Bins {
		h.Bins[i].Lo = h.Min + i*width
		h.Bins[i].Hi = h.Bins[i].Lo + width
	}
	for _, v := range values {
		h.Bins[(v-h.Min)/width].Count++
	}
	layoutBars(h.Bins)
	return h
}

// layoutBars computes the geometry of histogram bars.
func layoutBars(bins []bin) {
	most := 0
	for _, b := range bins {
		most = max(most, b.Count)
	}
	if most == 0 {
		most = 1
	}
	const w, ht = 600.0, 150.0
	bw := w / float64(len(bins))
	for i := range bins {
		b := &bins[i]
		b.W = math.Round((bw-2)*10) / 10
		b.X = math.Round(float64(i)*bw*10) / 10
		b.H = math.Round(ht*float64(b.Count)/float64(most)*10) / 10
		b.Y = ht - b.H
	}
}

// fileStats is the dataset file a generation run wrote, as
// dataset.StatsFile reads it (what a provider will be sent).
type fileStats struct {
	*dataset.Stats
	// TokenBars draws Stats.Histogram.
	TokenBars histogram `json:"-"`
}

// fileStatsOf reads the run's dataset file in the background, keyed by
// the file's size and time; nil when the file is not there (yet).
func (s *Server) fileStatsOf(ctx context.Context, runID, path string) section[*fileStats] {
	if path == "" {
		return section[*fileStats]{}
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return section[*fileStats]{}
	}
	if err != nil {
		return section[*fileStats]{Err: ethos.Errorf(ethos.Internal, "dataset file %s: %w", path, err)}
	}
	version := fmt.Sprint(path, fi.Size(), fi.ModTime().UnixNano())
	c := s.snaps.get(ctx, topicRun+runID+"|file", version, func(ctx context.Context) (any, error) {
		st, err := dataset.StatsFile(ctx, path)
		if err != nil {
			return nil, err
		}
		fsv := &fileStats{Stats: st}
		h := histogram{Count: st.Examples, Min: st.Tokens.Min, Max: st.Tokens.Max, Mean: st.Tokens.Mean, Median: st.Tokens.P50}
		for _, b := range st.Histogram {
			h.Bins = append(h.Bins, bin{Lo: b.From, Hi: b.To, Count: b.Count})
		}
		layoutBars(h.Bins)
		fsv.TokenBars = h
		return fsv, nil
	})
	return fromCache[*fileStats](c)
}

// dupReason parses the reason review gives a near-duplicate.
var dupReason = regexp.MustCompile(`^near-duplicate: of ([a-z]+) #(\d+) \(similarity ([0-9.]+)\)`)

// parseDupReason returns the item a near-duplicate repeats and how
// similar it is; ok is false for any other reason.
func parseDupReason(reason string) (of int64, similarity float64, ok bool) {
	m := dupReason.FindStringSubmatch(reason)
	if m == nil {
		return 0, 0, false
	}
	of, err := strconv.ParseInt(m[2], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	similarity, err = strconv.ParseFloat(m[3], 64)
	if err != nil || math.IsNaN(similarity) {
		return 0, 0, false
	}
	return of, similarity, true
}

func (s *Server) dataset(ctx context.Context, run ethos.Run) datasetData {
	d := datasetData{Run: run}
	var settings generate.Settings
	if len(run.Params) > 0 {
		// Settings of another shape (an older run) leave quotas empty; the
		// counts from the store still stand.
		json.Unmarshal(run.Params, &settings)
	}
	d.Output = settings.Output
	counts, err := s.counts(ctx, run)
	if err != nil {
		d.Stats = section[datasetStats]{Err: err}
		return d
	}
	version := s.runVersion(ctx, run.ID)
	c := s.snaps.get(ctx, topicRun+run.ID+"|dataset", version, func(ctx context.Context) (any, error) {
		return s.computeDataset(ctx, run.ID, settings, counts)
	})
	d.Stats = fromCache[datasetStats](c)
	d.File = s.fileStatsOf(ctx, run.ID, d.Output)
	return d
}

// computeDataset reads a run's accepted ideas, documents and replies (with
// their data, page by page) and its near-duplicate rejections.
func (s *Server) computeDataset(ctx context.Context, runID string, settings generate.Settings, counts []ethos.ItemCount) (datasetStats, error) {
	type ideaInfo struct {
		category string
		traits   []string
	}
	type docInfo struct {
		idea  int64
		words int
		typ   string
	}
	ideas := map[int64]ideaInfo{}
	err := s.eachItem(ctx, ethos.ItemFilter{RunID: runID, Stage: stageIdea, Status: ethos.ItemAccepted}, func(it ethos.Item) {
		var v ideaView
		if json.Unmarshal(it.Data, &v) == nil {
			ideas[it.ID] = ideaInfo{v.Category, v.Traits}
		}
	})
	if err != nil {
		return datasetStats{}, err
	}
	docs := map[int64]docInfo{}
	err = s.eachItem(ctx, ethos.ItemFilter{RunID: runID, Stage: stageDocument, Status: ethos.ItemAccepted}, func(it ethos.Item) {
		var v documentView
		if json.Unmarshal(it.Data, &v) == nil {
			docs[it.ID] = docInfo{it.ParentID, len(strings.Fields(v.Body)), v.Type}
		}
	})
	if err != nil {
		return datasetStats{}, err
	}

	st := datasetStats{Target: settings.Examples}
	perCategory := map[string]int{}
	perTrait := map[string]*traitRow{}
	trait := func(name string) *traitRow {
		t := perTrait[name]
		if t == nil {
			t = &traitRow{Name: name}
			perTrait[name] = t
		}
		return t
	}
	types := map[string]int{}
	var docWords, replyWords []int
	err = s.eachItem(ctx, ethos.ItemFilter{RunID: runID, Stage: stageResponse, Status: ethos.ItemAccepted}, func(it ethos.Item) {
		var v replyView
		if json.Unmarshal(it.Data, &v) != nil {
			return
		}
		st.Examples++
		replyWords = append(replyWords, len(strings.Fields(v.Reply)))
		for name, ts := range v.TraitScores {
			t := trait(name)
			t.Scored++
			t.Mean += float64(ts.Score)
		}
		doc, ok := docs[it.ParentID]
		if !ok {
			return
		}
		docWords = append(docWords, doc.words)
		types[doc.typ]++
		idea, ok := ideas[doc.idea]
		if !ok {
			return
		}
		perCategory[idea.category]++
		for _, name := range idea.traits {
			trait(name).Examples++
		}
	})
	if err != nil {
		return datasetStats{}, err
	}
	st.DocWords = newHistogram(docWords)
	st.ReplyWords = newHistogram(replyWords)

	quotas := map[string]int{}
	if len(settings.Character.Categories) > 0 && settings.Examples > 0 {
		quotas = generate.PlanCategories(settings.Character.Categories, settings.Examples, settings.Weights)
	}
	for _, c := range settings.Character.Categories {
		st.Categories = append(st.Categories, categoryRow{Name: c.Name, Hard: c.Hard, Examples: perCategory[c.Name], Planned: quotas[c.Name]})
		delete(perCategory, c.Name)
	}
	for _, name := range sortedKeys(perCategory) { // categories the settings do not name
		st.Categories = append(st.Categories, categoryRow{Name: name, Examples: perCategory[name]})
	}
	for _, t := range settings.Character.Traits {
		trait(t.Name)
	}
	for _, name := range sortedKeys(perTrait) {
		t := *perTrait[name]
		if t.Scored > 0 {
			t.Mean = math.Round(t.Mean/float64(t.Scored)*100) / 100
		}
		st.Traits = append(st.Traits, t)
	}
	for _, name := range sortedKeys(types) {
		st.DocTypes = append(st.DocTypes, nameCount{name, types[name]})
	}

	clusters := map[int64]*dupCluster{}
	for _, f := range statusFilters(runID, counts, ethos.ItemRejected, ethos.ItemQuarantined) {
		err := s.eachItem(ctx, f, func(it ethos.Item) {
			of, sim, ok := parseDupReason(it.Reason)
			if !ok {
				return
			}
			st.DuplicateCount++
			c := clusters[of]
			if c == nil {
				c = &dupCluster{Stage: it.Stage, Of: of}
				clusters[of] = c
			}
			c.Items = append(c.Items, dupItem{ID: it.ID, Status: it.Status, Similarity: sim})
		})
		if err != nil {
			return datasetStats{}, err
		}
	}
	for _, c := range clusters {
		slices.SortFunc(c.Items, func(a, b dupItem) int { return int(a.ID - b.ID) })
		st.Duplicates = append(st.Duplicates, *c)
	}
	slices.SortFunc(st.Duplicates, func(a, b dupCluster) int {
		if d := len(b.Items) - len(a.Items); d != 0 {
			return d
		}
		return int(a.Of - b.Of)
	})
	if len(st.Duplicates) > maxClusters {
		st.ClustersOmitted = len(st.Duplicates) - maxClusters
		st.Duplicates = st.Duplicates[:maxClusters]
	}
	return st, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (s *Server) handleDataset(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	run, err := s.store.Run(ctx, id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	topic := topicRun + id
	s.render(w, r, http.StatusOK, "dataset", &page{Title: "Dataset of " + id, Topic: topic,
		Version: s.fingerprint(ctx, topic), Data: s.dataset(ctx, run)})
}
