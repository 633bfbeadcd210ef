package pipeline

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/jobs"
	"github.com/ethos-toolkit/ethos/llm"
)

// CompleteInputs are one call as ethos complete takes it, before its
// prompt; Request checks them.
type CompleteInputs struct {
	Model       string // provider/model
	System      string // the system prompt, or @FILE
	Temperature string // a number from 0 to 2; "" is the provider's default
	MaxTokens   int
	Sample      int
	Stream      bool
}

// RegisterFlags adds the inputs' flags to fs, as ethos complete takes
// them.
func (in *CompleteInputs) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&in.Model, "model", "", "the model as `provider/model`, e.g. sandbox/writer or anthropic/claude-sonnet-4-5 (required)")
	fs.StringVar(&in.System, "system", "", "system prompt (@FILE reads it from a file)")
	fs.IntVar(&in.MaxTokens, "max-tokens", 1024, "maximum output `tokens`")
	fs.StringVar(&in.Temperature, "temperature", "", "sampling temperature (default: the provider's)")
	fs.BoolVar(&in.Stream, "stream", false, "use the provider's streaming protocol (for long outputs)")
	fs.IntVar(&in.Sample, "sample", 0, "sample `index`: a different index asks again instead of reusing the cached reply")
}

// Request is the request of prompts (exactly one, not blank) with the
// inputs, a system prompt's @FILE read relative to dir. Bad inputs are
// errors of kind Config that say how to fix them.
func (in CompleteInputs) Request(prompts []string, dir string) (ethos.Request, error) {
	if in.Model == "" {
		return ethos.Request{}, ethos.Errorf(ethos.Config, "complete: --model is required (e.g. --model sandbox/writer)")
	}
	if _, _, ok := ethos.SplitModel(in.Model); !ok {
		return ethos.Request{}, ethos.Errorf(ethos.Config, "complete: --model %q: want provider/model, e.g. sandbox/writer", in.Model)
	}
	if len(prompts) != 1 || strings.TrimSpace(prompts[0]) == "" {
		return ethos.Request{}, ethos.Errorf(ethos.Config, "complete: give exactly one prompt argument (quote it), got %d", len(prompts))
	}
	if in.MaxTokens < 1 {
		return ethos.Request{}, ethos.Errorf(ethos.Config, "complete: --max-tokens must be at least 1")
	}
	req := ethos.Request{
		Model:     in.Model,
		Messages:  []ethos.Message{{Role: ethos.RoleUser, Content: prompts[0]}},
		MaxTokens: in.MaxTokens,
		Stream:    in.Stream,
		Sample:    in.Sample,
		Metadata:  map[string]string{"stage": "complete"},
	}
	var err error
	if req.System, err = ReadTextArg(in.System, dir); err != nil {
		return ethos.Request{}, err
	}
	if in.Temperature != "" {
		t, err := strconv.ParseFloat(in.Temperature, 64)
		if err != nil || t < 0 || t > 2 {
			return ethos.Request{}, ethos.Errorf(ethos.Config, "complete: --temperature %q: want a number from 0 to 2", in.Temperature)
		}
		req.Temperature = &t
	}
	return req, nil
}

// CompleteOnce makes one call through completer as a durable job on the
// queue in backend: its failures are retried as any task's are, three
// tries in all (about three seconds of backoff) before an unreachable
// endpoint is reported.
func CompleteOnce(ctx context.Context, backend jobs.Backend, completer ethos.Completer, req ethos.Request) (ethos.Response, error) {
	var resp ethos.Response
	err := jobs.RunOn(ctx, backend, jobs.Config{Completer: completer, MaxAttempts: 3}, jobs.Work{
		Drive: func(ctx context.Context) error {
			q, err := jobs.FromContext(ctx)
			if err != nil {
				return err
			}
			resp, err = q.Call(ctx, jobs.CallArgs{Request: req, Stream: req.Stream, Metadata: req.Metadata})
			return err
		},
	})
	return resp, err
}

// CompleteResult is one call's reply with what it cost.
type CompleteResult struct {
	Model      string           `json:"model"`
	Text       string           `json:"text"`
	StopReason ethos.StopReason `json:"stop_reason"`
	Usage      ethos.Usage      `json:"usage"`
	// CostUSD is what the call cost: nothing when the ledger answered it.
	CostUSD   float64       `json:"cost_usd"`
	CacheHit  bool          `json:"cache_hit"`
	Latency   time.Duration `json:"-"`
	LatencyMS int64         `json:"latency_ms"`
	RequestID string        `json:"request_id,omitempty"`
}

// Complete makes one call through d's chain, capped at maxCost USD (0 for
// none) on top of the project's budget, as a durable job on d.Jobs (see
// CompleteOnce). A missing key or an unknown provider is reported before
// anything is queued. A request the ledger has answered before is
// answered again from it, for free.
func Complete(ctx context.Context, d Deps, req ethos.Request, maxCost float64) (CompleteResult, error) {
	if err := d.Router.Check(req.Model); err != nil {
		return CompleteResult{}, err
	}
	completer, err := d.Chain(ctx, maxCost)
	if err != nil {
		return CompleteResult{}, err
	}
	_, cached, err := d.Store.CachedResponse(ctx, llm.Key(req))
	if err != nil {
		return CompleteResult{}, err
	}
	resp, err := CompleteOnce(ctx, d.Jobs, completer, req)
	if err != nil {
		return CompleteResult{}, err
	}
	res := CompleteResult{Model: req.Model, Text: resp.Text, StopReason: resp.StopReason, Usage: resp.Usage,
		CacheHit: cached, Latency: resp.Latency, LatencyMS: resp.Latency.Milliseconds(), RequestID: resp.RequestID}
	if !cached {
		res.CostUSD, _ = d.Pricer.Cost(req.Model, resp.Usage)
	}
	return res, nil
}

// ReadTextArg returns s, or the contents of the file s names when it is
// "@FILE" (a relative FILE is read from dir), as the command line writes
// a long text such as a system prompt.
func ReadTextArg(s, dir string) (string, error) {
	name, ok := strings.CutPrefix(s, "@")
	if !ok {
		return s, nil
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", ethos.Errorf(ethos.Config, "reading %s: %w", name, err)
	}
	return string(b), nil
}
