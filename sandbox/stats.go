package sandbox

import (
	"maps"
	"net/http"
	"strconv"
	"sync"
)

// Stats counts what the sandbox has served since it started or was last
// reset. Control paths under /_sandbox/ are not counted.
type Stats struct {
	Requests   int64            `json:"requests"`
	ByPath     map[string]int64 `json:"by_path"`
	ByStatus   map[string]int64 `json:"by_status"`
	TokensIn   int64            `json:"tokens_in"`  // input tokens of successful completions
	TokensOut  int64            `json:"tokens_out"` // output tokens actually sent
	Streams    int64            `json:"streams"`    // successful responses sent as a stream
	CutStreams int64            `json:"cut_streams"`
	// Repeats counts complete answers to a request the sandbox had already
	// answered completely: calls a client paid for twice.
	Repeats int64 `json:"repeats"`
	// InFlight is how many completion requests have arrived and are not
	// yet answered (waiting out their latency, or being written): a
	// gauge, which ResetStats leaves alone.
	InFlight int64 `json:"in_flight"`
	// BatchesCreated counts the batches created per wire ("anthropic",
	// "openai", "together"; nil before the first); BatchRequests the
	// requests they submitted.
	BatchesCreated map[string]int64 `json:"batches_created"`
	BatchRequests  int64            `json:"batch_requests"`
	// BatchResubmissions counts requests submitted in a new batch while
	// an earlier batch still held their custom id, processing or answered
	// with a result other than an error: requests a client paid for twice.
	BatchResubmissions int64 `json:"batch_resubmissions"`
}

type statsCounter struct {
	mu       sync.Mutex
	s        Stats
	answered map[uint64]bool // request keys answered completely
	inFlight int64
}

// begin counts a completion request in flight until the returned func.
func (c *statsCounter) begin() (end func()) {
	c.mu.Lock()
	c.inFlight++
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		c.inFlight--
		c.mu.Unlock()
	}
}

func (c *statsCounter) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.s
	s.InFlight = c.inFlight
	s.ByPath = maps.Clone(c.s.ByPath)
	s.ByStatus = maps.Clone(c.s.ByStatus)
	s.BatchesCreated = maps.Clone(c.s.BatchesCreated)
	if s.ByPath == nil {
		s.ByPath = map[string]int64{}
	}
	if s.ByStatus == nil {
		s.ByStatus = map[string]int64{}
	}
	return s
}

// batch counts a batch created on wire with n requests, again of them
// resubmitted.
func (c *statsCounter) batch(wire string, n, again int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.BatchesCreated == nil {
		c.s.BatchesCreated = map[string]int64{}
	}
	c.s.BatchesCreated[wire]++
	c.s.BatchRequests += int64(n)
	c.s.BatchResubmissions += int64(again)
}

func (c *statsCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.s = Stats{}
	c.answered = nil
}

func (c *statsCounter) add(r *recorder, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s.ByPath == nil {
		c.s.ByPath, c.s.ByStatus = map[string]int64{}, map[string]int64{}
	}
	c.s.Requests++
	c.s.ByPath[r.path]++
	c.s.ByStatus[strconv.Itoa(status)]++
	if status == http.StatusOK {
		c.s.TokensIn += int64(r.tokensIn)
		c.s.TokensOut += int64(r.tokensOut)
		if r.stream {
			c.s.Streams++
		}
		if r.cut {
			c.s.CutStreams++
		}
		if r.key != 0 && !r.cut && !r.broken {
			if c.answered[r.key] {
				c.s.Repeats++
			}
			if c.answered == nil {
				c.answered = map[uint64]bool{}
			}
			c.answered[r.key] = true
		}
	}
}

// recorder counts a response in Stats when its header is written, before
// any byte reaches the client, so a client that has read a response always
// sees it counted. Handlers fill in the token and stream fields first.
type recorder struct {
	http.ResponseWriter
	stats     *statsCounter
	path      string
	counted   bool
	tokensIn  int
	tokensOut int
	stream    bool
	cut       bool
	broken    bool   // a stream ended by an error event
	key       uint64 // the request's content hash, for Repeats
}

func (r *recorder) WriteHeader(status int) {
	if !r.counted {
		r.counted = true
		r.stats.add(r, status)
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.counted {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection to flush.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
