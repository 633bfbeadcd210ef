package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ethos-toolkit/ethos"
)

// page is what every template gets: the layout's fields and the page's
// own data in Data.
type page struct {
	Title string
	Nav   string // the navigation entry to mark as current
	// Topic is what the page watches for live updates ("" for none), and
	// Version the topic's fingerprint when the page was rendered.
	Topic   string
	Version string
	// Set by render:
	CSRF      string
	Now       time.Time
	CanCancel bool

	Data any
}

// section is one part of a page with the error of the store call that
// filled it: a failing store method shows as an error panel in its place,
// never as a broken page. Stale and Pending describe a background
// aggregate (see snapshots).
type section[T any] struct {
	Value   T
	Err     error
	Stale   bool
	Pending bool
}

func newSection[T any](v T, err error) section[T] { return section[T]{Value: v, Err: err} }

// fromCache converts a background aggregate into a section.
func fromCache[T any](c cached) section[T] {
	s := section[T]{Err: c.Err, Stale: c.Stale, Pending: c.Pending}
	if v, ok := c.Value.(T); ok {
		s.Value = v
	}
	return s
}

// MarshalJSON writes the section for the JSON API: its value, and an
// error object (kind and message) instead of a value when it failed.
func (s section[T]) MarshalJSON() ([]byte, error) {
	out := struct {
		Value   *T         `json:"value,omitempty"`
		Error   *errorJSON `json:"error,omitempty"`
		Stale   bool       `json:"stale,omitempty"`
		Pending bool       `json:"pending,omitempty"`
	}{Stale: s.Stale, Pending: s.Pending}
	if s.Err != nil {
		out.Error = &errorJSON{Kind: ethos.KindOf(s.Err), Message: s.Err.Error()}
	} else if !s.Pending {
		out.Value = &s.Value
	}
	return json.Marshal(out)
}

type errorJSON struct {
	Kind    ethos.Kind `json:"kind"`
	Message string     `json:"message"`
}

// Failed reports whether the section's store call failed (for templates).
func (s section[T]) Failed() bool { return s.Err != nil }

// ErrKind and ErrText describe the failure (for templates).
func (s section[T]) ErrKind() string { return string(ethos.KindOf(s.Err)) }
func (s section[T]) ErrText() string {
	if s.Err == nil {
		return ""
	}
	return s.Err.Error()
}

// pageFiles maps each page to its template file; every page also gets the
// layout and the shared partials.
var pageFiles = map[string]string{
	"overview": "overview.html",
	"run":      "run.html",
	"item":     "item.html",
	"dataset":  "dataset.html",
	"job":      "job.html",
	"models":   "models.html",
	"eval":     "eval.html",
	"error":    "error.html",
}

func parsePages() (map[string]*template.Template, error) {
	tfs, err := fs.Sub(assets, "templates")
	if err != nil {
		return nil, err
	}
	base, err := template.New("").Funcs(funcs).ParseFS(tfs, "layout.html", "partials.html")
	if err != nil {
		return nil, ethos.Errorf(ethos.Internal, "web: parsing the layout: %w", err)
	}
	pages := map[string]*template.Template{}
	for name, file := range pageFiles {
		t, err := template.Must(base.Clone()).ParseFS(tfs, file)
		if err != nil {
			return nil, ethos.Errorf(ethos.Internal, "web: parsing %s: %w", file, err)
		}
		pages[name] = t
	}
	return pages, nil
}

var funcs = template.FuncMap{
	"time":     fmtTime,
	"ago":      ago,
	"usd":      usd,
	"num":      num,
	"float":    func(f float64, prec int) string { return strconv.FormatFloat(f, 'f', prec, 64) },
	"pct":      pct,
	"share":    func(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + "%" },
	"dur":      fmtDuration,
	"trunc":    truncate,
	"state":    stateClass,
	"add":      func(a, b int) int { return a + b },
	"pathq":    url.PathEscape,
	"kindOf":   func(err error) string { return string(ethos.KindOf(err)) },
	"lossText": lossText,
	"join":     strings.Join,
	"statuses": func() []ethos.ItemStatus { return itemStatuses },
	"list":     func(v ...any) []any { return v },
	"histOf": func(caption string, h histogram) any {
		return struct {
			Caption string
			H       histogram
		}{caption, h}
	},
}

// fmtTime shows a time in UTC to the second; the zero time is "—".
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// ago is how long before now t was, coarsely.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// usd shows an amount with enough decimals for the cents of a cheap call.
func usd(f float64) string {
	switch {
	case f < 0:
		return "-" + usd(-f)
	case f == 0:
		return "$0"
	case math.Abs(f) < 0.01:
		return "$" + strconv.FormatFloat(f, 'f', 6, 64)
	case math.Abs(f) < 100:
		return "$" + strconv.FormatFloat(f, 'f', 4, 64)
	}
	return "$" + strconv.FormatFloat(f, 'f', 2, 64)
}

// num writes an integer with thousands separators.
func num(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// pct is a/b as a percentage, "—" when b is 0.
func pct(a, b int) string {
	if b == 0 {
		return "—"
	}
	return strconv.FormatFloat(100*float64(a)/float64(b), 'f', 1, 64) + "%"
}

func fmtDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// truncate shortens s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// stateClass maps a status of a run, item, job or answer to the CSS class
// that colours it.
func stateClass(status any) string {
	switch fmt.Sprint(status) {
	case "completed", "accepted", "ok", "ended":
		return "s-ok"
	case "failed", "quarantined", "parse_failed", "error", "user_error":
		return "s-bad"
	case "rejected", "cancelled", "unknown":
		return "s-warn"
	case "running", "pending", "preparing", "in_progress", "cancelling":
		return "s-run"
	}
	return "s-other"
}

func lossText(p *float64) string {
	if p == nil {
		return "—"
	}
	return strconv.FormatFloat(*p, 'f', 4, 64)
}
