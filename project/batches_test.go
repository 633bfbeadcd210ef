package project_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
)

// TestCancelBatchRefusals: a batch is cancelled only when the provider
// has confirmed it and it has not ended; each refusal says why, and a
// provider's refusal changes nothing.
func TestCancelBatchRefusals(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	p := openTemp(t, new(bytes.Buffer))
	if _, err := p.Store().QueueBatchItem(ctx, ethos.BatchItem{Key: "k-1", Provider: "sandbox", Model: "sandbox/writer"}); err != nil {
		t.Fatal(err)
	}
	b, _, err := p.Store().CreateBatch(ctx, "sandbox/writer", 10, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	refused := func(want string) {
		t.Helper()
		_, err := p.CancelBatch(ctx, b.ID)
		if ethos.KindOf(err) != ethos.Config || !strings.Contains(fmt.Sprint(err), want) {
			t.Errorf("CancelBatch of a %s batch (provider ID %q) = %v, want a Config error saying %q", b.State, b.ProviderID, err, want)
		}
	}
	refused("is not confirmed at sandbox yet")
	b.ProviderID, b.State = "batch-1", ethos.BatchInProgress
	if err := p.Store().UpdateBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	// The provider's answer is passed on, and nothing recorded.
	if _, err := p.CancelBatch(ctx, b.ID); ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("CancelBatch of a batch the provider does not know = %v, want its NotFound", err)
	}
	if got, err := p.Store().GetBatch(ctx, b.ID); err != nil || got.State != ethos.BatchInProgress {
		t.Errorf("after a refused cancel the batch is %+v (%v)", got, err)
	}
	b.State = ethos.BatchEnded
	if err := p.Store().UpdateBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	refused("nothing to cancel")
	if _, err := p.CancelBatch(ctx, b.ID+1); ethos.KindOf(err) != ethos.NotFound {
		t.Errorf("CancelBatch of an unknown batch = %v, want NotFound", err)
	}
}
