package jobs_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "modernc.org/sqlite"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/jobs"
)

// A model call run as a durable job: enqueued, worked by the client's
// workers, and waited for.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ethos-jobs-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "ethos.db")+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // River's SQLite driver needs exactly one connection
	if err := jobs.Migrate(ctx, db); err != nil {
		log.Fatal(err)
	}

	echo := ethos.CompleterFunc(func(ctx context.Context, req ethos.Request) (ethos.Response, error) {
		return ethos.Response{Text: "you said: " + req.Messages[0].Content, StopReason: ethos.StopEnd}, nil
	})
	client, err := jobs.New(db, jobs.Config{Completer: echo})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer client.Stop(ctx)

	resp, err := client.Call(ctx, jobs.CallArgs{
		Request: ethos.Request{
			Model:     "sandbox/writer",
			Messages:  []ethos.Message{{Role: ethos.RoleUser, Content: "hello"}},
			MaxTokens: 50,
		},
		Metadata: map[string]string{"stage": "example"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Text)
	// Output: you said: hello
}

// The same lifecycle on PostgreSQL, where any number of processes work one
// queue: each runs this, and a task enqueued by any of them wakes the
// others' workers at once through LISTEN/NOTIFY.
func ExampleRunOn() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("ETHOS_DATABASE_URL")) // e.g. postgres://…/ethos?search_path=team
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	cfg := jobs.Config{
		Queue: "run-42",
		Tasks: map[string]jobs.TaskFunc{"greet": func(ctx context.Context, t jobs.Task) error {
			fmt.Println("hello,", t.Key)
			return nil
		}},
	}
	err = jobs.RunOn(ctx, jobs.Postgres(pool), cfg, jobs.Work{
		Prepare: func(ctx context.Context, rescued int64) (bool, error) {
			q, err := jobs.FromContext(ctx)
			if err != nil {
				return false, err
			}
			_, err = q.EnqueueMany(ctx, []jobs.Task{{Name: "greet", RunID: "run-42", Key: "world"}})
			return err == nil, err
		},
		Drive: func(ctx context.Context) error {
			// The run ends when its queue is empty.
			q, err := jobs.FromContext(ctx)
			if err != nil {
				return err
			}
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				busy, err := q.Busy(ctx)
				if err != nil || !busy {
					return err
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-tick.C:
				}
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
}
