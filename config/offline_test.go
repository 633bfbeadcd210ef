package config_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ethos-toolkit/ethos/config"
)

func TestOfflineTemplateParsesToOffline(t *testing.T) {
	t.Parallel()
	got, err := config.Parse("ethos.yaml", config.OfflineTemplate())
	if err != nil {
		t.Fatal(err)
	}
	got.Path = ""
	if diff := cmp.Diff(config.Offline(), got); diff != "" {
		t.Errorf("OfflineTemplate() parses to something other than Offline() (-want +got):\n%s", diff)
	}
	if strings.Contains(string(config.OfflineTemplate()), "model: anthropic/") {
		t.Error("the offline template still names an Anthropic model")
	}
	for _, ref := range []string{got.Generate.Ideas.Model, got.Generate.Documents.Model, got.Generate.Responses.Model, got.Generate.Review.Model, got.Eval.Judge} {
		if !strings.HasPrefix(ref, "sandbox/") {
			t.Errorf("offline model %q is not a sandbox model", ref)
		}
	}
}
