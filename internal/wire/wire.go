// Package wire holds the HTTP-level facts that the LLM provider APIs
// share, so that each adapter states them once: which ethos.Kind an HTTP
// status means (one table), the one-line actionable message for a failed
// status, how long retry-after headers ask a client to wait, and how
// provider text is stripped of the API key before it reaches an error.
//
// It knows nothing of any SDK or provider-specific header; the adapters
// read their own rate-limit headers and error bodies and call in here for
// the parts that are the same everywhere.
package wire

import (
	"fmt"
	"net/http"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// KindOfStatus is the one table from HTTP status to error kind. Statuses
// below 400 and unknown 4xx statuses read as Invalid: retrying the same
// request would not help.
func KindOfStatus(status int) ethos.Kind {
	switch status {
	case 400, 413, 422:
		return ethos.Invalid
	case 401, 403:
		return ethos.Auth
	case 402: // out of credit (Anthropic's billing_error)
		return ethos.Quota
	case 404:
		return ethos.NotFound
	case 429:
		return ethos.RateLimited
	case 503, 529:
		return ethos.Overloaded
	case 408, 409:
		return ethos.Transient
	}
	if status >= 500 {
		return ethos.Transient
	}
	return ethos.Invalid
}

// StatusMessage says in one line what a failed status means and what to
// do about it. model, when set, is named in a 404. baseURLHint says how
// the adapter's base URL is formed (for example "it includes the version,
// e.g. /v1"); when set, a wrong base URL is as likely a cause of a 404 as
// a wrong model name, so the model 404 points at the base URL too.
// retryAfter, when positive, is shown with 429 and overload statuses.
func StatusMessage(provider, model string, status int, retryAfter time.Duration, baseURLHint string) string {
	wait := ""
	if retryAfter > 0 {
		wait = ", retry after " + retryAfter.String()
	}
	switch {
	case status == 401:
		return fmt.Sprintf("authentication failed (401): check the API key for provider %s", provider)
	case status == 402:
		return fmt.Sprintf("billing problem (402): check the plan and credit of the account behind provider %s", provider)
	case status == 403:
		return fmt.Sprintf("permission denied (403): the API key for provider %s may not use this model or endpoint", provider)
	case status == 404 && model != "" && baseURLHint != "":
		return fmt.Sprintf("model %q not found (404) at provider %s: check the model name and base URL", model, provider)
	case status == 404 && model != "":
		return fmt.Sprintf("model %q not found (404) at provider %s: check the model name", model, provider)
	case status == 404 && baseURLHint != "":
		return fmt.Sprintf("not found (404) at provider %s: check the base URL (%s)", provider, baseURLHint)
	case status == 404:
		return fmt.Sprintf("not found (404) at provider %s: check the base URL", provider)
	case status == 413:
		return "request too large (413): shorten the prompt"
	case status == 429:
		return fmt.Sprintf("rate limited by provider %s (429)%s", provider, wait)
	case status == 503 || status == 529:
		return fmt.Sprintf("provider %s is overloaded (%d)%s", provider, status, wait)
	case status >= 500 || status == 408 || status == 409:
		return fmt.Sprintf("provider %s failed (%d %s), worth retrying", provider, status, http.StatusText(status))
	default:
		return fmt.Sprintf("request rejected (%d %s): fix the request", status, http.StatusText(status))
	}
}
