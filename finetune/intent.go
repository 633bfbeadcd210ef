package finetune

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// A create request is recorded as a run of kind RunKind before the
// provider is asked, with one item per attempt: pending while the provider
// is being asked, accepted with the job's ID once the job is recorded,
// rejected with the provider's reason when it refused. The run's ID is
// derived from the request, so the same request finds its record again.

// RunKind is the Run.Kind of a fine-tune create request.
const RunKind = "finetune"

// stageCreate is the Item.Stage of a create attempt.
const stageCreate = "finetune.create"

// listLimit is how many of the provider's recent jobs are searched for one
// an interrupted attempt created.
const listLimit = 100

// clockSkew is how much earlier than the attempt's record a provider's job
// may say it was created and still be the attempt's job.
const clockSkew = time.Hour

// intent is what identifies a create request.
type intent struct {
	Provider         string                `json:"provider"`
	BaseModel        string                `json:"base_model"`
	TrainSHA256      string                `json:"train_sha256"`
	ValidationSHA256 string                `json:"validation_sha256,omitempty"`
	Hyperparameters  ethos.Hyperparameters `json:"hyperparameters"`
	FromCheckpoint   string                `json:"from_checkpoint,omitempty"`
}

// intentParams is the intent run's Params: the request and where its
// files were.
type intentParams struct {
	intent
	TrainPath      string `json:"train_path"`
	ValidationPath string `json:"validation_path,omitempty"`
	RunID          string `json:"run_id,omitempty"`
}

func intentID(in intent) string {
	sum := sha256.Sum256(marshal(in))
	return RunKind + "-" + hex.EncodeToString(sum[:8])
}

// attemptData is an attempt's Item.Data: the training file it sends,
// recorded before the provider is asked, and the job once created.
type attemptData struct {
	TrainFile string `json:"train_file,omitempty"`
	JobID     string `json:"job_id,omitempty"`
}

func attemptOf(it ethos.Item) attemptData {
	var d attemptData
	_ = json.Unmarshal(it.Data, &d) // an unreadable record names nothing
	return d
}

func attemptJob(it ethos.Item) string { return attemptOf(it).JobID }

// recordSending notes the training file an attempt is about to send, so a
// later attempt looks for a job on that file even if the upload it finds
// is another.
func (s *Service) recordSending(ctx context.Context, it *ethos.Item, trainFile string) error {
	it.Data = marshal(attemptData{TrainFile: trainFile})
	return s.Store.UpdateItem(ctx, it)
}

// attempt is the record of one try at creating the job.
type attempt struct {
	*ethos.Item
	// createdBefore says an earlier process recorded this attempt and did
	// not close it: it may have created the job.
	createdBefore bool
}

// beginAttempt records the intent and returns the attempt to make, or the
// job of an earlier attempt that is active or completed.
func (s *Service) beginAttempt(ctx context.Context, in intent, o CreateOptions) (attempt, *ethos.FineTuneJob, error) {
	id := intentID(in)
	params := intentParams{intent: in, TrainPath: o.TrainPath, ValidationPath: o.ValidationPath, RunID: o.RunID}
	run := &ethos.Run{ID: id, Kind: RunKind, Status: ethos.RunRunning, Params: marshal(params), CreatedAt: s.now()}
	if err := s.Store.CreateRun(ctx, run); err != nil && ethos.KindOf(err) != ethos.Conflict {
		return attempt{}, nil, err
	}
	items, err := s.Store.Items(ctx, ethos.ItemFilter{RunID: id, Stage: stageCreate})
	if err != nil {
		return attempt{}, nil, err
	}
	if n := len(items); n > 0 {
		last := items[n-1]
		switch last.Status {
		case ethos.ItemAccepted:
			job, err := s.Store.Job(ctx, attemptJob(last))
			switch {
			case err == nil && job.State != ethos.FineTuneFailed && job.State != ethos.FineTuneCancelled:
				return attempt{Item: &last}, &job, nil
			case err != nil && ethos.KindOf(err) != ethos.NotFound:
				return attempt{}, nil, err
			}
		case ethos.ItemPending:
			return attempt{Item: &last, createdBefore: true}, nil, nil
		}
	}
	it := &ethos.Item{RunID: id, Stage: stageCreate, Key: fmt.Sprintf("attempt/%d", len(items)+1),
		Status: ethos.ItemPending, CreatedAt: s.now()}
	created, err := s.Store.PutItem(ctx, it)
	if err != nil {
		return attempt{}, nil, err
	}
	if err := s.Store.SetRunStatus(ctx, id, ethos.RunRunning, ""); err != nil {
		return attempt{}, nil, err
	}
	return attempt{Item: it, createdBefore: !created}, nil, nil
}

// findCreated looks among the provider's recent jobs for the one an
// interrupted attempt created: same training file and base model (any model
// when base is empty, for a continued job), created
// no earlier than the attempt was recorded, and not a job ethos already
// follows. A provider that cannot list its jobs stops the create: creating
// blind could make a second job.
func (s *Service) findCreated(ctx context.Context, b ethos.FineTuneBackend, at *ethos.Item, base, trainFile string) (ethos.FineTuneJob, bool, error) {
	if sent := attemptOf(*at).TrainFile; sent != "" {
		trainFile = sent
	}
	jobs, err := retry(ctx, s, func() ([]ethos.FineTuneJob, error) { return b.List(ctx, listLimit) })
	if err != nil {
		return ethos.FineTuneJob{}, false, fmt.Errorf("finetune: an interrupted attempt may have created the job; listing %s's jobs to find it: %w", b.Provider(), err)
	}
	var found *ethos.FineTuneJob
	for i, j := range jobs {
		if j.ID == "" || j.TrainFile != trainFile || (base != "" && !sameBase(j.BaseModel, base)) {
			continue
		}
		if !j.CreatedAt.IsZero() && j.CreatedAt.Before(at.CreatedAt.Add(-clockSkew)) {
			continue
		}
		if _, err := s.Store.Job(ctx, j.ID); err == nil {
			continue // another request's job
		} else if ethos.KindOf(err) != ethos.NotFound {
			return ethos.FineTuneJob{}, false, err
		}
		if found == nil || j.CreatedAt.Before(found.CreatedAt) {
			found = &jobs[i]
		}
	}
	if found == nil {
		return ethos.FineTuneJob{}, false, nil
	}
	// A listing may carry a summary of each job; the full object is the
	// one to record.
	full, err := retry(ctx, s, func() (ethos.FineTuneJob, error) { return b.Get(ctx, found.ID) })
	if err != nil {
		return *found, true, nil
	}
	return full, true, nil
}

// sameBase reports whether a provider's base model names the one asked
// for; providers may return a dated or resolved name
// ("gpt-4o-mini" → "gpt-4o-mini-2024-07-18").
func sameBase(remote, asked string) bool {
	return remote == "" || strings.EqualFold(remote, asked) || strings.HasPrefix(strings.ToLower(remote), strings.ToLower(asked)+"-")
}

// acceptAttempt closes an attempt with the job it created.
func (s *Service) acceptAttempt(ctx context.Context, it *ethos.Item, jobID string) error {
	it.Status, it.Reason = ethos.ItemAccepted, ""
	it.Data = marshal(attemptData{TrainFile: attemptOf(*it).TrainFile, JobID: jobID})
	if err := s.Store.UpdateItem(ctx, it); err != nil {
		return err
	}
	return s.Store.SetRunStatus(ctx, it.RunID, ethos.RunCompleted, "")
}

// rejectAttempt closes an attempt the provider refused. The refusal is
// already the caller's error; failing to record it only means the next
// attempt looks for a job first.
func (s *Service) rejectAttempt(ctx context.Context, it *ethos.Item, reason error) {
	it.Status, it.Reason = ethos.ItemRejected, reason.Error()
	if s.Store.UpdateItem(ctx, it) == nil {
		_ = s.Store.SetRunStatus(ctx, it.RunID, ethos.RunFailed, reason.Error())
	}
}
