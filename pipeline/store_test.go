package pipeline_test

import (
	"testing"

	"github.com/ethos-toolkit/ethos/config"
	"github.com/ethos-toolkit/ethos/pipeline"
)

func TestStoreLocation(t *testing.T) {
	t.Parallel()
	const pg = "postgres://ethos@db.example/ethos"
	for _, tt := range []struct {
		name      string
		flag      string
		env       map[string]string
		storePath string
		want      string
	}{
		{name: "the default, in the project", want: "/project/.ethos/ethos.db"},
		{name: "the config's path, in the project", storePath: "data/store.db", want: "/project/data/store.db"},
		{name: "the config's URL", storePath: pg, want: pg},
		{name: "the config's absolute path", storePath: "/var/ethos.db", want: "/var/ethos.db"},
		{name: "$ETHOS_DATABASE_URL over the config", storePath: "data/store.db", env: map[string]string{"ETHOS_DATABASE_URL": pg}, want: pg},
		{name: "$ETHOS_DB over $ETHOS_DATABASE_URL, from the working directory", env: map[string]string{"ETHOS_DB": "x.db", "ETHOS_DATABASE_URL": pg}, want: "/work/x.db"},
		{name: "$ETHOS_DB's URL", env: map[string]string{"ETHOS_DB": pg}, want: pg},
		{name: "--db over everything, from the working directory", flag: "y.db", env: map[string]string{"ETHOS_DB": "x.db"}, storePath: "z.db", want: "/work/y.db"},
		{name: "--db's URL", flag: "postgresql://h/db", env: map[string]string{"ETHOS_DB": "x.db"}, want: "postgresql://h/db"},
	} {
		cfg := config.Default()
		cfg.Store.Path = tt.storePath
		got := pipeline.StoreLocation(tt.flag, func(k string) string { return tt.env[k] }, "/work", cfg, "/project")
		if got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}
