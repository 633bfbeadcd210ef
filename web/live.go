package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Topics a page can watch. A topic names a part of the store; its
// fingerprint is a cheap digest of that part, and a page watching it is
// told when the digest changes.
const (
	topicOverview = "overview"
	topicModels   = "models"
	topicRun      = "run:"  // + run ID
	topicJob      = "job:"  // + fine-tune job ID
	topicEval     = "eval:" // + eval ID
)

// validTopic reports whether topic names something a page can watch.
func validTopic(topic string) bool {
	if topic == topicOverview || topic == topicModels {
		return true
	}
	for _, p := range []string{topicRun, topicJob, topicEval} {
		if id, ok := strings.CutPrefix(topic, p); ok && id != "" && len(id) <= 512 {
			// The topic is echoed in the stream: no line breaks or other
			// control characters, which would forge events.
			return !strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f })
		}
	}
	return false
}

// hub polls the fingerprints of the topics pages are watching and wakes
// the pages' event streams when one changes. It polls only while someone
// watches.
type hub struct {
	s *Server
	// changed is signalled when the store says it changed (see follow);
	// one pending signal is enough.
	changed chan struct{}

	mu      sync.Mutex
	subs    map[string]map[*subscriber]struct{}
	running bool
}

type subscriber struct {
	wake chan struct{} // buffered 1: a pending wake-up is enough
	seen string        // the fingerprint the page shows
}

func newHub(s *Server) *hub {
	h := &hub{s: s, subs: map[string]map[*subscriber]struct{}{}, changed: make(chan struct{}, 1)}
	s.snaps.onDone = func(key string) {
		topic, _, _ := strings.Cut(key, "|")
		h.notify(topic)
	}
	return h
}

// subscribe registers a watcher of topic whose page was rendered at
// fingerprint seen.
func (h *hub) subscribe(topic, seen string) (*subscriber, func()) {
	sub := &subscriber{wake: make(chan struct{}, 1), seen: seen}
	h.mu.Lock()
	if h.subs[topic] == nil {
		h.subs[topic] = map[*subscriber]struct{}{}
	}
	h.subs[topic][sub] = struct{}{}
	if !h.running {
		h.running = true
		h.s.wg.Add(1)
		go h.loop()
	}
	h.mu.Unlock()
	return sub, func() {
		h.mu.Lock()
		delete(h.subs[topic], sub)
		if len(h.subs[topic]) == 0 {
			delete(h.subs, topic)
		}
		h.mu.Unlock()
	}
}

// notify wakes every watcher of topic.
func (h *hub) notify(topic string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for sub := range h.subs[topic] {
		select {
		case sub.wake <- struct{}{}:
		default:
		}
	}
}

// changeGap is the least time between two checks prompted by changes: a
// generation writes many items a second, and the pages need not be
// checked for each.
const changeGap = 100 * time.Millisecond

// follow runs the store's change feed until the server closes, and starts
// it again after changeRetry when it fails (polling covers the gap).
func (h *hub) follow(changes func(context.Context, func(string)) error) {
	defer h.s.wg.Done()
	for {
		err := changes(h.s.ctx, h.storeChanged)
		if h.s.ctx.Err() != nil {
			return
		}
		h.s.opts.Logf("web: following the store's changes: %v; polling every %s until it is back", err, h.s.opts.PollInterval)
		select {
		case <-h.s.ctx.Done():
			return
		case <-time.After(changeRetry):
		}
	}
}

// changeRetry is how long follow waits before listening again.
const changeRetry = 5 * time.Second

// storeChanged forgets what is cached of the changed run and asks the
// loop to check the watched topics now.
func (h *hub) storeChanged(topic string) {
	if id, ok := strings.CutPrefix(topic, topicRun); ok {
		h.s.countCache.forget(id)
	}
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

// loop polls until nobody watches or the server closes, and checks at
// once when the store says it changed.
func (h *hub) loop() {
	defer h.s.wg.Done()
	t := time.NewTicker(h.s.opts.PollInterval)
	defer t.Stop()
	var gap <-chan time.Time // set while changes wait for changeGap
	for {
		select {
		case <-h.s.ctx.Done():
			return
		case <-t.C:
		case <-h.changed:
			gap = time.After(changeGap)
		}
		h.mu.Lock()
		if len(h.subs) == 0 {
			h.running = false
			h.mu.Unlock()
			return
		}
		topics := make([]string, 0, len(h.subs))
		for topic := range h.subs {
			topics = append(topics, topic)
		}
		h.mu.Unlock()
		h.poll(h.s.ctx, topics)
		if gap != nil {
			select {
			case <-h.s.ctx.Done():
				return
			case <-gap:
			}
			gap = nil
		}
	}
}

// poll compares each topic's fingerprint with what its watchers have seen.
func (h *hub) poll(ctx context.Context, topics []string) {
	for _, topic := range topics {
		fp := h.s.fingerprint(ctx, topic)
		h.mu.Lock()
		for sub := range h.subs[topic] {
			if sub.seen != fp {
				sub.seen = fp
				select {
				case sub.wake <- struct{}{}:
				default:
				}
			}
		}
		h.mu.Unlock()
	}
}

// fingerprint digests the part of the store a topic shows, from queries
// that read indexes or a few rows only. A query that fails is part of the
// digest (its error text), so a store that starts answering is a change.
func (s *Server) fingerprint(ctx context.Context, topic string) string {
	var b strings.Builder
	add := func(v ...any) { fmt.Fprintln(&b, v...) }
	switch {
	case topic == topicOverview:
		runs, err := s.store.Runs(ctx, "", overviewRuns)
		add(err)
		for _, r := range runs {
			add(r.ID, r.Status, r.UpdatedAt.UnixNano())
		}
		calls, err := s.store.Calls(ctx, ethos.CallFilter{Limit: 1})
		add(err)
		if len(calls) > 0 {
			add(calls[0].ID)
		}
		jobs, err := s.store.Jobs(ctx, ethos.FineTuneFilter{Limit: overviewJobs})
		add(err)
		for _, j := range jobs {
			add(j.ID, j.Status, j.UpdatedAt.UnixNano())
		}
		// A batch changes while it works; one that is done changes no
		// more, so the working ones and the newest tell every change.
		add(batchesVersion(s.store.Batches(ctx, ethos.BatchFilter{Active: true})))
		add(batchesVersion(s.store.Batches(ctx, ethos.BatchFilter{Limit: 1})))
		// The rates cover the last minute: they change as it passes even
		// when nothing is written, until they reach zero.
		recent, err := s.store.SummarizeCalls(ctx, ethos.CallFilter{Since: s.now().Add(-rateWindow)})
		add(err)
		for _, c := range recent {
			add(c.Provider, c.Model, c.Calls)
		}
	case topic == topicModels:
		models, err := s.store.Models(ctx)
		add(err)
		for _, m := range models {
			add(m.Name, m.JobID, len(m.Evals))
		}
	case strings.HasPrefix(topic, topicRun):
		id := strings.TrimPrefix(topic, topicRun)
		add(s.runVersion(ctx, id))
		add(batchesVersion(s.store.Batches(ctx, ethos.BatchFilter{RunID: id})))
	case strings.HasPrefix(topic, topicJob):
		id := strings.TrimPrefix(topic, topicJob)
		j, err := s.store.Job(ctx, id)
		add(err, j.Status, j.State, j.UpdatedAt.UnixNano(), j.Progress.Step)
		events, err := s.store.Events(ctx, id)
		add(err, len(events))
	case strings.HasPrefix(topic, topicEval):
		add(s.evalVersion(ctx, strings.TrimPrefix(topic, topicEval)))
	}
	return digest(b.String())
}

// digest shortens a topic's state to the fingerprint pages carry.
func digest(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:8])
}

// runVersion is what a run's aggregates depend on: its state and its item
// counts per stage and status (see countCache).
func (s *Server) runVersion(ctx context.Context, id string) string {
	var b strings.Builder
	r, err := s.store.Run(ctx, id)
	fmt.Fprintln(&b, err, r.Status, r.UpdatedAt.UnixNano())
	if err != nil {
		return b.String()
	}
	counts, err := s.counts(ctx, r)
	fmt.Fprintln(&b, err)
	for _, c := range counts {
		fmt.Fprintln(&b, c.Stage, c.Status, c.Count)
	}
	return b.String()
}

// batchesVersion is what a list of batches shows that changes: each
// batch's state, provider status and counts.
func batchesVersion(batches []ethos.Batch, err error) string {
	var b strings.Builder
	fmt.Fprintln(&b, err)
	for _, x := range batches {
		fmt.Fprintln(&b, x.ID, x.State, x.Status, x.Counts, x.ProviderID)
	}
	return b.String()
}

// evalVersion is what an eval's page depends on: its state and how many
// answers, judgments and scores it has.
func (s *Server) evalVersion(ctx context.Context, id string) string {
	r, err := s.store.Run(ctx, id)
	answers, aerr := s.store.Answers(ctx, id)
	judgments, jerr := s.store.Judgments(ctx, id)
	scores, serr := s.store.TraitScores(ctx, id)
	return evalVersionOf(r, err, len(answers), aerr, len(judgments), jerr, len(scores), serr)
}

func evalVersionOf(r ethos.Run, err error, answers int, aerr error, judgments int, jerr error, scores int, serr error) string {
	return fmt.Sprintln(err, r.Status, r.UpdatedAt.UnixNano(), answers, aerr, judgments, jerr, scores, serr)
}

// handleEvents is the event stream of one topic: an event named "change"
// whenever the part of the store the topic names changes (see hub).
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	topic := r.URL.Query().Get("topic")
	if !validTopic(topic) {
		http.Error(w, fmt.Sprintf("ethos: unknown topic %q; want overview, models, run:ID, job:ID or eval:ID", topic), http.StatusBadRequest)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	// An event stream lives long; the server's write timeout, if any,
	// must not cut it.
	rc.SetWriteDeadline(time.Time{})
	sub, unsubscribe := s.live.subscribe(topic, r.URL.Query().Get("since"))
	defer unsubscribe()
	retry := s.opts.PollInterval.Milliseconds()
	if _, err := fmt.Fprintf(w, "retry: %d\n: watching %s\n\n", max(retry, 1000), topic); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		s.opts.Logf("web: event stream: %v", err)
		return
	}
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		var msg string
		select {
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		case <-sub.wake:
			msg = "event: change\ndata: " + topic + "\n\n"
		case <-heartbeat.C:
			msg = ": heartbeat\n\n"
		}
		if _, err := fmt.Fprint(w, msg); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
