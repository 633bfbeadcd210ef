package main

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/ethos-toolkit/ethos/sqlite"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/finetune"
	"github.com/ethos-toolkit/ethos/project"
)

// servingDedicatedProject writes a small sandbox project whose base
// model's fine-tunes are served only on dedicated endpoints.
func servingDedicatedProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := string(config.Demo(24, 8))
	if !strings.Contains(cfg, "\n  serving: {}\n") {
		t.Fatal("the demo config has no sandbox.serving line to change")
	}
	cfg = strings.Replace(cfg, "\n  serving: {}\n", "\n  serving: {base: dedicated}\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "ethos.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runDedicated runs ethos run --json in dir and returns its result.
func runDedicated(t *testing.T, dir string) (pipelineResult, result) {
	t.Helper()
	r := ethosCLI(t, dir, nil, "run", "--json")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var res pipelineResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("run --json: %v\n%s", err, r.stdout)
	}
	return res, r
}

// endpointsUp reads ethos status --json's endpoints still up.
func endpointsUp(t *testing.T, dir string) []ethos.Endpoint {
	t.Helper()
	st := ethosCLI(t, dir, nil, "status", "--json")
	if st.code != 0 {
		t.Fatalf("status: exit %d\n%s%s", st.code, st.stdout, st.stderr)
	}
	var rep statusReport
	if err := json.Unmarshal([]byte(st.stdout), &rep); err != nil {
		t.Fatalf("status --json: %v\n%s", err, st.stdout)
	}
	return rep.Endpoints
}

// ledgerCalls is how many calls the project's ledger holds.
func ledgerCalls(t *testing.T, dir string) int {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, ".ethos", "ethos.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	calls, err := db.Calls(t.Context(), ethos.CallFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(calls)
}

// TestRunDeploysWhenNotServerless runs ethos run on the sandbox with the
// base model served dedicated: it trains, finds the model not served
// serverless, deploys it on an endpoint, evaluates through the endpoint
// and stops it. An endpoint left up (as by a run killed mid-evaluation,
// here one ethos finetune deploy started) is listed by ethos status, and
// the next run re-attaches to it and stops it.
func TestRunDeploysWhenNotServerless(t *testing.T) {
	t.Parallel()
	dir := servingDedicatedProject(t)
	res, r := runDedicated(t, dir)
	for _, want := range []string{"is not served serverless: deploying a dedicated endpoint", "/hour, stopped when the evaluation ends", "stopped; it cost about $"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("run does not say %q:\n%s", want, r.stderr)
		}
	}
	m := res.Model
	if m.Serving != ethos.ServingDedicated || !strings.HasPrefix(m.CallAs, "sandbox/sandbox-user/") || m.EndpointID == "" {
		t.Fatalf("model %+v: want served dedicated, called by its endpoint's name", m)
	}
	if res.Counts.Answers != 16 || res.Counts.Missing() != 0 {
		t.Errorf("eval counts %+v; want 16 answers, nothing missing", res.Counts)
	}
	if up := endpointsUp(t, dir); len(up) != 0 {
		t.Errorf("after run, endpoints still up: %+v", up)
	}
	if st := ethosCLI(t, dir, nil, "status"); !strings.Contains(st.stdout, "ENDPOINTS UP (0)") {
		t.Errorf("status does not say no endpoint is up:\n%s", st.stdout)
	}
	if md := ethosCLI(t, dir, nil, "models"); !strings.Contains(md.stdout, "dedicated as "+m.CallAs) {
		t.Errorf("models does not say how %s is served:\n%s%s", m.Name, md.stdout, md.stderr)
	}

	// An endpoint left up, as a run killed while evaluating leaves it.
	d := ethosCLI(t, dir, nil, "finetune", "deploy", res.Job.ID, "--inactive-timeout", "10m")
	if d.code != 0 || !strings.Contains(d.stdout, "/hour") || !strings.Contains(d.stdout, "ethos finetune undeploy endpoint-") {
		t.Fatalf("finetune deploy: exit %d\n%s%s", d.code, d.stdout, d.stderr)
	}
	up := endpointsUp(t, dir)
	if len(up) != 1 || up[0].State != ethos.EndpointStarted || up[0].InactiveTimeout != 10 {
		t.Fatalf("after deploy, endpoints up: %+v; want one STARTED with a 10-minute inactive timeout", up)
	}
	if st := ethosCLI(t, dir, nil, "status"); !strings.Contains(st.stdout, "ENDPOINTS UP (1)") || !strings.Contains(st.stdout, up[0].ID) {
		t.Errorf("status does not list the endpoint up:\n%s", st.stdout)
	}
	// The evaluation is complete: a run again deploys nothing, calls
	// nothing, and stops the endpoint left up.
	calls := ledgerCalls(t, dir)
	again := ethosCLI(t, dir, nil, "run")
	if again.code != 0 {
		t.Fatalf("run again: exit %d\n%s\n%s", again.code, again.stdout, again.stderr)
	}
	if !strings.Contains(again.stderr, "the evaluation is complete: stopping endpoint "+up[0].ID) || strings.Contains(again.stderr, "deploying") {
		t.Errorf("run again does not just stop %s:\n%s", up[0].ID, again.stderr)
	}
	if after := ledgerCalls(t, dir); after != calls {
		t.Errorf("run again of a finished run made %d calls", after-calls)
	}
	if left := endpointsUp(t, dir); len(left) != 0 {
		t.Errorf("after the second run, endpoints still up: %+v", left)
	}

	// undeploy: an endpoint, or a job's; nothing up is an error.
	d = ethosCLI(t, dir, nil, "finetune", "deploy", res.Job.ID)
	if d.code != 0 {
		t.Fatalf("finetune deploy: exit %d\n%s%s", d.code, d.stdout, d.stderr)
	}
	u := ethosCLI(t, dir, nil, "finetune", "undeploy", res.Job.ID)
	if u.code != 0 || !strings.Contains(u.stdout, "stopped") {
		t.Fatalf("finetune undeploy: exit %d\n%s%s", u.code, u.stdout, u.stderr)
	}
	if left := endpointsUp(t, dir); len(left) != 0 {
		t.Errorf("after undeploy, endpoints still up: %+v", left)
	}
	if u := ethosCLI(t, dir, nil, "finetune", "undeploy", res.Job.ID); u.code == 0 || !strings.Contains(u.stderr, "no endpoint") {
		t.Errorf("undeploy with nothing up: exit %d\n%s", u.code, u.stderr)
	}
}

// endpointProvider is what the sandbox's client is: both APIs.
type endpointProvider interface {
	ethos.FineTuneBackend
	ethos.EndpointBackend
}

// killedAfterEndpointCreate is a provider whose endpoint create starts the
// endpoint and then never answers, as a process killed between the
// provider's answer and ethos's record sees it.
type killedAfterEndpointCreate struct{ endpointProvider }

func (k killedAfterEndpointCreate) CreateEndpoint(ctx context.Context, req ethos.EndpointRequest) (ethos.Endpoint, error) {
	if _, err := k.endpointProvider.CreateEndpoint(ctx, req); err != nil {
		return ethos.Endpoint{}, err
	}
	return ethos.Endpoint{}, context.Canceled
}

// openTestProject opens the project in dir as a command would.
func openTestProject(t *testing.T, dir string) *project.Project {
	t.Helper()
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Dir: dir, Getenv: func(string) string { return "" }}
	var pf projectFlags
	fs := m.newFlagSet("test", "test")
	pf.register(fs)
	p, err := m.openProject(t.Context(), fs, pf)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// deployKilled deploys the job's model and kills the deploy after the
// provider started the endpoint, before ethos recorded it.
func deployKilled(t *testing.T, dir, jobID string) {
	t.Helper()
	p := openTestProject(t, dir)
	defer p.Close()
	m, err := p.CompletedModel(t.Context(), jobID)
	if err != nil {
		t.Fatal(err)
	}
	svc := p.FineTune()
	svc.Backend = func(provider string) (ethos.FineTuneBackend, error) {
		b, err := p.FineTuneBackend(provider)
		if err != nil {
			return nil, err
		}
		return killedAfterEndpointCreate{b.(endpointProvider)}, nil
	}
	hw, err := svc.ChooseHardware(t.Context(), m, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Deploy(t.Context(), m, hw, finetune.DeployOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("the killed deploy = %v, want it cancelled", err)
	}
}

// sandboxEndpoints lists the endpoints the project's sandbox has started,
// as its API lists them.
func sandboxEndpoints(t *testing.T, dir string) []ethos.Endpoint {
	t.Helper()
	p := openTestProject(t, dir)
	defer p.Close()
	b, err := p.FineTuneBackend("sandbox")
	if err != nil {
		t.Fatal(err)
	}
	list, err := b.(ethos.EndpointBackend).ListEndpoints(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestRerunAdoptsAnEndpointAKilledDeployStarted kills a deploy between
// the provider starting the endpoint and ethos recording it: ethos status
// lists it as unknown, and the next ethos run finds that endpoint,
// evaluates through it and stops it, starting no second one; ethos
// finetune undeploy JOB finds and stops one too.
func TestRerunAdoptsAnEndpointAKilledDeployStarted(t *testing.T) {
	t.Parallel()
	dir := servingDedicatedProject(t)
	res, _ := runDedicated(t, dir)
	started := len(sandboxEndpoints(t, dir))

	deployKilled(t, dir, res.Job.ID)
	if up := endpointsUp(t, dir); len(up) != 0 {
		t.Fatalf("the killed deploy recorded endpoints: %+v", up)
	}
	st := ethosCLI(t, dir, nil, "status")
	if !strings.Contains(st.stdout, "ENDPOINTS UP (0, and 1 unknown)") || !strings.Contains(st.stdout, "unknown — rerun to re-attach") ||
		!strings.Contains(st.stdout, res.Model.Name) {
		t.Errorf("status does not list the endpoint the killed deploy may have started:\n%s", st.stdout)
	}
	var rep statusReport
	if sj := ethosCLI(t, dir, nil, "status", "--json"); json.Unmarshal([]byte(sj.stdout), &rep) != nil || len(rep.UnknownEndpoints) != 1 {
		t.Errorf("status --json: endpoints_unknown %+v\n%s", rep.UnknownEndpoints, sj.stdout)
	}
	if runs, _, _ := strings.Cut(st.stdout, "FINE-TUNE JOBS"); strings.Contains(runs, finetune.DeployRunKind+"-") {
		t.Errorf("status lists the deploy record among the runs:\n%s", st.stdout)
	}
	if !strings.Contains(st.stdout, "ethos finetune undeploy "+res.Job.ID) {
		t.Errorf("status does not say how to stop the unknown endpoint:\n%s", st.stdout)
	}

	again := ethosCLI(t, dir, nil, "run")
	if again.code != 0 {
		t.Fatalf("run again: exit %d\n%s\n%s", again.code, again.stdout, again.stderr)
	}
	eps := sandboxEndpoints(t, dir)
	if len(eps) != started+1 {
		t.Fatalf("the sandbox started %d endpoints, want %d (the killed deploy's, adopted, and no other):\n%+v", len(eps), started+1, eps)
	}
	orphan := eps[0] // newest first
	if !strings.Contains(again.stderr, "found endpoint "+orphan.ID) {
		t.Errorf("run again does not say it found %s:\n%s", orphan.ID, again.stderr)
	}
	if orphan.State != ethos.EndpointStopped && orphan.State != ethos.EndpointStopping {
		t.Errorf("the adopted endpoint is %s after the run, want it stopped", orphan.State)
	}
	if up := endpointsUp(t, dir); len(up) != 0 {
		t.Errorf("after the run, endpoints still up: %+v", up)
	}
	if st := ethosCLI(t, dir, nil, "status"); strings.Contains(st.stdout, "unknown") {
		t.Errorf("status still lists an unknown endpoint:\n%s", st.stdout)
	}

	// ethos finetune undeploy JOB finds and stops one as well.
	deployKilled(t, dir, res.Job.ID)
	u := ethosCLI(t, dir, nil, "finetune", "undeploy", res.Job.ID)
	if u.code != 0 || !strings.Contains(u.stderr, "found endpoint") || !strings.Contains(u.stdout, "stopped") {
		t.Fatalf("finetune undeploy: exit %d\n%s%s", u.code, u.stdout, u.stderr)
	}
	eps = sandboxEndpoints(t, dir)
	if len(eps) != started+2 || eps[0].State != ethos.EndpointStopped {
		t.Errorf("after undeploy, the sandbox has %d endpoints (want %d), newest %s", len(eps), started+2, eps[0].State)
	}
}
