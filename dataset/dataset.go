// Package dataset reads, checks, summarises and splits fine-tuning files:
// JSON Lines files with one training example a line.
//
// Check validates a file the way a provider will before it is uploaded, so
// that a job is never created on a file the provider would refuse, and
// adds ethos's own warnings about content that would teach a model the
// wrong thing: unfilled placeholders, error text recorded as data, model
// chatter and duplicates. Every problem names its 1-based line (0 for the
// whole file) and a stable rule ID from Rules.
//
// Together's rules are those of its `together files check`
// (together-python, src/together/utils/files.py): UTF-8, one JSON object
// a line, one format for the whole file — general (text), conversation
// (messages), instruction (prompt, completion) or preference (input,
// preferred_output, non_preferred_output) — with no other columns; roles
// system, user and assistant, never the same role twice in a row, at least
// one assistant turn, weight 0 or 1, and its rules for images. OpenAI's are
// those of its chat and DPO formats: roles system, developer, user,
// assistant, tool (and the deprecated function), weight 0 or 1 on assistant
// messages only, at least one assistant message, and at least ten examples
// in a training file. For both, ethos also refuses empty content, which
// would train nothing, and an example longer than any of the provider's
// models trains on (Together 131,072 tokens, OpenAI 65,536, estimated at
// four bytes a token).
//
// A preference (DPO) line, {"input": {"messages": [...]},
// "preferred_output": [...], "non_preferred_output": [...]}, is the same
// for both providers: the input's messages are an optional system prompt
// (OpenAI: or developer message) and then user and assistant taking turns,
// starting and ending with the user; each output is a list of exactly one
// assistant message with role and content only; the input takes no key
// but messages (OpenAI: also tools and parallel_tool_calls). ethos also
// refuses a pair whose outputs are the same text, which prefers nothing,
// and warns about one whose outputs are nearly the same. The file's kind
// (Report.Method) comes from its first example; a line of another format
// is refused with its line number, and Options.Method refuses a file of
// the wrong kind for the job.
//
// StatsFile summarises a file for people and the dashboard, and Split
// divides one into training and validation files. All three stream the
// file: memory grows with the number of examples (about a kilobyte each,
// for duplicate detection), not with their size.
package dataset

import (
	"context"
	"errors"
	"io/fs"
	"os"

	"github.com/ethos-toolkit/ethos"
)

// Severities of a Problem.
const (
	SeverityError   = "error"   // the provider will refuse the file
	SeverityWarning = "warning" // the provider will take it, but the data is suspect
)

// Problem is one finding of Check.
type Problem struct {
	Line     int    `json:"line"`     // 1-based; 0 for the whole file
	Rule     string `json:"rule"`     // stable rule ID, e.g. "roles.alternate"
	Severity string `json:"severity"` // "error" or "warning"
	Message  string `json:"message"`
}

// Report is the result of checking a file for a provider.
type Report struct {
	Path     string `json:"path"`
	Provider string `json:"provider"`
	// Format is the format of the file's first example: "conversation",
	// "instruction", "preference" or "general" for Together, "chat" or
	// "dpo" for OpenAI; empty when no line has a recognisable format.
	Format string `json:"format"`
	// Examples counts the lines that are JSON objects.
	Examples int `json:"examples"`
	// Lines counts every line, blank ones included.
	Lines    int       `json:"lines"`
	Problems []Problem `json:"problems"`
	// Counts is the number of problems per rule, those not listed
	// included.
	Counts map[string]int `json:"counts"`
	// Omitted is how many problems are counted but not listed: a report
	// lists at most MaxListed problems of each rule.
	Omitted int `json:"omitted,omitempty"`
}

// Method is the training method the file's format is for, as its first
// example shows: MethodPreference for a preference file, MethodSFT for any
// other format, "" when no line has a recognisable format.
func (r *Report) Method() string { return MethodOf(r.Format) }

// MethodOf is the training method a format is for: MethodPreference for
// the preference formats (Together's preference, OpenAI's dpo), MethodSFT
// for the others, "" for no format.
func MethodOf(format string) string {
	switch format {
	case "":
		return ""
	case FormatPreference, FormatDPO:
		return MethodPreference
	}
	return MethodSFT
}

// MaxListed is the most problems of one rule a Report lists, so that a
// file broken on every one of a million lines still gives a readable
// report; Counts has the totals.
const MaxListed = 100

// Errors counts the problems of severity error, those not listed included.
func (r *Report) Errors() int { return r.count(SeverityError) }

// Warnings counts the problems of severity warning, those not listed
// included.
func (r *Report) Warnings() int { return r.count(SeverityWarning) }

func (r *Report) count(severity string) int {
	n := 0
	if r.Counts == nil {
		for _, p := range r.Problems {
			if p.Severity == severity {
				n++
			}
		}
		return n
	}
	for rule, c := range r.Counts {
		if severityOf[rule] == severity {
			n += c
		}
	}
	return n
}

// Options says how Check treats a file.
type Options struct {
	// Provider is "together" (the default), "openai", or "sandbox", which
	// emulates Together's API and checks as Together.
	Provider string
	// Validation marks a validation file, to which the provider's minimum
	// number of training examples does not apply.
	Validation bool
	// Method is the training method the file is for: MethodSFT (the
	// default, and the only method ethos trains with) refuses a
	// preference file, which a provider would otherwise take and train as
	// something it is not; MethodPreference refuses every other format.
	Method string
}

// Training methods a file is checked for.
const (
	MethodSFT        = "sft"        // supervised fine-tuning: conversation, instruction or general examples
	MethodPreference = "preference" // preference (DPO) training: input, preferred_output, non_preferred_output
	// MethodAuto, for CheckFileWith, checks a file as what it holds: as
	// MethodPreference when it holds preference pairs (as a DPO job takes
	// them), else as MethodSFT.
	MethodAuto = "auto"
)

// MethodForTraining is the method a file for training method m
// (ethos.FineTuneSFT, ethos.FineTuneDPO, or "auto" for MethodAuto) is
// checked for; false for any other m.
func MethodForTraining(m string) (string, bool) {
	switch m {
	case ethos.FineTuneSFT:
		return MethodSFT, true
	case ethos.FineTuneDPO:
		return MethodPreference, true
	case MethodAuto:
		return MethodAuto, true
	}
	return "", false
}

// CheckFile checks the file at path the way provider ("together", "openai";
// "sandbox" checks as together) will. err is only for a file that cannot be
// read; problems with its content are in the report.
func CheckFile(ctx context.Context, path, provider string) (*Report, error) {
	return CheckFileWith(ctx, path, Options{Provider: provider})
}

// CheckFileWith is CheckFile with every option.
func CheckFileWith(ctx context.Context, path string, opts Options) (*Report, error) {
	if opts.Method == MethodAuto {
		opts.Method = MethodSFT
		rep, err := CheckFileWith(ctx, path, opts)
		if err != nil || rep.Method() != MethodPreference {
			return rep, err
		}
		opts.Method = MethodPreference
	}
	f, err := openDataset(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Check(ctx, f, path, opts)
}

// openDataset opens a dataset file, with an error that says what to do
// when it is not there or is not a file. Only regular files are opened:
// a device such as /dev/zero never ends, and opening or reading a named
// pipe blocks until its writer comes and goes, past any interrupt, so
// both are refused before they are opened.
func openDataset(path string) (*os.File, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, ethos.Errorf(ethos.NotFound, "%s: no such file; check the path, or write a dataset with \"ethos generate\"", path)
	case err != nil:
		return nil, ethos.Errorf(ethos.Invalid, "opening %s: %w", path, err)
	case st.IsDir():
		return nil, ethos.Errorf(ethos.Invalid, "%s is a directory, not a dataset file", path)
	case !st.Mode().IsRegular():
		return nil, ethos.Errorf(ethos.Invalid, "%s is not a regular file (it is a %s); save the dataset to a file and give its path", path, fileKind(st.Mode()))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, ethos.Errorf(ethos.Invalid, "opening %s: %w", path, err)
	}
	return f, nil
}

// fileKind names the kind of a file that is not a regular one.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}
