package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
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
	subs := map[string]func(context.Context, []string) error{
		"create": c.create, "list": c.list, "status": c.status,
		"events": c.events, "cancel": c.cancel, "wait": c.wait,
		"deploy": c.deploy, "undeploy": c.undeploy,
	}
	if len(args) == 0 {
		c.usage(c.m.Stderr)
		return usageErrorf("finetune: name a subcommand: create, list, status, events, cancel, wait, deploy or undeploy")
	}
	if run, ok := subs[args[0]]; ok {
		return run(ctx, args[1:])
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		c.usage(c.m.Stderr)
		return flag.ErrHelp
	}
	c.usage(c.m.Stderr)
	return usageErrorf("finetune: unknown subcommand %q; want create, list, status, events, cancel, wait, deploy or undeploy", args[0])
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
	provider := flags.String("provider", "", "together, openai or sandbox (default: finetune.provider)")
	model := flags.String("model", "", "the provider's base `model` (default: finetune.model)")
	train := flags.String("train", "", "the training `file` (JSONL), e.g. data/agora.jsonl")
	validation := flags.String("validation", "", "a validation `file`, for validation loss")
	epochs := flags.Int("epochs", 0, "training epochs (default: finetune.epochs)")
	lr := flags.Float64("learning-rate", 0, "learning rate (default: finetune.learning_rate; for OpenAI a multiplier, its default unless given)")
	batch := flags.Int("batch-size", 0, "batch size (default: finetune.batch_size)")
	lora := flags.Bool("lora", false, "train a LoRA adapter (default: finetune.lora)")
	full := flags.Bool("full", false, "full fine-tuning instead of LoRA")
	loraR := flags.Int("lora-r", 0, "LoRA rank (default: finetune.lora_r)")
	loraAlpha := flags.Float64("lora-alpha", 0, "LoRA alpha (default: finetune.lora_alpha)")
	loraDropout := flags.Float64("lora-dropout", -1, "LoRA dropout (default: finetune.lora_dropout)")
	nEvals := flags.Int("n-evals", 0, "with --validation, evaluations of it during training, each a validation loss (Together; default: finetune.n_evals)")
	suffix := flags.String("suffix", "", "suffix of the trained model's name (default: finetune.suffix)")
	wandb := flags.String("wandb-project", "", "Weights & Biases `project` (Together; the key comes from WANDB_API_KEY)")
	runID := flags.String("run", "", "the generation run `ID` that made the dataset, recorded with the job")
	method := flags.String("method", ethos.FineTuneSFT, "the training `method`: sft (conversations) or dpo (preference pairs, e.g. data/agora.pairs.jsonl); a file of the other kind is refused before upload")
	dpoBeta := flags.Float64("dpo-beta", 0, "DPO's `beta`, how closely training keeps to the model it starts from (default: the provider's, Together 0.1)")
	fromCheckpoint := flags.String("from-checkpoint", "", "continue training from an earlier job of the same provider (its `ID`; Together also takes a model name or ID:step) instead of from --model")
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
	if *train == "" {
		return usageErrorf("finetune create: --train FILE is required")
	}
	if *lora && *full {
		return usageErrorf("finetune create: --lora and --full exclude each other")
	}
	if *interval < 0 {
		return usageErrorf("finetune create: --interval must not be negative")
	}
	set := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { set[f.Name] = true })

	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()
	ft := p.Config().FineTune
	if *provider == "" {
		*provider = ft.Provider
	} else if *model == "" && *provider != ft.Provider {
		return usageErrorf("finetune create: --model is required when --provider (%s) is not finetune.provider (%s)", *provider, ft.Provider)
	}
	if *model == "" {
		*model = ft.Model
	}
	if err := ethos.CheckFineTuneProvider(*provider); err != nil {
		return usageErrorf("finetune create: --provider: %v", err)
	}

	if *method != ethos.FineTuneSFT && *method != ethos.FineTuneDPO {
		return usageErrorf("finetune create: --method %q: want sft or dpo", *method)
	}
	if set["n-evals"] && *validation == "" {
		return usageErrorf("finetune create: --n-evals needs --validation FILE: the evaluations are of the validation file")
	}
	// ethos.yaml's settings, then the flags.
	o := finetune.Overrides{LoRA: *lora, Full: *full, Method: *method, WandbProject: *wandb}
	given(set, "epochs", &o.Epochs, *epochs)
	given(set, "learning-rate", &o.LearningRate, *lr)
	given(set, "batch-size", &o.BatchSize, *batch)
	given(set, "lora-r", &o.LoRARank, *loraR)
	given(set, "lora-alpha", &o.LoRAAlpha, *loraAlpha)
	given(set, "lora-dropout", &o.LoRADropout, *loraDropout)
	given(set, "suffix", &o.Suffix, *suffix)
	given(set, "dpo-beta", &o.DPOBeta, *dpoBeta)
	given(set, "n-evals", &o.Evals, *nEvals)
	// Refused here, before any upload, rather than by the provider after.
	h, err := o.Apply(pipeline.FineTuneSettings(ft, *provider, *validation != ""))
	if err != nil {
		return usageErrorf("finetune create: %v (check the flags and ethos.yaml's finetune section)", err)
	}

	// Absolute paths: the job records where its dataset is, for any
	// process, from any directory.
	opts := finetune.CreateOptions{Provider: *provider, BaseModel: *model, TrainPath: absPath(c.m, *train),
		Hyperparameters: h, RunID: *runID, FromCheckpoint: *fromCheckpoint}
	if *validation != "" {
		opts.ValidationPath = absPath(c.m, *validation)
	}
	svc := p.FineTune()
	created, err := svc.Create(ctx, opts)
	if err != nil {
		return err
	}
	finetune.WriteCreated(c.m.Stderr, created, *train) // stdout carries the job ID (or JSON) for scripts
	if !*wait {
		if *asJSON {
			return writeJSON(c.m.Stdout, created.Job)
		}
		fmt.Fprintf(c.m.Stdout, "%s\n", created.Job.ID)
		return nil
	}
	if *interval == 0 {
		*interval = finetune.PollInterval(*provider)
	}
	return c.m.waitJob(ctx, svc, created.Job.ID, *interval, *asJSON)
}

// absPath resolves path against m's working directory and the process's.
func absPath(m *Main, path string) string {
	if abs, err := filepath.Abs(m.abs(path)); err == nil {
		return abs
	}
	return m.abs(path)
}

// given points *dst at v when the flag name was set on the command line.
func given[T any](set map[string]bool, name string, dst **T, v T) {
	if set[name] {
		*dst = &v
	}
}

// waitJob follows a job to its end, printing each change and new event on
// stderr, and the model (or the job as JSON) on stdout. A job that failed
// or was cancelled is an error.
func (m *Main) waitJob(ctx context.Context, svc *finetune.Service, id string, interval time.Duration, asJSON bool) error {
	job, err := svc.Wait(ctx, id, interval, finetune.WaitLog(m.Stderr, id))
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(m.Stderr, "stopped waiting; the job goes on: ethos finetune wait %s\n", id)
		}
		return err
	}
	model, merr := svc.Store.Model(ctx, finetune.ModelName(job))
	if asJSON {
		out := struct {
			Job   ethos.FineTuneJob `json:"job"`
			Model *ethos.Model      `json:"model,omitempty"`
		}{Job: job}
		if merr == nil {
			out.Model = &model
		}
		if err := writeJSON(m.Stdout, out); err != nil {
			return err
		}
	}
	if err := finetune.JobError(job); err != nil {
		return err
	}
	if merr != nil {
		return merr
	}
	if !asJSON {
		fmt.Fprintf(m.Stderr, "completed: model %s registered (ethos models)\n", model.Name)
		fmt.Fprintln(m.Stdout, model.Name)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
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
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("finetune list takes no arguments, got %q", rest)
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
		views := make([]finetune.JobView, 0, len(updates))
		for _, u := range updates {
			views = append(views, finetune.ViewOf(u))
		}
		return writeJSON(c.m.Stdout, views)
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
		if events == nil {
			events = []ethos.FineTuneEvent{}
		}
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
	svc := p.FineTune()
	j, err := svc.Store.Job(ctx, id)
	if err != nil {
		_, err = svc.Refresh(ctx, id) // for the error that says where to look
		return err
	}
	if *interval == 0 {
		*interval = finetune.PollInterval(j.Provider)
	}
	return c.m.waitJob(ctx, svc, id, *interval, *asJSON)
}
