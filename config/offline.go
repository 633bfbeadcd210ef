package config

import (
	"bytes"
	"regexp"
)

// Offline returns the built-in configuration with every model a sandbox
// model and fine-tuning on the sandbox: what ethos uses when a project has
// no ethos.yaml, so that every command runs with no keys and no network.
// Its character and settings are Default()'s.
func Offline() *Config {
	c := Default()
	g := &c.Generate
	g.Ideas.Model = "sandbox/writer"
	g.Documents.Model = "sandbox/writer"
	g.Responses.Model = "sandbox/writer"
	g.Review.Model = "sandbox/judge"
	c.Eval.Judge = "sandbox/judge"
	c.FineTune.Provider = "sandbox"
	c.FineTune.Model = "base" // the sandbox's untrained model, also the evaluation's baseline
	return c
}

// modelLine matches the model settings of the template (not its comments).
var modelLine = regexp.MustCompile(`(?m)^(\s+(?:model|judge): )anthropic/[a-z0-9.-]+`)

// OfflineTemplate is the template with sandbox models, written by
// `ethos init --sandbox`; it parses to Offline().
func OfflineTemplate() []byte {
	t := modelLine.ReplaceAllFunc(Template(), func(m []byte) []byte {
		prefix := modelLine.FindSubmatch(m)[1]
		model := "sandbox/writer"
		if bytes.Contains(prefix, []byte("judge")) {
			model = "sandbox/judge"
		}
		return append(append([]byte(nil), prefix...), model...)
	})
	t = bytes.Replace(t, []byte("\n  provider: together"), []byte("\n  provider: sandbox"), 1)
	t = bytes.Replace(t, []byte("\n  model: meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"), []byte("\n  model: base"), 1)
	// The review stage's model line follows "review:"; it is a judge.
	t = regexp.MustCompile(`(?m)(review:\n(?:\s+#.*\n)*\s+model: )sandbox/writer`).ReplaceAll(t, []byte("${1}sandbox/judge"))
	header := []byte("# Offline variant: every model is a sandbox model, so this project runs with\n" +
		"# no keys and no network. Replace sandbox/… models with real ones (e.g.\n" +
		"# anthropic/claude-sonnet-4-5) when you have keys.\n")
	return append(header, t...)
}
