package pipeline

import (
	"path/filepath"
	"strings"

	"github.com/ethos-toolkit/ethos/config"
)

// IsPostgresURL reports whether a store location names a PostgreSQL
// database rather than a SQLite file.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// StoreLocation decides where a project's store lives: the --db flag's
// value, then $ETHOS_DB, then $ETHOS_DATABASE_URL, then the config's
// store.path relative to projectDir (default .ethos/ethos.db). A
// postgres:// URL names a PostgreSQL database and is kept as it is; a path
// from the flag or $ETHOS_DB is relative to workDir, the directory the
// command was started in.
func StoreLocation(flagValue string, getenv func(string) string, workDir string, cfg *config.Config, projectDir string) string {
	fromWorkDir := func(path string) string {
		if filepath.IsAbs(path) || workDir == "" {
			return path
		}
		return filepath.Join(workDir, path)
	}
	switch env := getenv("ETHOS_DB"); {
	case IsPostgresURL(flagValue):
		return flagValue
	case flagValue != "":
		return fromWorkDir(flagValue)
	case IsPostgresURL(env):
		return env
	case env != "":
		return fromWorkDir(env)
	case getenv("ETHOS_DATABASE_URL") != "":
		return getenv("ETHOS_DATABASE_URL")
	}
	path := cfg.Store.Path
	if IsPostgresURL(path) {
		return path
	}
	if path == "" {
		path = filepath.Join(".ethos", "ethos.db")
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(projectDir, path)
	}
	return path
}
