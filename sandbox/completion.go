package sandbox

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// apiError is an error answer before it is rendered in a protocol's shape.
type apiError struct {
	status int
	msg    string
	// code overrides the OpenAI error code ("model_not_found", …).
	code string
	// limited names the exhausted limit of a 429 ("requests" or
	// "tokens"), which OpenAI sends as the error type.
	limited string
	// retryAfter is sent as retry-after in whole seconds when > 0.
	retryAfter time.Duration
}

// call is a parsed completion request.
type call struct {
	prompt       Prompt
	stop         []string
	stream       bool
	includeUsage bool // OpenAI stream_options.include_usage
	// parts are the prompt's text blocks in the order the provider caches
	// them, with their cache marks (see promptcache.go).
	parts []cachePart
}

// answer is the reply to a call, before rendering.
type answer struct {
	shaped
	in, out int
	// cache is the part of in read from or written to the prompt cache.
	cache   cacheUse
	id      string
	created time.Time
}

// streamPlan says how much of a stream is sent and how it ends.
type streamPlan struct {
	deltas []string
	sent   int  // deltas sent; fewer than len(deltas) when cut or failed
	cut    bool // close the connection after sent deltas
	fail   bool // send an overloaded error frame after sent deltas
}

// sentText is the part of text (whose chunks the deltas are) that the
// sent deltas carry: a prefix of it, so nothing is joined.
func (p streamPlan) sentText(text string) string {
	n := 0
	for _, d := range p.deltas[:p.sent] {
		n += len(d)
	}
	return text[:n]
}

// protocol renders the sandbox's answers in one provider's wire format.
type protocol interface {
	requestIDHeader() string
	// check rejects requests the protocol requires headers for.
	check(r *http.Request) *apiError
	parse(body []byte) (call, *apiError)
	limitHeaders(h http.Header, st limitState)
	writeError(w http.ResponseWriter, e *apiError, requestID string)
	// writeMessage writes a JSON answer; with truncate it writes part of
	// the body and aborts the connection.
	writeMessage(w *recorder, c call, a answer, truncate bool)
	writeStream(w *recorder, c call, a answer, plan streamPlan)
}

// modelFault is the fixed behaviour of a fault-* model.
type modelFault struct {
	status    int
	cut       bool
	refuse    bool
	streamErr bool
}

// lookup finds a model's writer and fixed fault.
func (s *Server) lookup(model string) (Writer, modelFault, bool) {
	if w, ok := s.writers[model]; ok {
		return w, modelFault{}, true
	}
	if name, ok := strings.CutPrefix(model, "writer-defect-"); ok && isDefect(name) {
		return s.writers["writer"], modelFault{}, true
	}
	if w, ok := s.tunedWriter(model); ok {
		return w, modelFault{}, true
	}
	rest, ok := strings.CutPrefix(model, "fault-")
	if !ok {
		return nil, modelFault{}, false
	}
	switch rest {
	case "cut":
		return DefaultWriter, modelFault{cut: true}, true
	case "refuse":
		return func(Prompt) string { return refusalText }, modelFault{refuse: true}, true
	case "overloaded-stream":
		return DefaultWriter, modelFault{streamErr: true}, true
	}
	if status, err := strconv.Atoi(rest); err == nil && status >= 400 && status <= 599 && strconv.Itoa(status) == rest {
		return DefaultWriter, modelFault{status: status}, true
	}
	return nil, modelFault{}, false
}

// serveCompletion is the one pipeline behind both protocols: draw faults,
// wait, authenticate, parse, find the model, write the answer, charge the
// rate limits, inject errors, respond.
func (s *Server) serveCompletion(w *recorder, r *http.Request, p protocol) {
	defer s.stats.begin()()
	s.mu.Lock()
	d := draw(s.rng, s.opts.Faults)
	s.mu.Unlock()

	reqID := s.newID("req_")
	w.Header().Set(p.requestIDHeader(), reqID)
	fail := func(e *apiError) {
		if e.retryAfter > 0 {
			w.Header().Set("retry-after", strconv.Itoa(retryAfterSeconds(e.retryAfter)))
		}
		p.writeError(w, e, reqID)
	}

	// The body is read before the wait, as a real server has the whole
	// request before it starts on the answer: a client that goes away
	// while it waits then cancels the request (Go's server notices a
	// closed connection only once the body is read), instead of getting
	// an answer nobody reads counted as answered.
	body, bodyErr := readBody(w, r)
	if d.latency > 0 {
		if err := s.opts.Sleep(r.Context(), d.latency); err != nil {
			// The client has gone (or the test's Sleep says so): drop the
			// connection rather than send an empty 200.
			panic(http.ErrAbortHandler)
		}
	}
	key, ok := s.authenticate(r)
	if !ok {
		fail(&apiError{status: http.StatusUnauthorized, msg: "invalid API key", code: "invalid_api_key"})
		return
	}
	peek := func() { p.limitHeaders(w.Header(), s.limiter.peek(key, s.opts.Now())) }
	if e := p.check(r); e != nil {
		peek()
		fail(e)
		return
	}
	if bodyErr != nil {
		peek()
		fail(bodyErr)
		return
	}
	now := s.opts.Now()
	c, a, fault, e := s.compose(p, body, now)
	if e != nil {
		peek()
		fail(e)
		return
	}

	st := s.limiter.take(key, now, a.in, a.out)
	p.limitHeaders(w.Header(), st)
	if st.retryAfter > 0 {
		what := [dims]string{"requests", "tokens", "input tokens", "output tokens"}[st.exhausted]
		limited := "tokens"
		if st.exhausted == dimRequests {
			limited = "requests"
		}
		fail(&apiError{status: http.StatusTooManyRequests, msg: "rate limit exceeded: " + what + " per minute",
			code: "rate_limit_exceeded", limited: limited, retryAfter: st.retryAfter})
		return
	}
	if status := cmpOr(d.status, fault.status); status != 0 {
		e := &apiError{status: status, msg: statusMessage(status)}
		if status == http.StatusTooManyRequests {
			e.code, e.retryAfter = "rate_limit_exceeded", s.opts.Faults.RetryAfter
		}
		fail(e)
		return
	}

	a.cache = s.cacheUse(p, key, c, a.in, now)
	a.id = s.newID("")
	w.tokensIn = a.in
	w.key = c.prompt.Seed
	if !c.stream {
		w.tokensOut = a.out
		w.cut = fault.cut
		p.writeMessage(w, c, a, fault.cut)
		return
	}
	plan := streamPlan{deltas: chunks(a.Text, c.prompt.Seed)}
	plan.sent = len(plan.deltas)
	switch {
	case fault.cut || d.cut:
		plan.cut = true
	case fault.streamErr || d.streamErr:
		plan.fail = true
	}
	if plan.cut || plan.fail {
		// Stop somewhere in the middle: at least one delta when there are
		// two or more, never all of them.
		at := d.cutAt
		if fault.cut || fault.streamErr {
			at = 0.5
		}
		plan.sent = 0
		if n := len(plan.deltas); n > 1 {
			plan.sent = 1 + int(at*float64(n-1))
		}
	}
	w.stream, w.cut, w.broken = true, plan.cut, plan.fail
	w.tokensOut = CountTokens(plan.sentText(a.Text))
	p.writeStream(w, c, a, plan)
}

// compose parses a request body and writes its answer, as yet without
// an id or prompt-cache use: the part of answering a request that online
// calls and batched ones share.
func (s *Server) compose(p protocol, body []byte, now time.Time) (call, answer, modelFault, *apiError) {
	c, e := p.parse(body)
	if e != nil {
		return call{}, answer{}, modelFault{}, e
	}
	writer, fault, ok := s.lookup(c.prompt.Model)
	if !ok {
		if s.dedicatedOnly(c.prompt.Model) {
			return call{}, answer{}, modelFault{}, notServerless(c.prompt.Model)
		}
		return call{}, answer{}, modelFault{}, &apiError{status: http.StatusNotFound, msg: "model: " + c.prompt.Model, code: "model_not_found"}
	}
	c.prompt.Seed = promptSeed(c.prompt, c.stop, s.opts.Seed)
	sh := s.write(c, writer, fault)
	return c, answer{shaped: sh, in: inputTokens(c.prompt), out: CountTokens(sh.Text), created: now}, fault, nil
}

// write produces the shaped answer: in an output contract's shape when the
// prompt names one and the model plays ethos's models, else the model's
// writer's text.
func (s *Server) write(c call, writer Writer, fault modelFault) shaped {
	model := c.prompt.Model
	if !strings.HasPrefix(model, "fault-") && !s.custom[model] {
		ct, ok := s.judgeWriter(model).write(c.prompt)
		if !ok {
			ct, ok = s.ethosWriter(model).write(c.prompt)
		}
		if ok {
			sh := shape(ct.text, c.stop, c.prompt.MaxTokens, false)
			if ct.truncated && sh.StopReason == "end_turn" {
				sh.StopReason = "max_tokens"
			}
			return sh
		}
	}
	return shape(writer(c.prompt), c.stop, c.prompt.MaxTokens, fault.refuse)
}

// ethosWriter is the contract writer of a model: its persona, the
// configured defect rates and, for writer-defect-<name>, that defect.
func (s *Server) ethosWriter(model string) ethosWriter {
	w := ethosWriter{rates: s.opts.Defects}
	if name, ok := strings.CutPrefix(model, "writer-defect-"); ok && isDefect(name) {
		w.forced, model = name, "writer"
	}
	tuned, isTuned := s.tunedPersona(model)
	switch p, ok := s.opts.Personas[model]; {
	case isTuned:
		w.persona = tuned
	case ok:
		w.persona = p
	case model == "base":
		w.persona = WeakPersona
	default:
		w.persona = StrongPersona
	}
	return w
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// cacheUse decides what an answered request read from and wrote to the
// prompt cache, in p's way (see promptcache.go).
func (s *Server) cacheUse(p protocol, key string, c call, in int, now time.Time) cacheUse {
	var u cacheUse
	if _, ok := p.(anthropicProtocol); ok {
		minTokens, ok := s.opts.CacheMinTokens[c.prompt.Model]
		if !ok {
			minTokens = DefaultCacheMinTokens
		}
		u = s.cache.anthropic(key, c.prompt.Model, c.parts, minTokens, now)
	} else {
		u.read = s.cache.openai(key, c.prompt.Model, c.parts, in, now)
	}
	// Blocks are counted one by one and the input turn by turn, so the
	// two can differ by a token of rounding: the cache never holds more
	// than the input.
	u.read = min(u.read, in)
	u.write = min(u.write, in-u.read)
	return u
}

// inputTokens counts a prompt's input the way the sandbox bills it: the
// system prompt and each message's content, each rounded up on its own.
func inputTokens(p Prompt) int {
	n := CountTokens(p.System)
	for _, m := range p.Messages {
		n += CountTokens(m.Content)
	}
	return n
}

// statusMessage is the message of an injected error.
func statusMessage(status int) string {
	switch status {
	case 400:
		return "invalid request"
	case 401:
		return "invalid API key"
	case 402:
		return "your credit balance is too low"
	case 403:
		return "your API key does not have permission to use the specified resource"
	case 404:
		return "the requested resource could not be found"
	case 413:
		return "request exceeds the maximum allowed number of bytes"
	case 429:
		return "rate limit exceeded"
	case 500:
		return "internal server error"
	case 503:
		return "the server is overloaded or not ready yet"
	case 504:
		return "request timed out"
	case 529:
		return "Overloaded"
	}
	if t := http.StatusText(status); t != "" {
		return strings.ToLower(t)
	}
	return "error " + strconv.Itoa(status)
}

// abort ends the response without completing it: the connection closes
// and the client sees an unexpected EOF. net/http recovers this panic
// without logging it.
func abort(w http.ResponseWriter) {
	_ = http.NewResponseController(w).Flush()
	panic(http.ErrAbortHandler)
}
