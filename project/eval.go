package project

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/eval"
	"github.com/ethos-toolkit/ethos/internal/atomicfile"
	"github.com/ethos-toolkit/ethos/pipeline"
)

// PromptsFile resolves a prompts file given by the user to the file an
// evaluation reads. An evaluation reads it when it is set up and again
// when it starts, checking that it has not changed, but a pipe ("-" for
// stdin, a FIFO, /dev/stdin) can be read only once: its content is kept
// in a file beside the store named by its hash, so the same prompts piped
// again continue the same evaluation. A pipe's prompts are parsed here, so
// that one with none is refused before the evaluation exists (eval.New
// does so for a file).
func (p *Project) PromptsFile(arg string, stdin io.Reader) (string, error) {
	var (
		name = arg
		data []byte
		err  error
	)
	if arg == "-" {
		name = "stdin"
		data, err = io.ReadAll(stdin)
	} else {
		path := p.Abs(arg)
		st, statErr := os.Stat(path)
		if statErr != nil {
			return "", ethos.Errorf(ethos.Config, "--prompts-file: %w", statErr)
		}
		if st.Mode().IsRegular() {
			return path, nil
		}
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return "", ethos.Errorf(ethos.Config, "--prompts-file: reading %s: %w", name, err)
	}
	if _, err := eval.ParsePrompts(name, data); err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	kept := filepath.Join(p.LocalDir(), "prompts", "piped-"+hex.EncodeToString(sum[:6])+".txt")
	if err := os.MkdirAll(filepath.Dir(kept), 0o755); err != nil {
		return "", ethos.Errorf(ethos.Internal, "keeping the prompts from %s: %w", name, err)
	}
	if err := atomicfile.Write(kept, data, 0o644); err != nil {
		return "", ethos.Errorf(ethos.Internal, "keeping the prompts from %s: %w", name, err)
	}
	fmt.Fprintf(p.log, "prompts from %s kept in %s\n", name, kept)
	return kept, nil
}

// EvalSettings resolves an evaluation's settings from the config and in
// (see pipeline.EvalSettings).
func (p *Project) EvalSettings(ctx context.Context, in pipeline.EvalInputs) (eval.Settings, error) {
	return pipeline.EvalSettings(ctx, p.Deps(nil), in)
}
