package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// leafCommands are the command lines that parse flags: every command, and
// each subcommand of the commands that dispatch.
func leafCommands() [][]string {
	subs := map[string][]string{
		"dataset":  {"check", "stats", "split"},
		"finetune": {"create", "list", "status", "events", "cancel", "wait"},
		"eval":     {"run", "rate", "report"},
		"store":    {"migrate", "copy"},
	}
	var leaves [][]string
	for _, c := range NewMain().commands() {
		if names, ok := subs[c.name]; ok {
			for _, s := range names {
				leaves = append(leaves, []string{c.name, s})
			}
			continue
		}
		leaves = append(leaves, []string{c.name})
	}
	return leaves
}

// commandHelp is what "ethos COMMAND --help" says: the usage line (up to
// the first blank line) and the names of the flags the command defines.
type commandHelp struct {
	usage string
	flags []string
}

var flagLine = regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`)

func helpOf(t *testing.T, args []string) commandHelp {
	t.Helper()
	r := ethosCLI(t, t.TempDir(), nil, append(slices.Clone(args), "--help")...)
	usage, defaults, ok := strings.Cut(r.stderr, "\nFlags:\n")
	if r.code != 0 || !ok {
		t.Fatalf("%s --help: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
	}
	usage, _, _ = strings.Cut(usage, "\n\n")
	h := commandHelp{usage: usage}
	for _, m := range flagLine.FindAllStringSubmatch(defaults, -1) {
		h.flags = append(h.flags, m[1])
	}
	return h
}

func TestUsageLineListsEveryFlag(t *testing.T) {
	t.Parallel()
	for _, args := range leafCommands() {
		name := strings.Join(args, " ")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := helpOf(t, args)
			if !strings.HasPrefix(h.usage, "Usage: ethos "+name) {
				t.Fatalf("usage line %q does not start with the command", h.usage)
			}
			for _, f := range h.flags {
				if !regexp.MustCompile(`--` + f + `\b[^-]`).MatchString(h.usage + "\n") {
					t.Errorf("flag --%s is missing from the usage line:\n%s", f, h.usage)
				}
			}
		})
	}
}

// TestProjectFlagsAsTheREADMESays checks the README's sentence on which
// commands take --config and --db against every command's flags.
func TestProjectFlagsAsTheREADMESays(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sentence, ok := strings.Cut(string(readme), "Every command that works on a project takes `--config FILE`")
	sentence, _, _ = strings.Cut(sentence, "\n\n")
	if !ok {
		t.Fatal("README.md no longer says which commands take --config and --db")
	}
	// The commands that take neither flag, and those that take --config only.
	neither := []string{"init", "demo", "version", "dataset stats", "eval rate", "store copy"}
	configOnly := []string{"sandbox"}
	for _, name := range append(slices.Clone(neither), configOnly...) {
		if !strings.Contains(sentence, "`"+name+"`") {
			t.Errorf("README.md does not name %q among the exceptions:\n%s", name, sentence)
		}
		said := strings.Contains(sentence, "`"+name+"`, which takes `--config` only")
		if want := slices.Contains(configOnly, name); said != want {
			t.Errorf("README.md says %q takes --config only: %t, want %t", name, said, want)
		}
	}
	for _, args := range leafCommands() {
		name := strings.Join(args, " ")
		h := helpOf(t, args)
		config, db := slices.Contains(h.flags, "config"), slices.Contains(h.flags, "db")
		want := !slices.Contains(neither, name)
		wantDB := want && !slices.Contains(configOnly, name)
		if config != want || db != wantDB {
			t.Errorf("%s: takes --config %t and --db %t; README.md says %t and %t", name, config, db, want, wantDB)
		}
		if named := strings.Contains(sentence, "`"+name+"`"); named == (want && wantDB) {
			t.Errorf("%s: README.md's sentence on --config and --db names it %t, want %t", name, named, !(want && wantDB))
		}
	}
}
