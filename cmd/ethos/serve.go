package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ethos-toolkit/ethos/web"
)

// ServeCommand serves the dashboard: a local web UI, a JSON API and
// Prometheus metrics over the project's store.
type ServeCommand struct{ m *Main }

// Run serves until ctx is cancelled (Ctrl-C).
func (c *ServeCommand) Run(ctx context.Context, args []string) error {
	flags, pf := c.m.projectFlagSet("serve", "serve [--addr 127.0.0.1:8080] [--token T] [--poll 2s] [--config FILE] [--db PATH]")
	addr := flags.String("addr", "127.0.0.1:8080", "listen on this `host:port`; any address but loopback needs a token")
	token := flags.String("token", "", "require this `token` (at least 16 characters) on every request (default $ETHOS_TOKEN); open /?token=T once, a cookie does the rest")
	poll := flags.Duration("poll", 2*time.Second, "how often a watched page looks for changes in the store")
	if err := parseNoArgs(flags, args); err != nil {
		return err
	}
	if *poll < 100*time.Millisecond {
		return usageErrorf("serve: --poll must be at least 100ms")
	}
	// Refuse an exposed, unguarded or weakly guarded dashboard before
	// opening anything.
	tok, err := web.ResolveToken(*token, *addr, c.m.Getenv)
	if err != nil {
		return err
	}

	p, err := c.m.openProject(ctx, flags, *pf)
	if err != nil {
		return err
	}
	defer p.Close()
	srv, err := p.Dashboard(ctx, web.Options{Token: tok, PollInterval: *poll})
	if err != nil {
		return err
	}
	defer srv.Close()

	err = web.ListenAndServe(ctx, srv, *addr, func(url string) {
		fmt.Fprintf(c.m.Stdout, "ethos dashboard for %s (store %s)\n", p.Describe(), p.StoreName())
		if tok != "" {
			// The token itself is not printed: it is the user's, and
			// terminals are logged.
			fmt.Fprintf(c.m.Stdout, "serving on %s — open %s?token=<your token> once; Ctrl-C stops\n", url, url)
		} else {
			fmt.Fprintf(c.m.Stdout, "serving on %s — Ctrl-C stops\n", url)
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(c.m.Stdout, "stopped")
	return nil
}
