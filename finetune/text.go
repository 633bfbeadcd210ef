package finetune

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// This file is the text form of fine-tune jobs, events, models and
// endpoints, as the ethos commands print it: tables for people, lines for
// logs.

// FormatProgress is a job's progress as its provider reports it ("step
// 40/120, epoch 1/3, loss 1.2345"), "" when it reports none.
func FormatProgress(p ethos.FineTuneProgress) string {
	var parts []string
	switch {
	case p.TotalSteps > 0:
		parts = append(parts, fmt.Sprintf("step %d/%d", p.Step, p.TotalSteps))
	case p.Step > 0:
		parts = append(parts, fmt.Sprintf("step %d", p.Step))
	}
	switch {
	case p.Epochs > 0 && p.Epoch > 0:
		parts = append(parts, fmt.Sprintf("epoch %d/%d", p.Epoch, p.Epochs))
	case p.Epoch > 0:
		parts = append(parts, fmt.Sprintf("epoch %d", p.Epoch))
	}
	if p.Loss != nil {
		parts = append(parts, fmt.Sprintf("loss %.4f", *p.Loss))
	}
	return strings.Join(parts, ", ")
}

// StatusLine is a job's provider status followed by its progress, if
// any: "running, step 40/120, loss 1.2345". A follower prints it when it
// changes.
func StatusLine(j ethos.FineTuneJob) string {
	line := j.Status
	if p := FormatProgress(j.Progress); p != "" {
		line += ", " + p
	}
	return line
}

// FormatEvent is one line for an event: its local time, its level when
// not info, its type, the message, and the loss when the message does not
// already say it.
func FormatEvent(ev ethos.FineTuneEvent) string {
	s := ev.CreatedAt.Local().Format("15:04:05")
	if ev.Level != "" && ev.Level != "info" {
		s += " " + strings.ToUpper(ev.Level)
	}
	if ev.Type != "" {
		s += " " + ev.Type
	}
	s += ": " + ev.Message
	if ev.Loss != nil && !strings.Contains(ev.Message, "loss") {
		s += fmt.Sprintf(" (loss %.4f)", *ev.Loss)
	}
	return s
}

// WaitLog is a progress function for Service.Wait that writes to w what
// a person following job id wants to see: each new event, the status line
// (StatusLine) when it changes, and each time the provider could not be
// asked.
func WaitLog(w io.Writer, id string) func(Update, error) {
	last := ""
	return func(u Update, err error) {
		if err != nil {
			fmt.Fprintf(w, "%s: provider not reachable, trying again: %v\n", id, err)
			return
		}
		for _, ev := range u.NewEvents {
			fmt.Fprintf(w, "  %s\n", FormatEvent(ev))
		}
		if line := id + ": " + StatusLine(u.Job); line != last {
			fmt.Fprintln(w, line)
			last = line
		}
	}
}

// WriteCreated tells what Create did with the training file train (as the
// user named it) and the job: checked, uploaded or reused, created,
// attached or found, and how to follow the job.
func WriteCreated(w io.Writer, cr Created, train string) {
	if r := cr.Report; r != nil {
		fmt.Fprintf(w, "checked %s: %d examples (%s), %d warnings\n", train, r.Examples, r.Format, r.Warnings())
	}
	if cr.Uploaded {
		fmt.Fprintf(w, "uploaded %s as %s (sha256 %s)\n", train, cr.TrainFile.ID, ShortHash(cr.TrainFile.SHA256))
	} else {
		fmt.Fprintf(w, "reused upload %s (same content, sha256 %s)\n", cr.TrainFile.ID, ShortHash(cr.TrainFile.SHA256))
	}
	j := cr.Job
	switch cr.How {
	case HowCreated:
		fmt.Fprintf(w, "created %s job %s on %s: %s\n", j.Provider, j.ID, j.BaseModel, j.Status)
	case HowAttached:
		fmt.Fprintf(w, "attached to %s job %s, created by an interrupted earlier attempt: %s\n", j.Provider, j.ID, j.Status)
	case HowExisting:
		fmt.Fprintf(w, "the same request already has %s job %s (%s); nothing new was created\n", j.Provider, j.ID, j.Status)
	}
	fmt.Fprintf(w, "follow it with: ethos finetune wait %s (or ethos monitor)\n", j.ID)
}

// WriteJobs writes a table of jobs (ID, provider, base, status, progress,
// model, created), then the Weights & Biases run of each job that logs to
// one. A status ethos does not know is marked "(unknown)", a job the
// provider could not be asked about "(stale)"; WriteStale says why.
func WriteJobs(out io.Writer, updates []Update) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tPROVIDER\tBASE\tSTATUS\tPROGRESS\tMODEL\tCREATED")
	for _, u := range updates {
		j := u.Job
		status := j.Status
		if j.State == ethos.FineTuneUnknown {
			status += " (unknown)"
		}
		if u.Stale != nil {
			status += " (stale)"
		}
		model := "-"
		if j.State == ethos.FineTuneCompleted {
			model = ModelName(j)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Provider, j.BaseModel, status, cmp.Or(FormatProgress(j.Progress), "-"), model,
			j.CreatedAt.Local().Format("2006-01-02 15:04"))
	}
	w.Flush()
	for _, u := range updates {
		if url := u.Job.WandbURL(); url != "" {
			fmt.Fprintf(out, "%s: W&B run %s\n", u.Job.ID, url)
		}
	}
}

// WriteStale writes, for each job that could not be refreshed, why: it
// is shown as last recorded.
func WriteStale(w io.Writer, updates []Update) {
	for _, u := range updates {
		if u.Stale != nil {
			fmt.Fprintf(w, "%s: shown as last recorded: %v\n", u.Job.ID, u.Stale)
		}
	}
}

// recentEvents is how many of a job's events WriteStatus shows.
const recentEvents = 5

// WriteStatus writes one job as ethos finetune status shows it: a
// two-column table of what is known about it (rows with nothing to say
// left out), then its last few events.
func WriteStatus(out io.Writer, u Update, events []ethos.FineTuneEvent) {
	j := u.Job
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%s\t%s\n", k, v)
		}
	}
	status := j.Status
	if j.State == ethos.FineTuneUnknown {
		status += " (a status ethos does not know; followed until it ends)"
	}
	row("job", j.ID)
	row("provider", j.Provider)
	row("base model", j.BaseModel)
	row("status", status)
	row("state", string(j.State))
	row("progress", FormatProgress(j.Progress))
	row("error", j.Error)
	if j.State == ethos.FineTuneCompleted {
		row("model", ModelName(j))
	} else {
		row("output model", j.OutputModel)
	}
	row("dataset", fmt.Sprintf("%s (sha256 %s)", j.DatasetPath, ShortHash(j.DatasetSHA256)))
	row("files", strings.TrimSuffix(j.TrainFile+" (train), "+j.ValidationFile, ", "))
	row("hyperparameters", FormatHyperparameters(j.Hyperparameters))
	row("W&B run", j.WandbURL())
	row("generation run", j.RunID)
	if j.CostUSD > 0 {
		row("cost", fmt.Sprintf("$%.2f", j.CostUSD))
	}
	row("created", j.CreatedAt.Local().Format(time.DateTime))
	if j.FinishedAt != nil {
		row("finished", j.FinishedAt.Local().Format(time.DateTime))
	}
	w.Flush()
	if len(events) > 0 {
		from := max(len(events)-recentEvents, 0)
		fmt.Fprintf(out, "\nlast %d of %d events (ethos finetune events %s):\n", len(events)-from, len(events), j.ID)
		for _, ev := range events[from:] {
			fmt.Fprintf(out, "  %s\n", FormatEvent(ev))
		}
	}
}

// WriteEvents writes a table of a job's events: sequence number, local
// time, level, type, step, epoch, loss and message.
func WriteEvents(out io.Writer, events []ethos.FineTuneEvent) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "#\tTIME\tLEVEL\tTYPE\tSTEP\tEPOCH\tLOSS\tMESSAGE")
	for _, ev := range events {
		loss, step, epoch := "-", "-", "-"
		if ev.Loss != nil {
			loss = fmt.Sprintf("%.4f", *ev.Loss)
		}
		if ev.Step > 0 {
			step = fmt.Sprint(ev.Step)
		}
		if ev.Epoch > 0 {
			epoch = fmt.Sprint(ev.Epoch)
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", ev.Seq, ev.CreatedAt.Local().Format(time.DateTime),
			cmp.Or(ev.Level, "-"), cmp.Or(ev.Type, "-"), step, epoch, loss, ev.Message)
	}
	return w.Flush()
}

// WriteModels writes the registry as a table: name, base, job, dataset
// and its hash, hyperparameters, when trained, cost, how it is served and
// the evaluations that included it.
func WriteModels(out io.Writer, models []ethos.Model) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MODEL\tBASE\tJOB\tDATASET\tSHA256\tHYPERPARAMETERS\tTRAINED\tCOST\tSERVED\tEVALS")
	for _, m := range models {
		cost, evals := "-", "-"
		if m.CostUSD > 0 {
			cost = fmt.Sprintf("$%.2f", m.CostUSD)
		}
		if len(m.Evals) > 0 {
			evals = strings.Join(m.Evals, ",")
		}
		served := cmp.Or(m.Serving, "-")
		if m.CallAs != "" {
			served += " as " + m.CallAs
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.BaseModel, m.JobID, m.DatasetPath,
			ShortHash(m.DatasetSHA256), FormatHyperparameters(m.Hyperparameters),
			m.CreatedAt.Local().Format("2006-01-02 15:04"), cost, served, evals)
	}
	w.Flush()
}

// WriteEndpoints writes a table of endpoints and what each has cost by
// now: those recorded, then those an interrupted deploy may have started,
// whose ID and state are unknown until a rerun finds them.
func WriteEndpoints(out io.Writer, eps []ethos.Endpoint, unknown []PendingDeploy, now time.Time) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ENDPOINT\tSTATE\tMODEL\tCALL AS\tHARDWARE\tPER HOUR\tSINCE\tCOST SO FAR")
	for _, e := range eps {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t$%.2f\t%s\t$%.2f\n", e.ID, e.State, e.ModelName, e.CallAs, e.Hardware,
			e.USDPerHour(), e.CreatedAt.Local().Format("2006-01-02 15:04"), e.CostUSD(now))
	}
	for _, p := range unknown {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t$%.2f\t%s\t%s\n", "?", "unknown — rerun to re-attach", p.ModelName, "-", p.Hardware,
			p.USDPerHour(), p.Since.Local().Format("2006-01-02 15:04"), "?")
	}
	w.Flush()
}

// WriteDeployed tells where a deployed model is served, at what price,
// and how to call and stop it.
func WriteDeployed(w io.Writer, ep ethos.Endpoint, m ethos.Model) {
	if ep.Attached {
		fmt.Fprintf(w, "%s attached to endpoint %s: call it as %s\n", m.Name, ep.ID, ep.CallAs)
		return
	}
	fmt.Fprintf(w, "endpoint %s (%s) serves %s on %s at $%.2f/hour\ncall it as %s; stop it with: ethos finetune undeploy %s\n",
		ep.ID, ep.Name, m.Name, ep.Hardware, ep.USDPerHour(), ep.CallAs, ep.ID)
}
