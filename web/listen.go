package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// ListenAndServe serves s on addr (host:port) until ctx ends, then closes
// s and shuts the HTTP server down, giving requests in hand five seconds.
// listening, when set, is told the dashboard's URL once it listens (addr
// may ask for port 0).
func ListenAndServe(ctx context.Context, s *Server, addr string, listening func(url string)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return ethos.Errorf(ethos.Config, "serve: cannot listen on %s: %w", addr, err)
	}
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	if listening != nil {
		listening("http://" + ln.Addr().String() + "/")
	}
	select {
	case err := <-served:
		return ethos.Errorf(ethos.Internal, "serve: %w", err)
	case <-ctx.Done():
	}
	// Close the dashboard first: it ends the open event streams, which
	// Shutdown would otherwise wait for.
	s.Close()
	stop, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(stop); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return ethos.Errorf(ethos.Internal, "serve: shutting down: %w", err)
	}
	return nil
}
