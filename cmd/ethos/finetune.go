package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/pipeline"
	"github.com/ethos-toolkit/ethos/project"
)

// FinetuneCommand creates fine-tune jobs on hosted providers and follows
// them.
type FinetuneCommand struct{ m *Main }

// The synopses of the subcommands; finetuneSynopsis is all of them.
const (
	finetuneCreateSynopsis = `finetune create --train FILE [--provider together|openai|sandbox] [--model BASE] [--validation FILE]
                [--epochs N] [--learning-rate X] [--batch-size N] [--lora | --full] [--lora-r R]
                [--lora-alpha A] [--lora-dropout D] [--n-evals N] [--suffix S] [--wandb-project P] [--run ID]
                [--method sft|dpo] [--dpo-beta B] [--from-checkpoint JOB]
                [--wait] [--interval D] [--json] [--config FILE] [--db PATH]`
	finetuneListSynopsis = "finetune list [--provider P] [--active] [--limit N] [--json] [--config FILE] [--db PATH]"
	// finetuneJobSynopsis follows "finetune status", "events" or "cancel".
	finetuneJobSynopsis    = " ID [--json] [--config FILE] [--db PATH]"
	finetuneWaitSynopsis   = "finetune wait ID [--interval D] [--json] [--config FILE] [--db PATH]"
	finetuneDeploySynopsis = `finetune deploy JOB [--hardware H] [--inactive-timeout 15m] [--attach ENDPOINT]
                [--interval D] [--json] [--config FILE] [--db PATH]`
	finetuneUndeploySynopsis = "finetune undeploy ENDPOINT|JOB [--interval D] [--json] [--config FILE] [--db PATH]"

	finetuneSynopsis = finetuneCreateSynopsis +
		"\n       ethos " + finetuneListSynopsis +
		"\n       ethos finetune status" + finetuneJobSynopsis +
		"\n       ethos finetune events" + finetuneJobSynopsis +
		"\n       ethos finetune cancel" + finetuneJobSynopsis +
		"\n       ethos " + finetuneWaitSynopsis +
		"\n       ethos " + finetuneDeploySynopsis +
		"\n       ethos " + finetuneUndeploySynopsis
)

// Run dispatches to the subcommand.
func (c *FinetuneCommand) Run(ctx context.Context, args []string) error {
	return dispatch(ctx, c.m, "finetune", c.usage, []subcommand{
		{name: "create", run: c.create}, {name: "list", run: c.list}, {name: "status", run: c.status},
		{name: "events", run: c.events}, {name: "cancel", run: c.cancel}, {name: "wait", run: c.wait},
		{name: "deploy", run: c.deploy}, {name: "undeploy", run: c.undeploy},
	}, args)
}

func (c *FinetuneCommand) usage(w io.Writer) {
	fmt.Fprintf(w, `Usage: ethos %s

  create  checks the training file as the provider will (an invalid file is refused
          before upload), uploads it unless the same content was uploaded before,
          creates the job and records it before returning; the same request again
          returns its job, and a create interrupted after the provider made the job
          attaches to it instead of making another
  list    the recorded jobs, active ones refreshed from their provider
  status  one job: the provider's status verbatim, progress, recent events, model
  events  every event of a job, with steps and losses
  cancel  asks the provider to stop an active job
  wait    follows a job until it finishes; exit 1 if it failed or was cancelled
  deploy  serves a completed job's model on a dedicated endpoint (billed per minute
          while up), or attaches its adapter to a running endpoint (--attach); waits
          until it serves, registers the name to call it by, shows the price per hour
  undeploy stops an endpoint ethos started (or every one of a job's model)

Defaults for create come from the finetune section of ethos.yaml. Provider
statuses are shown as the provider sends them. Run "ethos finetune SUBCOMMAND
--help" for its flags.
`, finetuneSynopsis)
}

func (c *FinetuneCommand) create(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("finetune create", finetuneCreateSynopsis)
	var pf projectFlags
	pf.register(flags)
	var opts finetune.CreateOptions
	opts.RegisterFlags(flags)
	var o finetune.Overrides
	o.RegisterFlags(flags)
	wait := flags.Bool("wait", false, "follow the job until it finishes and print the model")
	interval := flags.Duration("interval", 0, "with --wait, how often to poll (default 30s; 0.5s for the sandbox)")
	asJSON := flags.Bool("json", false, "print the job (and model) as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("finetune create takes no arguments, got %q (the training file goes in --train)", rest)
	}
	train := opts.TrainPath
	if train == "" {
		return usageErrorf("finetune create: --train FILE is required")
	}
	if *interval < 0 {
		return usageErrorf("finetune create: --interval must not be negative")
	}
	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	opts.TrainPath = c.m.abs(train)
	if opts.ValidationPath != "" {
		opts.ValidationPath = c.m.abs(opts.ValidationPath)
	}
	// Refused here, before any upload, rather than by the provider after.
	if opts, err = pipeline.FineTuneCreateOptions(p.Config().FineTune, opts, o); err != nil {
		return usageErrorf("finetune create: %v", err)
	}
	svc := p.FineTune()
	created, err := svc.Create(ctx, opts)
	if err != nil {
		return err
	}
	finetune.WriteCreated(c.m.Stderr, created, train) // stdout carries the job ID (or JSON) for scripts
	if !*wait {
		if *asJSON {
			return writeJSON(c.m.Stdout, created.Job)
		}
		fmt.Fprintf(c.m.Stdout, "%s\n", created.Job.ID)
		return nil
	}
	return c.m.waitJob(ctx, svc, created.Job.ID, *interval, *asJSON)
}

// waitJob follows a job to its end, printing each change and new event on
// stderr, and the model (or the job as JSON) on stdout. A job that failed
// or was cancelled is an error.
func (m *Main) waitJob(ctx context.Context, svc *finetune.Service, id string, interval time.Duration, asJSON bool) error {
	f, err := svc.WaitFinished(ctx, id, interval, finetune.WaitLog(m.Stderr, id))
	if f.Job.ID == "" { // not followed to its end
		if ctx.Err() != nil {
			fmt.Fprintf(m.Stderr, "stopped waiting; the job goes on: ethos finetune wait %s\n", id)
		}
		return err
	}
	if asJSON {
		if jerr := writeJSON(m.Stdout, f); jerr != nil {
			return jerr
		}
	} else if err == nil {
		fmt.Fprintf(m.Stderr, "completed: model %s registered (ethos models)\n", f.Model.Name)
		fmt.Fprintln(m.Stdout, f.Model.Name)
	}
	return err
}

// writeJSON writes v as indented JSON; a nil slice is written as [], so
// that "nothing" reads as an empty list.
func writeJSON(w io.Writer, v any) error {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
		v = []struct{}{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// jobArg takes the one job ID argument of a subcommand.
func jobArg(name string, rest []string) (string, error) {
	if len(rest) != 1 || rest[0] == "" {
		return "", usageErrorf("finetune %s takes one job ID, got %d arguments", name, len(rest))
	}
	return rest[0], nil
}

func (c *FinetuneCommand) list(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("finetune list", finetuneListSynopsis)
	var pf projectFlags
	pf.register(flags)
	provider := flags.String("provider", "", "only this provider's jobs")
	active := flags.Bool("active", false, "only jobs that are not finished")
	limit := flags.Int("limit", 0, "at most `N` jobs, newest first (0: all)")
	asJSON := flags.Bool("json", false, "print as JSON")
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	updates, err := p.FineTune().List(ctx, ethos.FineTuneFilter{Provider: *provider, Active: *active, Limit: *limit})
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(c.m.Stdout, finetune.ViewsOf(updates))
	}
	if len(updates) == 0 {
		fmt.Fprintln(c.m.Stdout, "no fine-tune jobs yet: ethos finetune create --train FILE")
		return nil
	}
	finetune.WriteJobs(c.m.Stdout, updates)
	finetune.WriteStale(c.m.Stderr, updates)
	return nil
}

func (c *FinetuneCommand) status(ctx context.Context, args []string) error {
	p, id, asJSON, err := c.openJob(ctx, "status", "print as JSON", args)
	if err != nil {
		return err
	}
	defer p.Close()
	u, events, err := p.FineTune().Events(ctx, id)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.m.Stdout, finetune.ViewOf(u))
	}
	finetune.WriteStatus(c.m.Stdout, u, events)
	if u.Stale != nil {
		fmt.Fprintf(c.m.Stderr, "shown as last recorded: %v\n", u.Stale)
	}
	return nil
}

func (c *FinetuneCommand) events(ctx context.Context, args []string) error {
	p, id, asJSON, err := c.openJob(ctx, "events", "print as JSON", args)
	if err != nil {
		return err
	}
	defer p.Close()
	u, events, err := p.FineTune().Events(ctx, id)
	if err != nil {
		return err
	}
	if u.Stale != nil {
		fmt.Fprintf(c.m.Stderr, "events as last recorded: %v\n", u.Stale)
	}
	if asJSON {
		return writeJSON(c.m.Stdout, events)
	}
	return finetune.WriteEvents(c.m.Stdout, events)
}

// openJob parses the flags of a subcommand that takes one job ID and
// --json (status, events, cancel) and opens the project.
func (c *FinetuneCommand) openJob(ctx context.Context, name, jsonHelp string, args []string) (p *project.Project, id string, asJSON bool, err error) {
	flags := c.m.newFlagSet("finetune "+name, "finetune "+name+finetuneJobSynopsis)
	var pf projectFlags
	pf.register(flags)
	flags.BoolVar(&asJSON, "json", false, jsonHelp)
	rest, err := parseFlags(flags, args)
	if err != nil {
		return nil, "", false, err
	}
	if id, err = jobArg(name, rest); err != nil {
		return nil, "", false, err
	}
	p, err = c.m.openProject(ctx, flags, pf)
	return p, id, asJSON, err
}

func (c *FinetuneCommand) cancel(ctx context.Context, args []string) error {
	p, id, asJSON, err := c.openJob(ctx, "cancel", "print the job as JSON", args)
	if err != nil {
		return err
	}
	defer p.Close()
	u, err := p.FineTune().Cancel(ctx, id)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(c.m.Stdout, finetune.ViewOf(u))
	}
	fmt.Fprintf(c.m.Stdout, "cancel requested: job %s is now %s\n", id, u.Job.Status)
	return nil
}

func (c *FinetuneCommand) wait(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("finetune wait", finetuneWaitSynopsis)
	var pf projectFlags
	pf.register(flags)
	interval := flags.Duration("interval", 0, "how often to poll (default 30s; 0.5s for the sandbox)")
	asJSON := flags.Bool("json", false, "print the job and model as JSON")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	id, err := jobArg("wait", rest)
	if err != nil {
		return err
	}
	if *interval < 0 {
		return usageErrorf("finetune wait: --interval must not be negative")
	}
	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	return c.m.waitJob(ctx, p.FineTune(), id, *interval, *asJSON)
}
