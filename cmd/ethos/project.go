package main

import (
	"context"
	"flag"
	"path/filepath"

	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/project"
)

// projectFlags are the flags every command that works on a project takes.
type projectFlags struct {
	config string
	db     string
}

// projectFlagSet returns a flag set (see newFlagSet) with the project's
// flags registered, and the flags.
func (m *Main) projectFlagSet(name, synopsis string) (*flag.FlagSet, *projectFlags) {
	fs, pf := m.newFlagSet(name, synopsis), &projectFlags{}
	pf.register(fs)
	return fs, pf
}

func (p *projectFlags) register(fs *flag.FlagSet) {
	p.registerConfig(fs)
	fs.StringVar(&p.db, "db", "", "the store: a SQLite file `path` or a postgres:// URL (default: $ETHOS_DB, else $ETHOS_DATABASE_URL, else store.path in the config, .ethos/ethos.db)")
}

// registerConfig registers --config alone, for a command that reads the
// configuration but no store.
func (p *projectFlags) registerConfig(fs *flag.FlagSet) {
	fs.StringVar(&p.config, "config", project.DefaultConfig, "the project's configuration `file`")
}

// abs resolves path against the working directory of m.
func (m *Main) abs(path string) string {
	if filepath.IsAbs(path) || m.Dir == "" {
		return path
	}
	return filepath.Join(m.Dir, path)
}

// projectOptions are the project the flags name, seen from m; warnings
// go to stderr.
func (m *Main) projectOptions(pf projectFlags, explicit bool) project.Options {
	return project.Options{Config: pf.config, ConfigExplicit: explicit, DB: pf.db, Dir: m.Dir, Getenv: m.Getenv, Log: m.Stderr}
}

// loadConfig reads the project's configuration (see project.LoadConfig);
// explicit says --config was given.
func (m *Main) loadConfig(pf projectFlags, explicit bool) (*config.Config, string, bool, error) {
	return project.LoadConfig(m.projectOptions(pf, explicit))
}

// openProject opens the project the flags name.
func (m *Main) openProject(ctx context.Context, fset *flag.FlagSet, pf projectFlags) (*project.Project, error) {
	return project.Open(ctx, m.projectOptions(pf, isSet(fset, "config")))
}
