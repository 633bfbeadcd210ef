package web_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/web"
)

// TestListenAndServe: the dashboard answers on the URL it reports, and
// ListenAndServe returns cleanly once its context ends; an address it
// cannot listen on is a configuration error.
func TestListenAndServe(t *testing.T) {
	t.Parallel()
	srv := newServer(t, openStore(t), web.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- web.ListenAndServe(ctx, srv, "127.0.0.1:0", func(url string) { urls <- url }) }()
	url := <-urls
	resp, err := http.Get(url + "api/overview")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %sapi/overview: %s", url, resp.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe after its context ended: %v", err)
	}

	if err := web.ListenAndServe(t.Context(), srv, "no-port", nil); ethos.KindOf(err) != ethos.Config {
		t.Errorf("listening on a bad address: %v, want a Config error", err)
	}
}
