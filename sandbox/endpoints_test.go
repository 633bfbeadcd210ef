package sandbox

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestListEndpoints checks GET /v1/endpoints: the spec's ListEndpoint
// fields only (no display name, hardware or autoscaling), every state,
// and its query parameters checked against the spec's values.
func TestListEndpoints(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	run := start(t, Options{Now: func() time.Time { return now }})
	h := http.Header{"Authorization": {"Bearer k"}}
	created := do(t, "POST", run.URL+"/v1/endpoints", h, map[string]any{"model": "base", "hardware": sandboxHardware[0].id,
		"display_name": "ethos test", "autoscaling": map[string]any{"min_replicas": 1, "max_replicas": 1}})
	if created.status != http.StatusOK {
		t.Fatalf("create: %d %s", created.status, created.body)
	}
	id := created.json(t)["id"]

	for _, q := range []string{"", "?type=dedicated&mine=true", "?usage_type=on-demand"} {
		r := do(t, "GET", run.URL+"/v1/endpoints"+q, h, nil)
		data, _ := r.json(t)["data"].([]any)
		if r.status != http.StatusOK || len(data) != 1 {
			t.Fatalf("GET /v1/endpoints%s = %d %s, want the one endpoint", q, r.status, r.body)
		}
		ep := data[0].(map[string]any)
		if ep["id"] != id || ep["state"] != "PENDING" || ep["type"] != "dedicated" || ep["model"] != "base" {
			t.Errorf("listed %v", ep)
		}
		for _, f := range []string{"display_name", "hardware", "autoscaling"} {
			if _, ok := ep[f]; ok {
				t.Errorf("a listed endpoint has %s, which the spec's ListEndpoint does not", f)
			}
		}
	}
	for _, q := range []string{"?type=serverless", "?usage_type=reserved"} {
		if r := do(t, "GET", run.URL+"/v1/endpoints"+q, h, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), `"data":[]`) {
			t.Errorf("GET /v1/endpoints%s = %d %s, want an empty list", q, r.status, r.body)
		}
	}
	for _, q := range []string{"?type=private", "?mine=yes", "?owner=me"} {
		if r := do(t, "GET", run.URL+"/v1/endpoints"+q, h, nil); r.status != http.StatusBadRequest {
			t.Errorf("GET /v1/endpoints%s = %d %s, want 400", q, r.status, r.body)
		}
	}
}
