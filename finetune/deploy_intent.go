package finetune

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// Starting an endpoint is recorded the way a fine-tune create is (see
// intent.go): a run of kind DeployRunKind per model, with one item per
// attempt, pending while the provider is being asked, accepted with the
// endpoint's ID once the endpoint is recorded, rejected when the provider
// refused or a later look found that the attempt created nothing. The
// attempt is recorded before the provider is asked, and the endpoint is
// created under a display name that names the attempt, so a process
// killed between the provider's answer and its record leaves a pending
// attempt that the next Deploy (or Reattach) resolves: it lists the
// provider's endpoints, reads the display names of those that could be
// the attempt's, and adopts the one that matches instead of starting a
// second endpoint that would bill beside the first.

// DeployRunKind is the Run.Kind of a model's deploy record.
const DeployRunKind = "deploy"

// stageDeploy is the Item.Stage of an attempt to start an endpoint.
const stageDeploy = "endpoint.create"

// deployParams is a deploy run's Params: the model it deploys.
type deployParams struct {
	Provider  string `json:"provider"`
	ModelName string `json:"model_name"`
	JobID     string `json:"job_id"`
	Model     string `json:"model"` // the provider's name of the model
}

// deployData is an attempt's Item.Data: what it asked for, recorded
// before the provider is asked, and the endpoint once recorded.
type deployData struct {
	DisplayName     string  `json:"display_name"`
	Hardware        string  `json:"hardware"`
	CentsPerMinute  float64 `json:"cents_per_minute"`
	InactiveTimeout int     `json:"inactive_timeout,omitempty"` // minutes
	EndpointID      string  `json:"endpoint_id,omitempty"`
}

func deployDataOf(it ethos.Item) deployData {
	var d deployData
	_ = json.Unmarshal(it.Data, &d) // an unreadable record names nothing
	return d
}

// deployRunID is the ID of the model's deploy record.
func deployRunID(m ethos.Model) string {
	sum := sha256.Sum256([]byte(m.Provider + "\x00" + m.Name))
	return DeployRunKind + "-" + hex.EncodeToString(sum[:8])
}

// deployDisplayName is the display name of the endpoint an attempt
// starts: the model, and the attempt that can find it again.
func deployDisplayName(m ethos.Model, runID, key string) string {
	return fmt.Sprintf("ethos %s (%s/%s)", m.Name, runID, key)
}

// deployAttempt is the record of one try at starting an endpoint.
type deployAttempt struct {
	*ethos.Item
	data deployData
	// createdBefore says an earlier process recorded this attempt and did
	// not close it: it may have started the endpoint.
	createdBefore bool
}

// beginDeploy records the attempt to start an endpoint for m on hw, or
// returns the attempt an earlier process left open.
func (s *Service) beginDeploy(ctx context.Context, m ethos.Model, hw ethos.Hardware, minutes int) (deployAttempt, error) {
	id := deployRunID(m)
	params := deployParams{Provider: m.Provider, ModelName: m.Name, JobID: m.JobID, Model: m.ProviderModel}
	run := &ethos.Run{ID: id, Kind: DeployRunKind, Status: ethos.RunRunning, Params: marshal(params), CreatedAt: s.now()}
	if err := s.Store.CreateRun(ctx, run); err != nil && ethos.KindOf(err) != ethos.Conflict {
		return deployAttempt{}, err
	}
	items, err := s.Store.Items(ctx, ethos.ItemFilter{RunID: id, Stage: stageDeploy})
	if err != nil {
		return deployAttempt{}, err
	}
	if n := len(items); n > 0 && items[n-1].Status == ethos.ItemPending {
		last := items[n-1]
		return deployAttempt{Item: &last, data: deployDataOf(last), createdBefore: true}, nil
	}
	key := fmt.Sprintf("attempt/%d", len(items)+1)
	data := deployData{DisplayName: deployDisplayName(m, id, key), Hardware: hw.ID,
		CentsPerMinute: hw.CentsPerMinute, InactiveTimeout: minutes}
	it := &ethos.Item{RunID: id, Stage: stageDeploy, Key: key, Status: ethos.ItemPending,
		Data: marshal(data), CreatedAt: s.now()}
	created, err := s.Store.PutItem(ctx, it)
	if err != nil {
		return deployAttempt{}, err
	}
	if err := s.Store.SetRunStatus(ctx, id, ethos.RunRunning, ""); err != nil {
		return deployAttempt{}, err
	}
	return deployAttempt{Item: it, data: deployDataOf(*it), createdBefore: !created}, nil
}

// pendingDeploy returns the model's attempt an earlier process left open,
// if any.
func (s *Service) pendingDeploy(ctx context.Context, m ethos.Model) (deployAttempt, bool, error) {
	items, err := s.Store.Items(ctx, ethos.ItemFilter{RunID: deployRunID(m), Stage: stageDeploy})
	if err != nil {
		return deployAttempt{}, false, err
	}
	if n := len(items); n > 0 && items[n-1].Status == ethos.ItemPending {
		last := items[n-1]
		return deployAttempt{Item: &last, data: deployDataOf(last), createdBefore: true}, true, nil
	}
	return deployAttempt{}, false, nil
}

// findDeployed looks among the provider's endpoints for the one an
// interrupted attempt started: it serves the model, was created no
// earlier than the attempt was recorded, is not an endpoint ethos already
// records, and carries the attempt's display name (which the list does
// not show, so each candidate is read whole). A provider that cannot list
// its endpoints stops the deploy: starting blind could start a second.
func (s *Service) findDeployed(ctx context.Context, b ethos.EndpointBackend, m ethos.Model, at deployAttempt) (ethos.Endpoint, bool, error) {
	const op = "finetune: an interrupted deploy may have started an endpoint"
	list, err := retry(ctx, s, func() ([]ethos.Endpoint, error) { return b.ListEndpoints(ctx) })
	if err != nil {
		return ethos.Endpoint{}, false, fmt.Errorf("%s for %s; listing %s's endpoints to find it: %w", op, m.Name, m.Provider, err)
	}
	for _, e := range list {
		if e.ID == "" || (e.Model != "" && e.Model != m.ProviderModel) {
			continue
		}
		if !e.CreatedAt.IsZero() && e.CreatedAt.Before(at.CreatedAt.Add(-clockSkew)) {
			continue
		}
		if _, err := s.Store.Endpoint(ctx, e.ID); err == nil {
			continue // recorded: another deploy's
		} else if ethos.KindOf(err) != ethos.NotFound {
			return ethos.Endpoint{}, false, err
		}
		full, err := retry(ctx, s, func() (ethos.Endpoint, error) { return b.GetEndpoint(ctx, e.ID) })
		if ethos.KindOf(err) == ethos.NotFound {
			continue // deleted since it was listed
		}
		if err != nil {
			return ethos.Endpoint{}, false, fmt.Errorf("%s for %s; reading endpoint %s to see whether it is that one: %w", op, m.Name, e.ID, err)
		}
		if full.DisplayName == at.data.DisplayName {
			return full, true, nil
		}
	}
	return ethos.Endpoint{}, false, nil
}

// recordDeployed records the endpoint an attempt started, then closes the
// attempt with it.
func (s *Service) recordDeployed(ctx context.Context, m ethos.Model, at deployAttempt, remote ethos.Endpoint) (ethos.Endpoint, error) {
	ctx = context.WithoutCancel(ctx) // the endpoint bills whether or not the caller waits
	ep := remote
	ep.JobID, ep.ModelName, ep.CallAs = m.JobID, m.Name, m.Provider+"/"+remote.Name
	ep.DisplayName = cmpOr(remote.DisplayName, at.data.DisplayName)
	ep.CentsPerMinute, ep.InactiveTimeout = at.data.CentsPerMinute, at.data.InactiveTimeout
	ep.Hardware = cmpOr(remote.Hardware, at.data.Hardware)
	if err := s.Store.PutEndpoint(ctx, &ep); err != nil {
		return ep, fmt.Errorf("finetune: endpoint %s is up at %s but could not be recorded; rerun to re-attach to it, or stop it there: %w", ep.ID, m.Provider, err)
	}
	at.data.EndpointID = ep.ID
	at.Status, at.Reason, at.Data = ethos.ItemAccepted, "", marshal(at.data)
	if err := s.Store.UpdateItem(ctx, at.Item); err != nil {
		return ep, err
	}
	return ep, s.Store.SetRunStatus(ctx, at.RunID, ethos.RunCompleted, "")
}

// closeDeploy closes an attempt that started no endpoint: the provider
// refused, or a look at its endpoints found none the attempt started.
func (s *Service) closeDeploy(ctx context.Context, at deployAttempt, reason string) error {
	ctx = context.WithoutCancel(ctx)
	at.Status, at.Reason = ethos.ItemRejected, reason
	if err := s.Store.UpdateItem(ctx, at.Item); err != nil {
		return err
	}
	return s.Store.SetRunStatus(ctx, at.RunID, ethos.RunFailed, reason)
}

// Reattach resolves a deploy of m that an interrupted process left open:
// it adopts and records the endpoint that deploy started (found is true),
// or, when the provider has none, closes the record. Nothing open is
// nothing to do. UpEndpoints calls it, so that an endpoint started but
// never recorded is stopped too.
func (s *Service) Reattach(ctx context.Context, m ethos.Model) (ep ethos.Endpoint, found bool, err error) {
	at, open, err := s.pendingDeploy(ctx, m)
	if err != nil || !open {
		return ethos.Endpoint{}, false, err
	}
	b, err := s.endpointBackend(m.Provider)
	if err != nil {
		return ethos.Endpoint{}, false, err
	}
	remote, found, err := s.findDeployed(ctx, b, m, at)
	if err != nil {
		return ethos.Endpoint{}, false, err
	}
	if !found {
		return ethos.Endpoint{}, false, s.closeDeploy(ctx, at, fmt.Sprintf("interrupted before %s started an endpoint: none of its endpoints is %q", m.Provider, at.data.DisplayName))
	}
	ep, err = s.recordDeployed(ctx, m, at, remote)
	return ep, err == nil, err
}

// UpEndpoints are the endpoints up for m, after recording one that an
// interrupted deploy started and did not record (see Reattach), so that
// it is stopped or re-attached to, never doubled; adopted, when not nil,
// hears of that one.
func (s *Service) UpEndpoints(ctx context.Context, m ethos.Model, adopted func(ethos.Endpoint)) ([]ethos.Endpoint, error) {
	ep, found, err := s.Reattach(ctx, m)
	if err != nil {
		return nil, err
	}
	if found && adopted != nil {
		adopted(ep)
	}
	return s.Store.Endpoints(ctx, ethos.EndpointFilter{Up: true, ModelName: m.Name})
}

// PendingDeploy is a deploy an interrupted process left open: the
// provider may be running, and billing for, an endpoint ethos has not
// recorded. The next Deploy of the model, or Reattach, finds out.
type PendingDeploy struct {
	// Intent names the attempt: "deploy-…/attempt/N".
	Intent    string `json:"intent"`
	Provider  string `json:"provider"`
	ModelName string `json:"model_name"`
	JobID     string `json:"job_id"`
	// DisplayName is the name the endpoint was asked for under.
	DisplayName    string    `json:"display_name"`
	Hardware       string    `json:"hardware"`
	CentsPerMinute float64   `json:"cents_per_minute"`
	Since          time.Time `json:"since"`
}

// USDPerHour is what the endpoint, if it was started, costs per hour.
func (p PendingDeploy) USDPerHour() float64 { return p.CentsPerMinute * 60 / 100 }

// PendingDeploys lists the deploys interrupted processes left open, newest
// first.
func (s *Service) PendingDeploys(ctx context.Context) ([]PendingDeploy, error) {
	runs, err := s.Store.Runs(ctx, DeployRunKind, 0)
	if err != nil {
		return nil, err
	}
	var out []PendingDeploy
	for _, r := range runs {
		items, err := s.Store.Items(ctx, ethos.ItemFilter{RunID: r.ID, Stage: stageDeploy})
		if err != nil {
			return nil, err
		}
		n := len(items)
		if n == 0 || items[n-1].Status != ethos.ItemPending {
			continue
		}
		var p deployParams
		_ = json.Unmarshal(r.Params, &p) // an unreadable record still shows as pending
		it := items[n-1]
		d := deployDataOf(it)
		out = append(out, PendingDeploy{Intent: r.ID + "/" + it.Key, Provider: p.Provider, ModelName: p.ModelName,
			JobID: p.JobID, DisplayName: d.DisplayName, Hardware: d.Hardware, CentsPerMinute: d.CentsPerMinute, Since: it.CreatedAt})
	}
	return out, nil
}
