package pipeline

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/internal/redact"
	"github.com/ethos-toolkit/ethos/llm"
)

// Check is one line of a project's health check.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// Skipped checks (an unused provider without a key) neither pass nor fail.
	Skipped bool `json:"skipped,omitempty"`
}

// WriteChecks writes checks as a table, a line each: ok, FAIL or - (a
// skipped check), the check's name and its detail.
func WriteChecks(w io.Writer, checks []Check) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range checks {
		mark := "ok"
		switch {
		case c.Skipped:
			mark = "-"
		case !c.OK:
			mark = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", mark, c.Name, c.Detail)
	}
	return tw.Flush()
}

// HealthStore is what Doctor asks of the store.
type HealthStore interface {
	Ping(ctx context.Context) error
	SchemaVersion(ctx context.Context) (int, error)
	SummarizeCalls(ctx context.Context, f ethos.CallFilter) ([]ethos.CallSummary, error)
}

// Doctor checks that a project is ready to run: its configuration, its
// store, and every provider's key and endpoint.
type Doctor struct {
	Providers Providers
	Router    *llm.Router
	Store     HealthStore
	// ConfigName names the configuration (its path, or that the built-in
	// defaults are in use), StoreName the store (its path or URL, with
	// any password masked).
	ConfigName, StoreName string
	// Timeout bounds each provider's endpoint check.
	Timeout time.Duration
}

// Run makes every check, in order: the configuration, the store, each
// configured provider. Base URLs, and errors that quote them, may carry a
// password or a key in the query; the details show neither.
func (d Doctor) Run(ctx context.Context) (checks []Check, failed int) {
	cfg := d.Providers.Config
	ch := cfg.Character
	checks = append(checks, Check{Name: "config", OK: true,
		Detail: fmt.Sprintf("%s — character %s: %d traits, %d categories", d.ConfigName, ch.Name, len(ch.Traits), len(ch.Categories))})
	checks = append(checks, d.checkStore(ctx))
	users := ModelUsers(cfg)
	for _, name := range cfg.ProviderNames() {
		checks = append(checks, d.checkProvider(ctx, name, users[name]))
	}
	for i, ck := range checks {
		checks[i].Detail = redact.URLs(ck.Detail)
		if !ck.OK && !ck.Skipped {
			failed++
		}
	}
	return checks, failed
}

func (d Doctor) checkStore(ctx context.Context) Check {
	if err := d.Store.Ping(ctx); err != nil {
		return Check{Name: "store", Detail: err.Error()}
	}
	version, err := d.Store.SchemaVersion(ctx)
	if err != nil {
		return Check{Name: "store", Detail: err.Error()}
	}
	summary, err := d.Store.SummarizeCalls(ctx, ethos.CallFilter{})
	if err != nil {
		return Check{Name: "store", Detail: err.Error()}
	}
	calls, spent := 0, 0.0
	for _, s := range summary {
		calls += s.Calls
		spent += s.CostUSD
	}
	return Check{Name: "store", OK: true,
		Detail: fmt.Sprintf("%s (schema v%d, %d calls recorded, $%.4f spent)", d.StoreName, version, calls, spent)}
}

// checkProvider reports a provider's settings and key, and pings its
// endpoint when the project uses it or its key is set. An unused provider
// without a key is not checked: it is simply not set up. The sandbox is
// built in and free, so it is always checked.
func (d Doctor) checkProvider(ctx context.Context, name string, usedBy []string) Check {
	ck := Check{Name: "provider " + name}
	cfg, getenv := d.Providers.Config, d.Providers.Getenv
	prov, err := cfg.ResolveProvider(name, getenv)
	if err != nil {
		ck.Detail = err.Error()
		return ck
	}
	base := prov.BaseURL
	if base == "" && name == "sandbox" {
		base = "in-process"
	}
	if prov.BaseURLEnv != "" && getenv(prov.BaseURLEnv) != "" {
		base += " (from " + prov.BaseURLEnv + ")"
	}
	parts := []string{prov.Type, base}
	keySet := prov.APIKeyEnv != "" && getenv(prov.APIKeyEnv) != ""
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
	detail := func(last string) string { return strings.Join(append(parts, last), " · ") }

	if len(usedBy) == 0 && !keySet && name != "sandbox" {
		ck.Skipped = true
		ck.Detail = detail("not used: endpoint not checked")
		return ck
	}
	if _, err := cfg.APIKey(prov, getenv); err != nil {
		ck.Detail = detail(err.Error())
		return ck
	}
	adapter, err := d.Router.Adapter(name)
	if err != nil {
		ck.Detail = detail(err.Error())
		return ck
	}
	pg, ok := adapter.(Pinger)
	if !ok {
		ck.OK = true
		ck.Detail = detail("endpoint check not supported")
		return ck
	}
	pctx, cancel := context.WithTimeout(ctx, d.Timeout)
	defer cancel()
	start := time.Now()
	if err := pg.Ping(pctx); err != nil {
		ck.Detail = detail("endpoint: " + err.Error())
		return ck
	}
	ck.OK = true
	ck.Detail = detail(fmt.Sprintf("endpoint answers (%s)", time.Since(start).Round(time.Millisecond)))
	return ck
}

// ModelUsers maps each provider to the config fields whose models use it,
// each provider's fields sorted.
func ModelUsers(cfg *config.Config) map[string][]string {
	g, e := cfg.Generate, cfg.Eval
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
		if provider, _, ok := ethos.SplitModel(ref); ok {
			users[provider] = append(users[provider], field)
		}
	}
	if ft := cfg.FineTune.Provider; ft != "" {
		users[ft] = append(users[ft], "finetune.provider")
	}
	for _, fields := range users {
		sort.Strings(fields)
	}
	return users
}
