// Package dataset reads, checks, summarises and splits fine-tuning files.
package dataset

import "context"

// Placeholder API; the real package replaces this file.

// Problem is one finding of Check.
type Problem struct {
	Line     int    `json:"line"`     // 1-based; 0 for the whole file
	Rule     string `json:"rule"`     // stable rule ID, e.g. "roles.alternate"
	Severity string `json:"severity"` // "error" or "warning"
	Message  string `json:"message"`
}

// Report is the result of checking a file for a provider.
type Report struct {
	Path     string    `json:"path"`
	Provider string    `json:"provider"`
	Format   string    `json:"format"` // "conversation", "instruction", "preference", "chat", "dpo"
	Examples int       `json:"examples"`
	Problems []Problem `json:"problems"`
}

// Errors counts the problems of severity error.
func (r *Report) Errors() int {
	n := 0
	for _, p := range r.Problems {
		if p.Severity == "error" {
			n++
		}
	}
	return n
}

// CheckFile checks the file at path the way provider ("together", "openai";
// "sandbox" checks as together) will. err is only for a file that cannot be
// read; problems with its content are in the report.
func CheckFile(ctx context.Context, path, provider string) (*Report, error) {
	return &Report{Path: path, Provider: provider}, nil
}
