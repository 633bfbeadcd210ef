// Command ethos is the command-line interface of ethos, a toolkit for
// character training of language models. main only wires: each subcommand
// is a type with a Run method in its own file, and exit codes are decided
// in one place (exitCode).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/pipeline"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	m := NewMain()
	err := m.Run(ctx, os.Args[1:])
	stop()
	m.printError(err)
	os.Exit(exitCode(err))
}

// printError says on stderr why a command failed, in one line: an
// interruption says how to continue, and nothing else.
func (m *Main) printError(err error) {
	var ie *interruptedError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp), errors.Is(err, errSilent):
	case errors.As(err, &ie):
		fmt.Fprintln(m.Stderr, ie.Error())
	default:
		fmt.Fprintln(m.Stderr, "ethos: "+err.Error())
	}
}

// Main holds what the commands need from the outside world, so that tests
// can run the CLI in-process with their own streams and environment.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads the environment; tests replace it.
	Getenv func(string) string
	// Dir is the working directory relative paths are resolved against;
	// empty means the process's.
	Dir string
}

// NewMain returns a Main wired to the process.
func NewMain() *Main {
	return &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv}
}

// command is one subcommand.
type command interface {
	Run(ctx context.Context, args []string) error
}

type commandInfo struct {
	name, summary string
	new           func(m *Main) command
}

func (m *Main) commands() []commandInfo {
	return []commandInfo{
		{"init", "write an ethos.yaml for the example character Agora", func(m *Main) command { return &InitCommand{m} }},
		{"doctor", "check the config, the store, providers, keys and endpoints", func(m *Main) command { return &DoctorCommand{m} }},
		{"complete", "send one request to a model and print the reply, usage and cost", func(m *Main) command { return &CompleteCommand{m} }},
		{"generate", "generate a fine-tuning dataset: ideas → documents → replies → review", func(m *Main) command { return &GenerateCommand{m} }},
		{"calls", "list recorded model calls and their totals", func(m *Main) command { return &CallsCommand{m} }},
		{"batches", "list, show and cancel the provider batches of calls sent by batch", func(m *Main) command { return &BatchesCommand{m} }},
		{"dataset", "check a training file as a provider will, show its stats, split it", func(m *Main) command { return &DatasetCommand{m} }},
		{"finetune", "fine-tune a model on a provider: create, list, status, events, cancel, wait", func(m *Main) command { return &FinetuneCommand{m} }},
		{"models", "list the registry of trained models", func(m *Main) command { return &ModelsCommand{m} }},
		{"monitor", "follow active fine-tune jobs in the background and notify on changes", func(m *Main) command { return &MonitorCommand{m} }},
		{"eval", "evaluate models against each other: run, rate, report", func(m *Main) command { return &EvalCommand{m} }},
		{"status", "one-shot overview of runs, fine-tune jobs and evals; exit 1 if any failed", func(m *Main) command { return &StatusCommand{m} }},
		{"run", "the whole pipeline from ethos.yaml: generate, check, fine-tune, evaluate, report", func(m *Main) command { return &RunCommand{m} }},
		{"demo", "the whole pipeline offline against the built-in sandbox", func(m *Main) command { return &DemoCommand{m} }},
		{"worker", "work the tasks of every running run on a shared PostgreSQL store, beside other workers", func(m *Main) command { return &WorkerCommand{m} }},
		{"serve", "the dashboard: a local web UI, JSON API and /metrics over the store", func(m *Main) command { return &ServeCommand{m} }},
		{"store", "migrate the store, or copy a project to another store (SQLite ⇄ PostgreSQL)", func(m *Main) command { return &StoreCommand{m} }},
		{"sandbox", "run the offline provider emulator", func(m *Main) command { return &SandboxCommand{m} }},
		{"version", "print the version", func(m *Main) command { return &VersionCommand{m} }},
	}
}

// Run executes the subcommand named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			return m.Run(ctx, []string{args[1], "--help"})
		}
		m.usage(m.Stdout)
		if len(args) == 0 {
			return usageErrorf("no command given")
		}
		return nil
	}
	for _, c := range m.commands() {
		if c.name == args[0] {
			err := c.new(m).Run(ctx, args[1:])
			var ie *interruptedError
			var ue *usageError
			if err != nil && ctx.Err() != nil && !errors.As(err, &ie) && !errors.As(err, &ue) && ethos.KindOf(err) != ethos.Config {
				// Stopped by Ctrl-C or a shutdown: whatever error that
				// surfaced as (context canceled, a call cut short) is not
				// why the command failed. A usage or configuration error
				// is, whenever it came.
				err = &interruptedError{Err: err}
			}
			return err
		}
	}
	m.usage(m.Stderr)
	return usageErrorf("unknown command %q", args[0])
}

func (m *Main) usage(w io.Writer) {
	fmt.Fprint(w, `ethos trains language models to have a character: it generates training
data through LLM APIs, fine-tunes on hosted providers and evaluates the result.

Usage: ethos <command> [flags] [args]

Commands:
`)
	for _, c := range m.commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "ethos <command> --help" for a command's flags.
`)
}

// usageError is a mistake in the command line; it exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// interruptedError is a command stopped by Ctrl-C or a shutdown before it
// finished (see pipeline.Interrupted). It exits with status 130, as a
// shell reports a process stopped by SIGINT.
type interruptedError = pipeline.Interrupted

// errSilent reports failure through the exit code only: the command has
// already said what went wrong.
var errSilent = errors.New("failed")

// exitCode is the one place exit statuses are decided: 0 success (and
// --help), 2 for usage and configuration errors, 130 for an interrupted
// command, 1 for everything else.
func exitCode(err error) int {
	var ue *usageError
	var ie *interruptedError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ie):
		return 130
	case errors.As(err, &ue), ethos.KindOf(err) == ethos.Config:
		return 2
	default:
		return 1
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints usage with the command's synopsis.
func (m *Main) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(m.Stderr, "Usage: ethos %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// isSet says whether the command line gave flag name, so that an explicit
// zero can be told from the default.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// parseFlags parses args, allowing flags after positional arguments
// ("ethos complete "hi" --model x"), and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// parseNoArgs parses the flags of a command that takes no arguments, and
// refuses any ("ethos doctor extra" is a usage error).
func parseNoArgs(fs *flag.FlagSet, args []string) error {
	rest, err := parseFlags(fs, args)
	if err == nil && len(rest) > 0 {
		err = usageErrorf("%s takes no arguments, got %q", fs.Name(), rest)
	}
	return err
}

// subcommand is one subcommand of a command that has several (ethos eval
// run, ethos dataset check).
type subcommand struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
}

// dispatch runs the subcommand of command that args[0] names. With no
// name, help or a name it does not know, it prints usage (the
// subcommands and their summaries when usage is nil) on stderr; help
// exits 0, the others are usage errors.
func dispatch(ctx context.Context, m *Main, command string, usage func(io.Writer), subs []subcommand, args []string) error {
	names := make([]string, len(subs))
	for i, s := range subs {
		if len(args) > 0 && s.name == args[0] {
			return s.run(ctx, args[1:])
		}
		names[i] = s.name
	}
	if usage == nil {
		usage = func(w io.Writer) {
			fmt.Fprintf(w, "Usage: ethos %s <%s> [flags]\n\nSubcommands:\n", command, strings.Join(names, "|"))
			for _, s := range subs {
				fmt.Fprintf(w, "  %-8s %s\n", s.name, s.summary)
			}
			fmt.Fprintf(w, "\nRun \"ethos %s SUBCOMMAND --help\" for its flags.\n", command)
		}
	}
	usage(m.Stderr)
	want := strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
	switch {
	case len(args) == 0:
		return usageErrorf("%s: name a subcommand: %s", command, want)
	case args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help":
		return flag.ErrHelp
	}
	return usageErrorf("%s: unknown subcommand %q; want %s", command, args[0], want)
}
