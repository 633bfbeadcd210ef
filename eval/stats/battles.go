// Package stats holds the statistics of pairwise evaluation: battles
// between models, ratings (online Elo, Bradley–Terry maximum likelihood,
// win rates), interval estimates (Wilson, percentile bootstrap), the exact
// sign test, Holm's correction and sample sizes.
//
// The formulas follow the reference systems described in the project's
// evaluation notes (FastChat, evalica, Arena-Hard); the test data in
// testdata/ratings are golden values from evalica. Nothing here calls a
// model or touches the store: inputs are battles, outputs are numbers.
package stats

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/ethos-toolkit/ethos"
)

// Winner says which side of a battle won.
type Winner string

// Battle outcomes, as spelled in battle files.
const (
	Left  Winner = "left"
	Right Winner = "right"
	Tie   Winner = "tie"
)

// Battle is one comparison of two models.
type Battle struct {
	Left, Right string
	Winner      Winner
}

// ReadCSV reads battles from CSV with a header naming the columns left,
// right and winner (in any position; other columns are ignored). name is
// used in error messages, which give the line number of the bad row.
func ReadCSV(r io.Reader, name string) ([]Battle, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // rows are checked below, with clearer messages
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, ethos.Errorf(ethos.Invalid, "%s: empty file; want a CSV header left,right,winner", name)
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := col[h]; !dup {
			col[h] = i
		}
	}
	var missing []string
	for _, want := range []string{"left", "right", "winner"} {
		if _, ok := col[want]; !ok {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		return nil, ethos.Errorf(ethos.Invalid, "%s:1: header lacks column %s; want a header naming left, right and winner (other columns are ignored)",
			name, strings.Join(missing, ", "))
	}
	li, ri, wi := col["left"], col["right"], col["winner"]
	need := max(li, ri, wi) + 1
	var battles []Battle
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) < need {
			return nil, ethos.Errorf(ethos.Invalid, "%s:%d: %d fields, want at least %d (the header names left, right and winner in columns %d, %d, %d)",
				name, line, len(rec), need, li+1, ri+1, wi+1)
		}
		b := Battle{Left: strings.TrimSpace(rec[li]), Right: strings.TrimSpace(rec[ri]), Winner: Winner(strings.TrimSpace(rec[wi]))}
		if err := b.check(); err != nil {
			return nil, ethos.Errorf(ethos.Invalid, "%s:%d: %s", name, line, err)
		}
		battles = append(battles, b)
	}
	if len(battles) == 0 {
		return nil, ethos.Errorf(ethos.Invalid, "%s: no battles after the header", name)
	}
	return battles, nil
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return ethos.Errorf(ethos.Invalid, "%s:%d: %v; the file must be CSV with a header left,right,winner", name, pe.Line, pe.Err)
	}
	return ethos.Errorf(ethos.Invalid, "%s: %w", name, err)
}

// check reports what is wrong with a battle read from a file.
func (b Battle) check() error {
	switch {
	case b.Left == "":
		return errors.New("empty left model name")
	case b.Right == "":
		return errors.New("empty right model name")
	case b.Left == b.Right:
		return fmt.Errorf("model %q plays itself; a battle needs two different models", b.Left)
	}
	switch b.Winner {
	case Left, Right, Tie:
		return nil
	}
	return fmt.Errorf("winner %q: want left, right or tie", b.Winner)
}

// JudgmentBattles reads ethos's judgment export: JSON Lines, one
// ethos.Judgment per line. Each judgment of status ok becomes a battle
// with the answer shown first on the left; the others (parse failures,
// failed calls) are not battles and are counted in skipped. If trait is
// not empty, only judgments of that trait are read; otherwise the file
// must hold judgments of a single trait, since ratings that mix traits
// answer no question.
func JudgmentBattles(r io.Reader, name, trait string) (battles []Battle, skipped int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	traits := map[string]int{}
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var j ethos.Judgment
		dec := json.NewDecoder(bytes.NewReader(text))
		if err := dec.Decode(&j); err != nil {
			return nil, 0, ethos.Errorf(ethos.Invalid, "%s:%d: not a judgment: %v; want one JSON judgment per line, as ethos exports them", name, line, err)
		}
		if dec.More() {
			return nil, 0, ethos.Errorf(ethos.Invalid, "%s:%d: more than one JSON value on the line", name, line)
		}
		switch j.Status {
		case ethos.JudgmentOK, ethos.JudgmentParseFailed, ethos.JudgmentFailed:
		default:
			return nil, 0, ethos.Errorf(ethos.Invalid, "%s:%d: status %q: want ok, parse_failed or failed; is this a judgment export?", name, line, j.Status)
		}
		if trait != "" && j.Trait != trait {
			continue
		}
		if j.Status != ethos.JudgmentOK {
			skipped++
			continue
		}
		b, err := FromJudgment(j)
		if err != nil {
			return nil, 0, ethos.Errorf(ethos.Invalid, "%s:%d: %s", name, line, err)
		}
		traits[j.Trait]++
		battles = append(battles, b)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, ethos.Errorf(ethos.Invalid, "%s:%d: %w", name, line+1, err)
	}
	if len(traits) > 1 {
		names := make([]string, 0, len(traits))
		for t := range traits {
			names = append(names, t)
		}
		slices.Sort(names)
		return nil, 0, ethos.Errorf(ethos.Invalid, "%s: judgments on %d traits (%s); rate one trait at a time (--trait NAME)",
			name, len(traits), strings.Join(names, ", "))
	}
	if len(battles) == 0 {
		what := "no judgments of status ok"
		if trait != "" {
			what += " on trait " + trait
		}
		return nil, skipped, ethos.Errorf(ethos.Invalid, "%s: %s", name, what)
	}
	return battles, skipped, nil
}

// FromJudgment is the battle a judgment of status ok records: the answer
// shown first on the left, the verdict's sign deciding the winner.
func FromJudgment(j ethos.Judgment) (Battle, error) {
	if j.Status != ethos.JudgmentOK {
		return Battle{}, fmt.Errorf("judgment of prompt %s has status %s; only ok judgments are battles", j.PromptKey, j.Status)
	}
	if j.Verdict < ethos.MuchWorse || j.Verdict > ethos.MuchBetter {
		return Battle{}, fmt.Errorf("verdict %d out of range -2..2", int(j.Verdict))
	}
	b := Battle{Left: j.First, Right: j.Second, Winner: Tie}
	switch {
	case j.Verdict > 0:
		b.Winner = Left
	case j.Verdict < 0:
		b.Winner = Right
	}
	return b, b.check()
}

// ReadBattlesFile reads the battles file at path (see ReadBattles); its
// errors name the file as path does.
func ReadBattlesFile(path, trait string) (battles []Battle, skipped int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, ethos.Errorf(ethos.Invalid, "battles file: %w", err)
	}
	defer f.Close()
	return ReadBattles(f, path, trait)
}

// ReadBattles reads a battles file of either kind, telling them apart by
// the first non-blank byte: '{' starts a judgment export, anything else a
// CSV file. trait selects the judgments of one trait (see JudgmentBattles)
// and is ignored for CSV; skipped counts judgments that are not battles.
func ReadBattles(r io.Reader, name, trait string) (battles []Battle, skipped int, err error) {
	br := bufio.NewReader(r)
	for {
		c, err := br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, 0, ethos.Errorf(ethos.Invalid, "%s: empty file; want CSV with a header left,right,winner or a judgment export (JSON Lines)", name)
			}
			return nil, 0, ethos.Errorf(ethos.Invalid, "%s: %w", name, err)
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		br.UnreadByte()
		if c == '{' {
			return JudgmentBattles(br, name, trait)
		}
		battles, err = ReadCSV(br, name)
		return battles, 0, err
	}
}
