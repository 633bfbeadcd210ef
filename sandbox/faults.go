package sandbox

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Faults configures the failures the sandbox injects. Every decision is
// drawn from a PRNG seeded by Options.Seed, one fixed set of draws per
// completion request in arrival order, so a run with the same seed and the
// same request order fails in the same places.
type Faults struct {
	// ErrorRates maps an HTTP status (429, 500, 503, 529, …) to the
	// probability that a request fails with it. Rates are tried in status
	// order over one draw, so their sum is the total failure rate.
	ErrorRates map[int]float64
	// LatencyMean and LatencyJitter set a delay before each completion
	// answers: uniform in [mean-jitter, mean+jitter], never negative.
	LatencyMean, LatencyJitter time.Duration
	// CutStreamRate is the probability that a stream is cut mid-way: the
	// connection closes after some deltas, without message_stop or [DONE].
	CutStreamRate float64
	// StreamErrorRate is the probability that a stream sends an overloaded
	// error after HTTP 200 (an Anthropic "event: error" frame, an OpenAI
	// "data: {\"error\":…}" line) instead of finishing.
	StreamErrorRate float64
	// RPM and TPM are enforced per API key with token buckets; 0 means
	// unlimited. A request is charged its input plus output tokens.
	RPM, TPM int
	// InputTPM and OutputTPM are Anthropic's separate input and output
	// token limits (ITPM, OTPM), with buckets of their own beside TPM's; a
	// request is charged its input tokens to one, its output tokens to the
	// other. 0 means unlimited.
	InputTPM, OutputTPM int
	// RetryAfter is the retry-after sent with an injected 429 (default 1s).
	RetryAfter time.Duration
}

// RegisterFlags registers the fault flags on fs, writing into f:
//
//	--error-rate 429=0.1,529=0.05  --latency 200ms  --jitter 50ms
//	--cut-stream-rate 0.1  --stream-error-rate 0.05
//	--rpm 60  --tpm 100000  --itpm 80000  --otpm 16000  --retry-after 2s
func (f *Faults) RegisterFlags(fs *flag.FlagSet) {
	fs.Var((*errorRates)(&f.ErrorRates), "error-rate", "inject HTTP errors: comma-separated status=probability, e.g. 429=0.1,529=0.05")
	fs.DurationVar(&f.LatencyMean, "latency", f.LatencyMean, "mean latency added to each completion")
	fs.DurationVar(&f.LatencyJitter, "jitter", f.LatencyJitter, "latency varies uniformly by up to this much either way")
	fs.Float64Var(&f.CutStreamRate, "cut-stream-rate", f.CutStreamRate, "probability that a stream is cut mid-way")
	fs.Float64Var(&f.StreamErrorRate, "stream-error-rate", f.StreamErrorRate, "probability that a stream ends with an overloaded error after HTTP 200")
	fs.IntVar(&f.RPM, "rpm", f.RPM, "requests per minute allowed per API key (0 = unlimited)")
	fs.IntVar(&f.TPM, "tpm", f.TPM, "tokens per minute allowed per API key (0 = unlimited)")
	fs.IntVar(&f.InputTPM, "itpm", f.InputTPM, "input tokens per minute allowed per API key, a bucket of its own (0 = unlimited)")
	fs.IntVar(&f.OutputTPM, "otpm", f.OutputTPM, "output tokens per minute allowed per API key, a bucket of its own (0 = unlimited)")
	fs.DurationVar(&f.RetryAfter, "retry-after", f.RetryAfter, "retry-after sent with injected 429s (default 1s)")
}

// errorRates is the flag.Value behind --error-rate.
type errorRates map[int]float64

func (e *errorRates) String() string {
	if e == nil || len(*e) == 0 {
		return ""
	}
	return formatErrorRates(*e)
}

func formatErrorRates(m map[int]float64) string {
	statuses := make([]int, 0, len(m))
	for s := range m {
		statuses = append(statuses, s)
	}
	slices.Sort(statuses)
	parts := make([]string, len(statuses))
	for i, s := range statuses {
		parts[i] = strconv.Itoa(s) + "=" + strconv.FormatFloat(m[s], 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

func (e *errorRates) Set(v string) error {
	m, err := ParseErrorRates(v)
	if err != nil {
		return err
	}
	*e = m
	return nil
}

// ParseErrorRates parses "429=0.1,529=0.05" into a status → probability
// map. Statuses must be 400–599 and probabilities within [0, 1].
func ParseErrorRates(v string) (map[int]float64, error) {
	m := map[int]float64{}
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		status, rate, ok := strings.Cut(part, "=")
		if !ok {
			return nil, fmt.Errorf("error rate %q: want status=probability", part)
		}
		s, err := strconv.Atoi(strings.TrimSpace(status))
		if err != nil || s < 400 || s > 599 {
			return nil, fmt.Errorf("error rate %q: status must be 400-599", part)
		}
		p, err := strconv.ParseFloat(strings.TrimSpace(rate), 64)
		if err != nil || !(p >= 0 && p <= 1) {
			return nil, fmt.Errorf("error rate %q: probability must be within [0, 1]", part)
		}
		m[s] = p
	}
	return m, nil
}

// faultDraw is what the PRNG decided for one completion request.
type faultDraw struct {
	status    int           // injected HTTP error, 0 for none
	latency   time.Duration // delay before answering
	cut       bool          // cut the stream mid-way
	cutAt     float64       // where to cut, as a fraction of the deltas
	streamErr bool          // end the stream with an error frame
}

// draw takes the next fault decisions. It always consumes the same number
// of values, so one request's outcome never shifts the next one's draws.
func draw(r *rand.Rand, f Faults) faultDraw {
	errRoll, jitterRoll, cutRoll, cutAt, streamErrRoll := r.Float64(), r.Float64(), r.Float64(), r.Float64(), r.Float64()
	var d faultDraw
	statuses := make([]int, 0, len(f.ErrorRates))
	for s := range f.ErrorRates {
		statuses = append(statuses, s)
	}
	slices.Sort(statuses)
	acc := 0.0
	for _, s := range statuses {
		acc += f.ErrorRates[s]
		if errRoll < acc {
			d.status = s
			break
		}
	}
	d.latency = f.LatencyMean + time.Duration((2*jitterRoll-1)*float64(f.LatencyJitter))
	if d.latency < 0 {
		d.latency = 0
	}
	d.cut = cutRoll < f.CutStreamRate
	d.cutAt = cutAt
	d.streamErr = streamErrRoll < f.StreamErrorRate
	return d
}
