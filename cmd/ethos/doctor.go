package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/internal/redact"
	"github.com/ethos-toolkit/ethos/llm"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// DoctorCommand checks that a project is ready to run: the configuration,
// the store, and every provider's key and endpoint.
type DoctorCommand struct{ m *Main }

// check is one line of the doctor's report.
type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// Skipped checks (an unused provider without a key) neither pass nor fail.
	Skipped bool `json:"skipped,omitempty"`
}

// Run prints one line per check and fails if a check the project depends
// on failed.
func (c *DoctorCommand) Run(ctx context.Context, args []string) error {
	flags := c.m.newFlagSet("doctor", "doctor [--json] [--timeout 5s] [--config FILE] [--db PATH]")
	var pf projectFlags
	pf.register(flags)
	asJSON := flags.Bool("json", false, "print the checks as JSON")
	timeout := flags.Duration("timeout", 5*time.Second, "how long to wait for each endpoint")
	rest, err := parseFlags(flags, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("doctor takes no arguments, got %q", rest)
	}

	p, err := c.m.openProject(ctx, flags, pf)
	if err != nil {
		return err
	}
	defer p.Close()

	var checks []check
	ch := p.cfg.Character
	checks = append(checks, check{Name: "config", OK: true,
		Detail: fmt.Sprintf("%s — character %s: %d traits, %d categories", p.describe(), ch.Name, len(ch.Traits), len(ch.Categories))})
	checks = append(checks, c.checkStore(ctx, p))

	users := p.modelUsers()
	for _, name := range p.cfg.ProviderNames() {
		checks = append(checks, c.checkProvider(ctx, p, name, users[name], *timeout))
	}

	failed := 0
	for i, ck := range checks {
		// Base URLs, and errors that quote them, may carry a password or
		// a key in the query; the report shows neither.
		checks[i].Detail = redact.URLs(ck.Detail)
		if !ck.OK && !ck.Skipped {
			failed++
		}
	}
	if *asJSON {
		enc := json.NewEncoder(c.m.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			OK     bool    `json:"ok"`
			Checks []check `json:"checks"`
		}{failed == 0, checks}); err != nil {
			return err
		}
	} else {
		w := tabwriter.NewWriter(c.m.Stdout, 0, 4, 2, ' ', 0)
		for _, ck := range checks {
			mark := "ok"
			switch {
			case ck.Skipped:
				mark = "-"
			case !ck.OK:
				mark = "FAIL"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", mark, ck.Name, ck.Detail)
		}
		w.Flush()
	}
	if failed > 0 {
		if !*asJSON {
			fmt.Fprintf(c.m.Stderr, "\n%d check(s) failed\n", failed)
		}
		return errSilent
	}
	return nil
}

func (c *DoctorCommand) checkStore(ctx context.Context, p *project) check {
	if err := p.store.Ping(ctx); err != nil {
		return check{Name: "store", Detail: err.Error()}
	}
	version, err := p.store.SchemaVersion(ctx)
	if err != nil {
		return check{Name: "store", Detail: err.Error()}
	}
	summary, err := p.store.SummarizeCalls(ctx, ethos.CallFilter{})
	if err != nil {
		return check{Name: "store", Detail: err.Error()}
	}
	calls, spent := 0, 0.0
	for _, s := range summary {
		calls += s.Calls
		spent += s.CostUSD
	}
	return check{Name: "store", OK: true,
		Detail: fmt.Sprintf("%s (schema v%d, %d calls recorded, $%.4f spent)", p.dbPath, version, calls, spent)}
}

// checkProvider reports a provider's settings and key, and pings its
// endpoint when the project uses it or its key is set. An unused provider
// without a key is not checked: it is simply not set up.
func (c *DoctorCommand) checkProvider(ctx context.Context, p *project, name string, usedBy []string, timeout time.Duration) check {
	ck := check{Name: "provider " + name}
	prov, err := p.cfg.ResolveProvider(name, c.m.Getenv)
	if err != nil {
		ck.Detail = err.Error()
		return ck
	}
	base := prov.BaseURL
	if base == "" && name == "sandbox" {
		base = "in-process"
	}
	if prov.BaseURLEnv != "" && c.m.Getenv(prov.BaseURLEnv) != "" {
		base += " (from " + prov.BaseURLEnv + ")"
	}
	var parts []string
	parts = append(parts, prov.Type, base)

	keySet := prov.APIKeyEnv != "" && c.m.Getenv(prov.APIKeyEnv) != ""
	switch {
	case prov.APIKeyEnv == "":
		parts = append(parts, "no key needed")
	case keySet:
		parts = append(parts, prov.APIKeyEnv+" is set")
	case prov.KeyRequired:
		parts = append(parts, prov.APIKeyEnv+" is not set")
	default:
		parts = append(parts, prov.APIKeyEnv+" not set (optional)")
	}
	if len(usedBy) > 0 {
		parts = append(parts, "used by "+strings.Join(usedBy, ", "))
	}

	// The sandbox is built in and free, so it is always checked.
	if len(usedBy) == 0 && !keySet && name != "sandbox" {
		ck.Skipped = true
		ck.Detail = strings.Join(append(parts, "not used: endpoint not checked"), " · ")
		return ck
	}
	if _, err := p.cfg.APIKey(prov, c.m.Getenv); err != nil {
		ck.Detail = strings.Join(append(parts, err.Error()), " · ")
		return ck
	}
	adapter, err := p.Router().Adapter(name)
	if err != nil {
		ck.Detail = strings.Join(append(parts, err.Error()), " · ")
		return ck
	}
	pg, ok := adapter.(pipeline.Pinger)
	if !ok {
		ck.OK = true
		ck.Detail = strings.Join(append(parts, "endpoint check not supported"), " · ")
		return ck
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	if err := pg.Ping(pctx); err != nil {
		ck.Detail = strings.Join(append(parts, "endpoint: "+err.Error()), " · ")
		return ck
	}
	ck.OK = true
	ck.Detail = strings.Join(append(parts, fmt.Sprintf("endpoint answers (%s)", time.Since(start).Round(time.Millisecond))), " · ")
	return ck
}

// modelUsers maps each provider to the config fields whose models use it.
func (p *project) modelUsers() map[string][]string {
	g, e := p.cfg.Generate, p.cfg.Eval
	refs := map[string]string{
		"generate.ideas.model":     g.Ideas.Model,
		"generate.documents.model": g.Documents.Model,
		"generate.responses.model": g.Responses.Model,
		"eval.judge":               e.Judge,
	}
	if g.Review.LLM {
		refs["generate.review.model"] = g.Review.Model
	}
	users := map[string][]string{}
	for field, ref := range refs {
		if provider, _, err := llm.SplitModel(ref); err == nil {
			users[provider] = append(users[provider], field)
		}
	}
	if ft := p.cfg.FineTune.Provider; ft != "" {
		users[ft] = append(users[ft], "finetune.provider")
	}
	for _, fields := range users {
		sort.Strings(fields)
	}
	return users
}
