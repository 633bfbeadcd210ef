package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos/config"
)

func TestDemoParsesWithItsSizes(t *testing.T) {
	t.Parallel()
	data := config.Demo(24, 8)
	if !strings.HasPrefix(string(data), "# Written by ethos demo.") {
		t.Errorf("demo config starts %q", data[:40])
	}
	c, err := config.Parse("ethos.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if c.Generate.Examples != 24 || c.Eval.Prompts != 8 {
		t.Errorf("examples %d, prompts %d; want 24 and 8", c.Generate.Examples, c.Eval.Prompts)
	}
	if c.FineTune.Provider != "sandbox" || !strings.HasPrefix(c.Eval.Judge, "sandbox/") {
		t.Errorf("demo config is not offline: fine-tune on %s, judge %s", c.FineTune.Provider, c.Eval.Judge)
	}
}

func TestWriteFileKeepsAnExistingFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "new", "proj")
	path, written, err := config.WriteFile(dir, []byte("first\n"), false)
	if err != nil || !written || path != filepath.Join(dir, "ethos.yaml") {
		t.Fatalf("first write: %s, %v, %v", path, written, err)
	}
	if _, written, err = config.WriteFile(dir, []byte("second\n"), false); err != nil || written {
		t.Fatalf("second write without replace: written %v, %v", written, err)
	}
	if data, _ := os.ReadFile(path); string(data) != "first\n" {
		t.Errorf("the existing file was changed to %q", data)
	}
	if _, written, err = config.WriteFile(dir, []byte("third\n"), true); err != nil || !written {
		t.Fatalf("replace: written %v, %v", written, err)
	}
	if data, _ := os.ReadFile(path); string(data) != "third\n" {
		t.Errorf("after replace the file holds %q", data)
	}
}
