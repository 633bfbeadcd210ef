package jobs

import (
	"context"

	"github.com/riverqueue/river"

	"github.com/ethos-toolkit/ethos/internal/groupcommit"
)

// maxInsertBatch bounds the tasks inserted in one transaction.
const maxInsertBatch = 500

// newInserter is the group commit of Enqueue and EnqueueMany: thousands
// of tasks enqueueing their next stage at once cost a few transactions at
// the database's one connection instead of thousands, and River's own
// fetches and completions (which time out after 10 s) wait behind one
// inserter, not behind every task.
func newInserter() *groupcommit.Queue[*insertReq] {
	return &groupcommit.Queue[*insertReq]{Max: maxInsertBatch, Weight: func(r *insertReq) int { return len(r.params) }}
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

// insert inserts params, in a group commit where the backend has one, and
// returns once they are inserted or have failed.
func (c *Client) insert(ctx context.Context, params []river.InsertManyParams) (*insertReq, error) {
	r := &insertReq{params: params, done: make(chan struct{})}
	if c.inserter == nil {
		c.insertBatch(ctx, []*insertReq{r})
	} else {
		c.inserter.Do(ctx, r, r.done, c.insertBatch)
	}
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
