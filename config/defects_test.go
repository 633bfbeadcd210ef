package config_test

import (
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/config"
)

func TestSandboxDefects(t *testing.T) {
	t.Parallel()
	tmpl := string(config.Template())
	if !strings.Contains(tmpl, "  defects: {}") {
		t.Fatal("template has no sandbox.defects line")
	}
	good := strings.Replace(tmpl, "  defects: {}", "  defects: {chatter: 0.05, placeholder: 0.1}", 1)
	cfg, err := config.Parse("ethos.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sandbox.Defects["chatter"] != 0.05 || cfg.Sandbox.Defects["placeholder"] != 0.1 {
		t.Fatalf("defects = %v", cfg.Sandbox.Defects)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"  defects: {chater: 0.05}", `sandbox.defects.chater: unknown defect "chater"`},
		{"  defects: {chatter: 1.5}", "sandbox.defects.chatter"},
	} {
		_, err := config.Parse("ethos.yaml", []byte(strings.Replace(tmpl, "  defects: {}", tc.yaml, 1)))
		if ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want a config error containing %q", tc.yaml, err, tc.want)
		}
	}
}

func TestCategoryWeights(t *testing.T) {
	t.Parallel()
	tmpl := string(config.Template())
	heavy := strings.Replace(tmpl, "      description: programming, science and technology\n",
		"      description: programming, science and technology\n      weight: 3\n", 1)
	cfg, err := config.Parse("ethos.yaml", []byte(heavy))
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Character.Categories[0].Weight; w != 3 {
		t.Fatalf("weight = %v, want 3", w)
	}
	bad := strings.Replace(heavy, "weight: 3", "weight: -1", 1)
	if _, err := config.Parse("ethos.yaml", []byte(bad)); ethos.KindOf(err) != ethos.Config || !strings.Contains(err.Error(), "character.categories[0].weight") {
		t.Fatalf("negative weight: got %v", err)
	}
}
