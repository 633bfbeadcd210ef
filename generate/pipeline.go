package generate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/dedup"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/review"
)

// MemoryLimit is the soft limit on the Go heap that `ethos generate` sets
// (unless GOMEMLIMIT is set): a run's live data is small, but decoding
// model output produces garbage quickly, and without a limit the heap
// grows to twice its live size between collections.
const MemoryLimit = 120 << 20

// GCPercent is the collector's pacing `ethos generate` sets beside
// MemoryLimit (unless GOGC is set). The live heap of a run is small (a few
// tens of MB), so the default of 100 — collect each time the heap doubles
// — collects every few MB of decoded model output, far below the limit;
// with MemoryLimit as the bound the heap may grow further between
// collections.
const GCPercent = 400

// Task names of the generation stages. Each is a durable job kind.
const (
	TaskIdeas    = "generate.ideas"
	TaskDocument = "generate.document"
	TaskResponse = "generate.response"
)

// Stages of the items a generation run keeps.
const (
	StageIdeas    = "ideas"    // one call asking for a batch of ideas
	StageIdea     = "idea"     // one scenario idea
	StageDocument = "document" // one attempt at an idea's context document
	StageResponse = "response" // one attempt at the reply; accepted = a training example

	// stageReview labels the LLM review's calls in the ledger; it keeps no
	// items of its own.
	stageReview = "review"
)

// Settings are what a generation run is asked to do. They are stored with
// the run, and a run's ID is derived from them, so running the same
// command again continues the same run.
type Settings struct {
	Examples     int                `json:"examples"`
	Seed         int64              `json:"seed"`
	Output       string             `json:"output"`
	Character    ethos.Character    `json:"character"`
	Generate     config.Generate    `json:"generate"`
	ConfigHash   string             `json:"config_hash"`
	Weights      map[string]float64 `json:"weights,omitempty"`
	Dedup        float64            `json:"dedup"` // near-duplicate Jaccard threshold
	Limits       RunLimits          `json:"limits"`
	PromptHashes map[string]string  `json:"prompt_versions"`
	// Dir is the absolute directory a relative Output is relative to: the
	// run's files land in the same place whichever process finishes it.
	// Not part of the run's ID.
	Dir string `json:"dir,omitempty"`
	// StopAfter, when StageDocument, ends the pipeline at accepted
	// documents: no replies are written and Examples counts documents.
	// Evaluations use it for held-out prompts. Empty runs every stage.
	StopAfter string `json:"stop_after,omitempty"`
}

// RunLimits bound the work a run may do before it reports a shortfall.
type RunLimits struct {
	// MaxIdeaBatches is the most idea calls per category.
	MaxIdeaBatches int `json:"max_idea_batches"`
}

// OutputPath is where the run's dataset goes: Output, against Dir when it
// is relative.
func (s Settings) OutputPath() string {
	if s.Dir == "" || filepath.IsAbs(s.Output) {
		return s.Output
	}
	return filepath.Join(s.Dir, s.Output)
}

// RunID derives the run's ID from its settings: the same settings give the
// same run, so an interrupted run is continued by running it again.
//
// Only what shapes the data counts: the character, the stage settings, the
// count, seed, output and prompt versions. A change elsewhere in ethos.yaml
// (a budget, a price) continues the same run.
func (s Settings) RunID() string {
	if s.Dedup <= 0 {
		s.Dedup = dedup.DefaultThreshold // as NewPipeline does, so the ID is the same before and after
	}
	// How calls are sent (online or by batch) does not change what is
	// asked: a run continues whichever mode its rerun uses.
	s.Generate.Ideas.Mode, s.Generate.Documents.Mode, s.Generate.Responses.Mode, s.Generate.Review.Mode = "", "", "", ""
	if s.Generate.Pairs != nil {
		pairs := *s.Generate.Pairs
		pairs.Mode = ""
		s.Generate.Pairs = &pairs
	}
	b, err := json.Marshal(struct {
		Examples  int
		Seed      int64
		Output    string
		Character ethos.Character
		Generate  config.Generate
		Weights   map[string]float64
		Dedup     float64
		Prompts   map[string]string
	}{s.Examples, s.Seed, s.Output, s.Character, s.Generate, s.Weights, s.Dedup, s.PromptHashes})
	if err != nil {
		panic("generate: encoding settings: " + err.Error())
	}
	if s.StopAfter != "" {
		// Appended only when set, so the IDs of full runs stay as they were.
		b = append(b, "|stop-after:"+s.StopAfter...)
	}
	sum := sha256.Sum256(b)
	return "gen-" + hex.EncodeToString(sum[:6])
}

// ideaData is the payload of an idea item.
type ideaData struct {
	Category string `json:"category"`
	Batch    int    `json:"batch"`
	Idea
}

// batchData is the payload of an ideas item: one call for a batch.
type batchData struct {
	Category  string `json:"category"`
	Batch     int    `json:"batch"`
	Requested int    `json:"requested"`
	Received  int    `json:"received"`
	Model     string `json:"model"`
	CallKey   string `json:"call_key,omitempty"`
	Feedback  string `json:"feedback,omitempty"` // why the previous attempt was rejected
}

// documentData is the payload of a document item.
type documentData struct {
	Document
	Feedback   string           `json:"feedback,omitempty"` // why the previous attempt was rejected
	Model      string           `json:"model"`
	CallKey    string           `json:"call_key,omitempty"`
	StopReason ethos.StopReason `json:"stop_reason,omitempty"`
	Findings   []review.Finding `json:"findings,omitempty"`
}

// responseData is the payload of a response item.
type responseData struct {
	Feedback    string                `json:"feedback,omitempty"` // why the previous attempt was rejected
	Reply       string                `json:"reply"`
	Model       string                `json:"model"`
	CallKey     string                `json:"call_key,omitempty"`
	StopReason  ethos.StopReason      `json:"stop_reason,omitempty"`
	Findings    []review.Finding      `json:"findings,omitempty"`
	TraitScores map[string]TraitScore `json:"trait_scores,omitempty"`
	ReviewModel string                `json:"review_model,omitempty"`
}

// taskPayload travels with document and response tasks.
type taskPayload struct {
	IdeaID     int64  `json:"idea_id"`
	DocumentID int64  `json:"document_id,omitempty"`
	Attempt    int    `json:"attempt"`
	Feedback   string `json:"feedback,omitempty"` // why the previous attempt was rejected
}

// batchPayload travels with ideas tasks.
type batchPayload struct {
	Category string `json:"category"`
	Batch    int    `json:"batch"`
	Want     int    `json:"want"`
	Attempt  int    `json:"attempt"`
	Feedback string `json:"feedback,omitempty"`
}

// Pipeline generates one dataset. Its task handlers run inside durable
// jobs; Run drives them until the run has its examples or cannot get them.
type Pipeline struct {
	store     ethos.Store
	completer ethos.Completer
	settings  Settings
	runID     string
	docRules  review.Rules // documents: length around the target
	rules     review.Rules // replies: length from generate.review

	// stopErr is the first error that stopped the run, kept with its kind
	// for Drive to return.
	stopErr atomic.Pointer[error]

	summariesMu sync.Mutex
	summaries   map[string][]string // category → accepted idea summaries, in order

	// dedupMu guards the provisional entries of putDistinct.
	dedupMu         sync.Mutex
	lastProvisional int
	provisional     map[int]*provisional
	ideaDups        *dedup.Index
	docDups         *dedup.Index
	replyDups       *dedup.Index

	// finished counts the tasks that may complete an example (replies,
	// pairs, confirmations) as they return; once it reaches wakeAt, wake
	// tells Drive to look before its next tick, so the end of a run is
	// seen when the last example is written, not up to a tick later.
	finished atomic.Int64
	wakeAt   atomic.Int64
	wake     chan struct{}
}

// NewPipeline returns a pipeline for settings whose model calls go through
// completer (the middleware chain) and whose items live in store.
func NewPipeline(store ethos.Store, completer ethos.Completer, settings Settings) *Pipeline {
	if settings.Dedup <= 0 {
		settings.Dedup = dedup.DefaultThreshold
	}
	if settings.Limits.MaxIdeaBatches <= 0 {
		// Three times the batches the largest category needs if every
		// idea were accepted, and some slack for small runs.
		most := 0
		for _, q := range PlanCategories(settings.Character.Categories, settings.Examples, settings.Weights) {
			most = max(most, q)
		}
		perCall := max(settings.Generate.Ideas.PerCall, 1)
		settings.Limits.MaxIdeaBatches = 3*((most+perCall-1)/perCall) + 10
	}
	g := settings.Generate
	words := max(g.Documents.Pages, 1) * 500
	return &Pipeline{
		store:     store,
		completer: completer,
		settings:  settings,
		runID:     settings.RunID(),
		// A document may run from a quarter to three times its target
		// length; shorter is a sketch, longer is a model that ran on.
		docRules: review.Rules{
			MinWords:      words / 4,
			MaxWords:      words * 3,
			MaxTokens:     g.Documents.MaxTokens,
			SystemPrompt:  settings.Character.SystemPrompt,
			CharacterName: settings.Character.Name,
		},
		rules: review.Rules{
			MinWords:      g.Review.MinWords,
			MaxWords:      g.Review.MaxWords,
			MaxTokens:     g.Responses.MaxTokens,
			SystemPrompt:  settings.Character.SystemPrompt,
			CharacterName: settings.Character.Name,
		},
		provisional: map[int]*provisional{},
		ideaDups:    dedup.New(settings.Dedup),
		docDups:     dedup.New(settings.Dedup),
		replyDups:   dedup.New(settings.Dedup),
		wake:        make(chan struct{}, 1),
	}
}

// RunID is the ID of the run this pipeline works on.
func (p *Pipeline) RunID() string { return p.runID }

// Tasks are the handlers to register with the job queue.
func (p *Pipeline) Tasks() map[string]jobs.TaskFunc {
	tasks := map[string]jobs.TaskFunc{
		TaskIdeas:    p.workIdeas,
		TaskDocument: p.workDocument,
		TaskResponse: p.workResponse,
	}
	if p.pairs() {
		tasks[TaskRejected] = p.workRejected
	}
	if p.confirming() {
		tasks[TaskConfirm] = p.workConfirm
	}
	for _, name := range []string{TaskResponse, TaskRejected, TaskConfirm} {
		if fn := tasks[name]; fn != nil {
			tasks[name] = p.countFinished(fn)
		}
	}
	return tasks
}

// countFinished wraps a task that may complete an example: when it
// returns, Drive is woken if enough such tasks have finished since its
// last look to reach the target (see Pipeline.finished).
func (p *Pipeline) countFinished(fn jobs.TaskFunc) jobs.TaskFunc {
	return func(ctx context.Context, t jobs.Task) error {
		err := fn(ctx, t)
		if p.finished.Add(1) >= p.wakeAt.Load() {
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
		return err
	}
}

// Priorities order the queued tasks: a reply finishes an example and goes
// before the documents waiting, which go before new idea batches, so the
// first examples are accepted within a few latencies of the start however
// large the backlog (see also callPriority).
func (p *Pipeline) Priorities() map[string]int {
	return map[string]int{TaskConfirm: jobs.PriorityFirst, TaskRejected: jobs.PriorityFirst, TaskResponse: jobs.PriorityFirst, TaskDocument: jobs.PriorityDefault, TaskIdeas: jobs.PriorityLast}
}

// callPriority is a stage's place in the rate limiter's queue, in the
// same order as Priorities.
func callPriority(stage string) llm.Priority {
	switch stage {
	case StageIdeas:
		return llm.PriorityStart
	case StageDocument:
		return llm.PriorityMiddle
	default: // the reply and its review finish an example
		return llm.PriorityFinish
	}
}

// active reports whether the run still wants work. A task left in the
// queue after the run stopped is dropped (jobs.Drop), not done, so that
// resuming the run enqueues it again.
func (p *Pipeline) active(ctx context.Context, t jobs.Task) (bool, error) {
	if t.RunID != p.runID {
		// Each run has its own queue, so this is a bug, not a state.
		return false, ethos.Errorf(ethos.Invalid, "task %s of run %s reached the pipeline of run %s", t.Key, t.RunID, p.runID)
	}
	status, err := p.store.RunStatus(ctx, p.runID)
	if err != nil {
		return false, err
	}
	if status != ethos.RunRunning {
		return false, jobs.Drop("run " + p.runID + " is " + string(status))
	}
	return true, nil
}

// call makes one model call for a stage, labelled for the ledger.
// A nil temperature leaves sampling to the provider's default.
func (p *Pipeline) call(ctx context.Context, stage, item string, model string, prompt Prompt, maxTokens int, temperature *float64, stream bool) (ethos.Response, string, error) {
	req := ethos.Request{
		Model:       model,
		System:      prompt.System,
		Messages:    []ethos.Message{{Role: ethos.RoleUser, Content: prompt.User}},
		MaxTokens:   maxTokens,
		Temperature: temperature,
		Stream:      stream,
		Metadata:    map[string]string{"run": p.runID, "stage": stage, "item": item},
		// Every call of a stage has the same system prompt (the stage's
		// instructions and contract, or the character's prompt and
		// traits): the provider may cache it. The Anthropic adapter marks
		// it only when it is long enough for the model; it is never padded.
		CachePrefix: 1,
	}
	resp, err := p.completer.Complete(p.callContext(ctx, stage), req)
	return resp, llm.CallKey(req, resp), err
}

// callContext labels a stage's call with its place in the rate limiter's
// queue and the mode it is sent in.
func (p *Pipeline) callContext(ctx context.Context, stage string) context.Context {
	ctx = llm.WithPriority(ctx, callPriority(stage))
	g := p.settings.Generate
	mode := map[string]string{StageIdeas: g.Ideas.Mode, StageDocument: g.Documents.Mode,
		StageResponse: g.Responses.Mode, stageReview: g.Review.Mode}[stage]
	if (stage == StageRejected || stage == StageConfirm) && g.Pairs != nil {
		mode = g.Pairs.Mode
	}
	if mode == config.ModeBatch {
		ctx = llm.WithMode(ctx, llm.ModeBatch)
	}
	return ctx
}

// stopRun records why the run cannot go on (a missing key, the budget…)
// and returns err so that the job is cancelled.
func (p *Pipeline) stopRun(ctx context.Context, err error) error {
	p.stopErr.CompareAndSwap(nil, &err)
	if serr := p.store.SetRunStatus(context.WithoutCancel(ctx), p.runID, ethos.RunFailed, err.Error()); serr != nil {
		return fmt.Errorf("%w (and recording it failed: %v)", err, serr)
	}
	return err
}

// failCall decides what a failed model call means for the item: errors
// that another attempt could fix are returned as rejections (reject is
// true); errors that stop the run stop it; the rest go back to the queue.
func (p *Pipeline) failCall(ctx context.Context, err error) (reject bool, _ error) {
	switch ethos.OutcomeOf(ethos.KindOf(err)) {
	case ethos.Quarantine:
		return true, nil
	case ethos.Cancel:
		return false, p.stopRun(ctx, err)
	default: // Retry, Snooze: the job layer tries again
		return false, err
	}
}

// withFeedback adds the reason a previous attempt was rejected, and a
// variation line, just before the output contract line, so the next
// attempt is a different request that knows what to avoid.
func withFeedback(text, feedback, variation string) string {
	var extra []string
	if variation != "" {
		extra = append(extra, variation)
	}
	if feedback != "" {
		extra = append(extra, "A previous attempt was rejected: "+feedback+". Write it again without that problem.")
	}
	if len(extra) == 0 {
		return text
	}
	add := strings.Join(extra, "\n") + "\n"
	if i := contractLine.FindStringIndex(text); i != nil {
		return text[:i[0]] + add + text[i[0]:]
	}
	return strings.TrimRight(text, "\n") + "\n" + add
}

var contractLine = regexp.MustCompile(`(?m)^Output contract: ethos-[a-z]+/v\d+`)

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("generate: encoding %T: %v", v, err))
	}
	return b
}

func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// categoryKey is a category's stable place in keys: its index and slug.
func (p *Pipeline) categoryKey(name string) string {
	for i, c := range p.settings.Character.Categories {
		if c.Name == name {
			return fmt.Sprintf("%02d-%s", i+1, slug(c.Name))
		}
	}
	return slug(name)
}

func (p *Pipeline) category(name string) (ethos.Category, bool) {
	for _, c := range p.settings.Character.Categories {
		if c.Name == name {
			return c, true
		}
	}
	return ethos.Category{}, false
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
