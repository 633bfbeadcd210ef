package config_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos/config"
)

func TestAliasExpansionIsBounded(t *testing.T) {
	t.Parallel()
	// Nested merges of merges would list 10^8 pairs if expanded naively;
	// a long list of aliases to a wide mapping would walk 10^7 entries and report each as unknown.
	var b strings.Builder
	b.WriteString("l0: &l0 {a: 1, b: 2}\n")
	for i := 1; i <= 8; i++ {
		refs := strings.TrimSuffix(strings.Repeat("*l"+itoa(i-1)+", ", 10), ", ")
		b.WriteString("l" + itoa(i) + ": &l" + itoa(i) + " {<<: [" + refs + "], k" + itoa(i) + ": 1}\n")
	}
	b.WriteString("wide: &w {")
	for i := 0; i < 5000; i++ {
		b.WriteString("f" + itoa(i) + ": 1, ")
	}
	b.WriteString("z: 1}\ncharacter:\n  traits: [" + strings.TrimSuffix(strings.Repeat("*w, ", 2000), ", ") + "]\n")
	b.WriteString("sandbox: *l8\n")
	_, err := config.Parse("ethos.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "through aliases") {
		t.Errorf("Parse(alias bomb) = %.300v; want the expansion refused", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
