package sandbox

import (
	"net/http"
	"time"
)

// modelsCreated is the creation time the sandbox reports for its models;
// fixed, so listings are reproducible.
var modelsCreated = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

type anthropicModel struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

type openaiModel struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func anthropicModelOf(id string) anthropicModel {
	return anthropicModel{Type: "model", ID: id, DisplayName: "Sandbox " + id, CreatedAt: modelsCreated.Format(time.RFC3339)}
}

func openaiModelOf(id string) openaiModel {
	return openaiModel{ID: id, Object: "model", Created: modelsCreated.Unix(), OwnedBy: "sandbox"}
}

// protocolOf picks the wire format for a path both protocols share.
func protocolOf(r *http.Request) protocol {
	if isAnthropic(r) {
		return anthropicProtocol{}
	}
	return openaiProtocol{}
}

// guard sets the request id and checks the API key for the shared paths;
// it reports whether the handler should go on.
func (s *Server) guard(w http.ResponseWriter, r *http.Request, p protocol) (string, bool) {
	reqID := s.newID("req_")
	w.Header().Set(p.requestIDHeader(), reqID)
	if _, ok := s.authenticate(r); !ok {
		p.writeError(w, &apiError{status: http.StatusUnauthorized, msg: "invalid API key", code: "invalid_api_key"}, reqID)
		return reqID, false
	}
	return reqID, true
}

// serveModels lists the models (GET /v1/models), so `ethos doctor` can
// check that an endpoint answers and accepts the key.
func (s *Server) serveModels(w http.ResponseWriter, r *http.Request) {
	p := protocolOf(r)
	if _, ok := s.guard(w, r, p); !ok {
		return
	}
	models := s.listModels()
	if _, ok := p.(anthropicProtocol); ok {
		data := make([]anthropicModel, len(models))
		for i, m := range models {
			data[i] = anthropicModelOf(m)
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": data, "has_more": false,
			"first_id": models[0], "last_id": models[len(models)-1]})
		return
	}
	data := make([]openaiModel, len(models))
	for i, m := range models {
		data[i] = openaiModelOf(m)
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data})
}

// serveModel describes one model (GET /v1/models/{id}); fault models are
// known too, since requests to them are accepted.
func (s *Server) serveModel(w http.ResponseWriter, r *http.Request) {
	p := protocolOf(r)
	reqID, ok := s.guard(w, r, p)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if _, _, ok := s.lookup(id); !ok {
		p.writeError(w, &apiError{status: http.StatusNotFound, msg: "model: " + id, code: "model_not_found"}, reqID)
		return
	}
	if _, ok := p.(anthropicProtocol); ok {
		writeJSON(w, http.StatusOK, anthropicModelOf(id))
		return
	}
	writeJSON(w, http.StatusOK, openaiModelOf(id))
}

// serveNotFound answers any other path in the caller's protocol.
func (s *Server) serveNotFound(w http.ResponseWriter, r *http.Request) {
	p := protocolOf(r)
	reqID := s.newID("req_")
	w.Header().Set(p.requestIDHeader(), reqID)
	p.writeError(w, &apiError{status: http.StatusNotFound, msg: "no such endpoint: " + r.Method + " " + r.URL.Path, code: "unknown_url"}, reqID)
}
