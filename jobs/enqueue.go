package jobs

import (
	"context"
	"sync"

	"github.com/riverqueue/river"
)

// maxInsertBatch bounds the tasks inserted in one transaction.
const maxInsertBatch = 500

// inserter is the group commit of Enqueue and EnqueueMany: callers queue
// their tasks, and whichever caller finds no one inserting inserts
// everything queued, in batches, until the queue is empty. Thousands of
// tasks enqueueing their next stage at once then cost a few transactions
// at the database's one connection instead of thousands, and River's own
// fetches and completions (which time out after 10 s) wait behind one
// inserter, not behind every task.
type inserter struct {
	mu        sync.Mutex
	queue     []*insertReq
	inserting bool
}

// insertReq is one caller's tasks; ids and added are set, one per task,
// before done closes.
type insertReq struct {
	params []river.InsertManyParams
	ids    []int64
	added  []bool
	err    error
	done   chan struct{}
}

// insert queues params and returns once they are inserted or have failed.
func (c *Client) insert(ctx context.Context, params []river.InsertManyParams) (*insertReq, error) {
	r := &insertReq{params: params, done: make(chan struct{})}
	in := &c.inserter
	in.mu.Lock()
	in.queue = append(in.queue, r)
	lead := !in.inserting
	in.inserting = true
	in.mu.Unlock()
	if lead {
		// Other callers' tasks must not fail because this one's
		// context ended.
		ictx := context.WithoutCancel(ctx)
		for {
			in.mu.Lock()
			var batch []*insertReq
			n := 0
			for len(in.queue) > 0 && (n == 0 || n+len(in.queue[0].params) <= maxInsertBatch) {
				n += len(in.queue[0].params)
				batch = append(batch, in.queue[0])
				in.queue = in.queue[1:]
			}
			if len(batch) == 0 {
				in.inserting = false
				in.queue = nil
			}
			in.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			c.insertBatch(ictx, batch)
		}
	}
	<-r.done
	return r, r.err
}

// insertBatch inserts the tasks of batch in one transaction. When it
// fails, each request is tried alone, so one that cannot be inserted
// fails alone.
func (c *Client) insertBatch(ctx context.Context, batch []*insertReq) {
	var all []river.InsertManyParams
	for _, r := range batch {
		all = append(all, r.params...)
	}
	res, err := c.river.InsertMany(ctx, all)
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			c.insertBatch(ctx, []*insertReq{r})
		}
		return
	}
	for _, r := range batch {
		r.err = err
		if err == nil {
			for _, x := range res[:len(r.params)] {
				r.ids = append(r.ids, x.Job.ID)
				r.added = append(r.added, !x.UniqueSkippedAsDuplicate)
			}
			res = res[len(r.params):]
		}
		close(r.done)
	}
}
