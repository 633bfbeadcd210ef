package finetune

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/atomicfile"
)

// FormatHyperparameters is a one-line summary of training settings, the
// provider's defaults left out.
func FormatHyperparameters(h ethos.Hyperparameters) string {
	var parts []string
	if h.DPO() {
		dpo := "DPO"
		if h.DPOBeta > 0 {
			dpo += " beta=" + strconv.FormatFloat(h.DPOBeta, 'g', -1, 64)
		}
		parts = append(parts, dpo)
	}
	if h.Epochs > 0 {
		parts = append(parts, fmt.Sprintf("epochs %d", h.Epochs))
	}
	if h.LearningRate > 0 {
		parts = append(parts, "lr "+strconv.FormatFloat(h.LearningRate, 'g', -1, 64))
	}
	if h.BatchSize > 0 {
		parts = append(parts, fmt.Sprintf("batch %d", h.BatchSize))
	}
	if h.LoRA {
		lora := "LoRA"
		if h.LoRARank > 0 {
			lora += fmt.Sprintf(" r=%d", h.LoRARank)
		}
		if h.LoRAAlpha > 0 {
			lora += " alpha=" + strconv.FormatFloat(h.LoRAAlpha, 'g', -1, 64)
		}
		if h.LoRADropout > 0 {
			lora += " dropout=" + strconv.FormatFloat(h.LoRADropout, 'g', -1, 64)
		}
		parts = append(parts, lora)
	} else {
		parts = append(parts, "full")
	}
	if h.Suffix != "" {
		parts = append(parts, "suffix "+h.Suffix)
	}
	if h.Evals > 0 {
		parts = append(parts, fmt.Sprintf("n_evals %d", h.Evals))
	}
	if h.WandbProject != "" {
		parts = append(parts, "wandb "+h.WandbProject)
	}
	return strings.Join(parts, ", ")
}

// ShortHash is the first twelve characters of a hex digest, enough to
// tell datasets apart in a table.
func ShortHash(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// RegistryStore is what WriteRegistryFile reads: the models and their
// jobs.
type RegistryStore interface {
	Models(ctx context.Context) ([]ethos.Model, error)
	Jobs(ctx context.Context, f ethos.FineTuneFilter) ([]ethos.FineTuneJob, error)
}

// WriteRegistryFile writes the registry of store's models (see
// WriteRegistry) to path, making its directory; a reader never sees half
// a registry. It returns how many models the registry lists.
func WriteRegistryFile(ctx context.Context, store RegistryStore, path string, generated time.Time) (int, error) {
	models, err := store.Models(ctx)
	if err != nil {
		return 0, err
	}
	jobs, err := store.Jobs(ctx, ethos.FineTuneFilter{})
	if err != nil {
		return 0, err
	}
	byID := make(map[string]ethos.FineTuneJob, len(jobs))
	for _, j := range jobs {
		byID[j.ID] = j
	}
	var b bytes.Buffer
	if err := WriteRegistry(&b, models, byID, generated); err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, ethos.Errorf(ethos.Config, "registry: %w", err)
	}
	if err := atomicfile.Write(path, b.Bytes(), 0o644); err != nil {
		return 0, ethos.Errorf(ethos.Config, "registry: write %s: %w", path, err)
	}
	return len(models), nil
}

// WriteRegistry writes the registry as a Markdown document for people: a
// summary table, then one section per model with its provenance (base
// model, job and its dates, dataset and hash, hyperparameters, cost) and
// the evaluations that included it. jobs, by ID, add the jobs' dates; a
// model whose job is missing still gets its section.
func WriteRegistry(w io.Writer, models []ethos.Model, jobs map[string]ethos.FineTuneJob, generated time.Time) error {
	var b strings.Builder
	b.WriteString("# Model registry\n\n")
	fmt.Fprintf(&b, "Models trained with ethos, newest first. Written by `ethos models --markdown` on %s from the\n", generated.UTC().Format("2006-01-02 15:04 MST"))
	b.WriteString("project's store; edit the store, not this file. Dataset paths are relative to the project's directory\n")
	b.WriteString("(the one with ethos.yaml) unless they are absolute.\n\n")
	for _, m := range models {
		if m.Provider == "sandbox" {
			b.WriteString("Models named `sandbox/…` were trained by ethos's offline emulator, not by a real provider.\n\n")
			break
		}
	}
	if len(models) == 0 {
		b.WriteString("No models yet: a fine-tune job registers its model when it completes (`ethos finetune create … --wait`).\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("| Model | Base | Dataset | Hyperparameters | Trained | Cost | Evaluations |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, m := range models {
		fmt.Fprintf(&b, "| `%s` | %s | %s (`%s`) | %s | %s | %s | %s |\n",
			cell(m.Name), cell(m.BaseModel), cell(m.DatasetPath), ShortHash(m.DatasetSHA256),
			cell(FormatHyperparameters(m.Hyperparameters)), m.CreatedAt.UTC().Format("2006-01-02"),
			formatCost(m.CostUSD), cell(evalList(m.Evals)))
	}
	for _, m := range models {
		fmt.Fprintf(&b, "\n## %s\n\n", m.Name)
		fmt.Fprintf(&b, "- **Call it as:** `%s`\n", m.Name)
		fmt.Fprintf(&b, "- **Provider:** %s (its name: `%s`)\n", m.Provider, m.ProviderModel)
		fmt.Fprintf(&b, "- **Base model:** `%s`\n", m.BaseModel)
		if m.Parent != "" {
			fmt.Fprintf(&b, "- **Trained from:** `%s` (its job continued)\n", m.Parent)
		}
		if m.Recipe != "" {
			fmt.Fprintf(&b, "- **Recipe:** %s\n", m.Recipe)
		}
		job, ok := jobs[m.JobID]
		switch {
		case ok && job.FinishedAt != nil:
			fmt.Fprintf(&b, "- **Fine-tune job:** `%s`, created %s, finished %s\n", m.JobID, stamp(job.CreatedAt), stamp(*job.FinishedAt))
		case ok:
			fmt.Fprintf(&b, "- **Fine-tune job:** `%s`, created %s\n", m.JobID, stamp(job.CreatedAt))
		default:
			fmt.Fprintf(&b, "- **Fine-tune job:** `%s`\n", m.JobID)
		}
		fmt.Fprintf(&b, "- **Dataset:** `%s`, SHA-256 `%s`\n", m.DatasetPath, m.DatasetSHA256)
		fmt.Fprintf(&b, "- **Hyperparameters:** %s\n", FormatHyperparameters(m.Hyperparameters))
		if ok && job.RunID != "" {
			fmt.Fprintf(&b, "- **Generation run:** `%s`\n", job.RunID)
		}
		fmt.Fprintf(&b, "- **Registered:** %s\n", stamp(m.CreatedAt))
		fmt.Fprintf(&b, "- **Cost:** %s\n", formatCost(m.CostUSD))
		fmt.Fprintf(&b, "- **Evaluations:** %s\n", evalList(m.Evals))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// RecordedPath is how a job and the registry record path, a file used by
// the project in projectDir: relative to the project when it is inside it,
// so that a moved or shared project still finds it, and absolute
// otherwise. An empty projectDir records path as it is.
func RecordedPath(projectDir, path string) string {
	if projectDir == "" || path == "" {
		return path
	}
	dir, err := filepath.Abs(projectDir)
	if err != nil {
		return path
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return abs
	}
	return rel
}

// ResolvePath is the file a recorded path names for the project in
// projectDir: a relative record is relative to the project; an absolute
// one, as older records are, stays as it is.
func ResolvePath(projectDir, recorded string) string {
	if recorded == "" || filepath.IsAbs(recorded) {
		return recorded
	}
	return filepath.Join(projectDir, recorded)
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

// formatCost shows a cost the provider reported; zero means none was.
func formatCost(usd float64) string {
	if usd == 0 {
		return "not reported"
	}
	return fmt.Sprintf("$%.2f", usd)
}

func evalList(ids []string) string {
	if len(ids) == 0 {
		return "none yet"
	}
	return strings.Join(ids, ", ")
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
