package sandbox

import (
	"flag"
	"io"
	"maps"
	"strings"
	"testing"
	"time"
)

// The flags start from what the options hold and override only what they
// name; --serving accepts serverless or dedicated per base model.
func TestOptionsRegisterFlags(t *testing.T) {
	t.Parallel()
	parse := func(args ...string) (Options, error) {
		o := Options{Seed: 7, Serving: map[string]string{"kept": ServingDedicated}, Batch: BatchOptions{ErrorRate: 0.5}}
		fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o.RegisterFlags(fs)
		return o, fs.Parse(args)
	}
	o, err := parse("--batch-time", "3s", "--serving", "base=dedicated, other=serverless", "--defect", "chatter=0.5", "--rpm", "60")
	if err != nil {
		t.Fatal(err)
	}
	wantServing := map[string]string{"kept": ServingDedicated, "base": ServingDedicated, "other": ServingServerless}
	if o.Seed != 7 || o.Batch.ErrorRate != 0.5 || o.Batch.ProcessingTime != 3*time.Second || !maps.Equal(o.Serving, wantServing) ||
		o.Defects["chatter"] != 0.5 || o.Faults.RPM != 60 {
		t.Errorf("options %+v", o)
	}
	for _, bad := range []string{"base", "=dedicated", "base=always"} {
		if _, err := parse("--serving", bad); err == nil || !strings.Contains(err.Error(), "want BASE=serverless or BASE=dedicated") {
			t.Errorf("--serving %s: %v", bad, err)
		}
	}
}

func TestRunningWriteUsage(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	(&Running{URL: "http://127.0.0.1:8700"}).WriteUsage(&b)
	for _, want := range []string{"ethos sandbox listening on http://127.0.0.1:8700\n", "http://127.0.0.1:8700/v1/messages\n",
		"OPENAI_BASE_URL=http://127.0.0.1:8700/v1\n", "writer-defect-<name>"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, b.String())
		}
	}
}
