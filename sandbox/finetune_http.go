package sandbox

import "net/http"

// The HTTP plumbing the fine-tuning endpoints of both wires share: their
// error body and the wrapper that authenticates and injects failures.

// ftError is an error answer of the fine-tuning endpoints; both providers
// use OpenAI's error body.
type ftError struct {
	status int
	msg    string
	typ    string
	param  string
	code   string
}

func (e *ftError) write(w http.ResponseWriter) {
	typ := e.typ
	if typ == "" {
		typ, _ = openaiErrorKind(e.status)
		if typ == "" || typ == "requests" {
			typ = "invalid_request_error"
		}
	}
	writeJSON(w, e.status, openaiErrorBody{Error: openaiErrorObj{Message: e.msg, Type: typ, Param: optional(e.param), Code: optional(e.code)}})
}

func internalError(err error) *ftError {
	return &ftError{status: http.StatusInternalServerError, msg: "sandbox: fine-tuning store: " + err.Error(), typ: "server_error"}
}

// handle wraps a fine-tuning handler: it authenticates, injects
// FailEvery's errors and writes the handler's error, if any.
func (s *Server) handle(h func(w http.ResponseWriter, r *http.Request) *ftError) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-request-id", s.newID("req_"))
		if _, ok := s.authenticate(r); !ok {
			(&ftError{status: http.StatusUnauthorized, msg: "invalid API key", code: "invalid_api_key"}).write(w)
			return
		}
		if n := s.ft.opts.FailEvery; n > 0 && s.ft.requests.Add(1)%int64(n) == 0 {
			(&ftError{status: http.StatusInternalServerError, msg: statusMessage(500), typ: "server_error"}).write(w)
			return
		}
		if e := h(w, r); e != nil {
			e.write(w)
		}
	}
}
