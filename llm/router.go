package llm

import (
	"context"
	"sort"
	"strings"
	"sync"

	"github.com/ethos-toolkit/ethos"
)

// Router sends each request to the adapter of the provider its model
// reference names, with the "provider/" prefix removed.
//
// Adapters are built lazily by their factory the first time a provider is
// used, so that a provider whose API key is missing fails only when it is
// asked for; Check builds them up front so a run can fail before spending.
type Router struct {
	mu        sync.Mutex
	factories map[string]func() (ethos.Completer, error)
	built     map[string]ethos.Completer
}

// NewRouter returns an empty router.
func NewRouter() *Router {
	return &Router{
		factories: map[string]func() (ethos.Completer, error){},
		built:     map[string]ethos.Completer{},
	}
}

// Register adds a provider whose adapter is made by factory on first use.
func (r *Router) Register(provider string, factory func() (ethos.Completer, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.factories[provider] = factory
	delete(r.built, provider)
}

// Providers lists the registered provider names, sorted.
func (r *Router) Providers() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.factories))
	for name := range r.factories {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Adapter returns the adapter for provider, building it if needed.
func (r *Router) Adapter(provider string) (ethos.Completer, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.built[provider]; ok {
		return c, nil
	}
	factory, ok := r.factories[provider]
	if !ok {
		names := make([]string, 0, len(r.factories))
		for name := range r.factories {
			names = append(names, name)
		}
		sort.Strings(names)
		return nil, ethos.Errorf(ethos.Config, "unknown provider %q; configured: %s", provider, strings.Join(names, ", "))
	}
	c, err := factory()
	if err != nil {
		return nil, err
	}
	r.built[provider] = c
	return c, nil
}

// Check builds the adapters of every model reference given, so that a
// missing key or an unknown provider is reported before any call is made.
func (r *Router) Check(models ...string) error {
	for _, ref := range models {
		parsed, err := ethos.ParseModelRef(ref)
		if err != nil {
			return err
		}
		if _, err := r.Adapter(parsed.Provider); err != nil {
			return err
		}
	}
	return nil
}

// Complete routes req to its provider's adapter.
func (r *Router) Complete(ctx context.Context, req ethos.Request) (ethos.Response, error) {
	ref, err := modelRef(ctx, req)
	if err != nil {
		return ethos.Response{}, err
	}
	c, err := r.Adapter(ref.Provider)
	if err != nil {
		return ethos.Response{}, err
	}
	req.Model = ref.Model
	return c.Complete(ctx, req)
}
