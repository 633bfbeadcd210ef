package jobs_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

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
