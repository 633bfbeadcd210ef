package together

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ethos-toolkit/ethos"
)

// messageFacts are the training figures an event's message states.
type messageFacts struct {
	Step, TotalSteps int
	Epoch, Epochs    int
	Loss, ValLoss    *float64
	hasEpochs        bool
}

var (
	// stepRe reads "step 24", "Step: 24", "step 24/100", "step 24 of 100".
	stepRe = regexp.MustCompile(`(?i)\bsteps?\s*[:=#]?\s*(\d{1,9})(?:\s*(?:/|of)\s*(\d{1,9}))?`)
	// epochRe reads "epoch 2", "Epoch 2/3", "epoch: 2 of 3".
	epochRe = regexp.MustCompile(`(?i)\bepochs?\s*[:=#]?\s*(\d{1,6})(?:\s*(?:/|of)\s*(\d{1,6}))?`)
	// lossRe reads "loss 1.23", "loss: 1.23", "train_loss=1.2e-1",
	// "training loss 0.9", "val loss: 1.1", "eval_loss=0.8".
	lossRe = regexp.MustCompile(`(?i)\b((?:train(?:ing)?|val(?:id|idation)?|eval(?:uation)?)[ _-]?)?loss\s*(?:[:=]|is)?\s*(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)`)
)

// parseMessage reads the step, epoch and losses an event's message states,
// for servers that say them in words rather than fields (the spec's event
// has a step field but no loss). The Python SDK reads steps the same way.
func parseMessage(msg string) messageFacts {
	var f messageFacts
	if m := stepRe.FindStringSubmatch(msg); m != nil {
		f.Step, _ = strconv.Atoi(m[1])
		if m[2] != "" {
			f.TotalSteps, _ = strconv.Atoi(m[2])
		}
	}
	if m := epochRe.FindStringSubmatch(msg); m != nil {
		f.Epoch, _ = strconv.Atoi(m[1])
		if m[2] != "" {
			f.Epochs, _ = strconv.Atoi(m[2])
			f.hasEpochs = true
		}
	}
	for _, m := range lossRe.FindAllStringSubmatch(msg, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			continue
		}
		prefix := strings.ToLower(m[1])
		if strings.HasPrefix(prefix, "val") || strings.HasPrefix(prefix, "eval") {
			if f.ValLoss == nil {
				f.ValLoss = &v
			}
		} else if f.Loss == nil {
			f.Loss = &v
		}
	}
	return f
}

// event converts a wire event to ethos's, preferring fields to what the
// message says.
func event(jobID string, w wireEvent) ethos.FineTuneEvent {
	facts := parseMessage(w.Message)
	e := ethos.FineTuneEvent{
		JobID:     jobID,
		CreatedAt: w.CreatedAt.time(),
		Level:     level(w.Level),
		Type:      strings.ToLower(w.Type),
		Message:   w.Message,
		Step:      facts.Step,
		Epoch:     facts.Epoch,
		Loss:      facts.Loss,
		ValLoss:   facts.ValLoss,
	}
	if s := w.Step.int(); s > 0 {
		e.Step = s
	}
	if w.Epoch != nil && w.Epoch.int() > 0 {
		e.Epoch = w.Epoch.int()
	}
	for _, l := range []*number{w.Loss, w.TrainLoss} {
		if l != nil {
			v := float64(*l)
			e.Loss = &v
			break
		}
	}
	for _, l := range []*number{w.ValLoss, w.EvalLoss} {
		if l != nil {
			v := float64(*l)
			e.ValLoss = &v
			break
		}
	}
	return e
}

// level normalises an event level: the spec's lower-case values, the
// Python SDK's capitalised ones and the legacy_* aliases become info,
// warning or error; others are kept in lower case.
func level(l string) string {
	switch l = strings.ToLower(strings.TrimSpace(l)); l {
	case "legacy_info":
		return "info"
	case "legacy_iwarning", "warn":
		return "warning"
	case "legacy_ierror":
		return "error"
	}
	return l
}

// events converts wire events in time order; events with the same time
// keep the provider's order.
func events(jobID string, ws []wireEvent) []ethos.FineTuneEvent {
	out := make([]ethos.FineTuneEvent, 0, len(ws))
	for _, w := range ws {
		out = append(out, event(jobID, w))
	}
	slices.SortStableFunc(out, func(a, b ethos.FineTuneEvent) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

// progress sums up what events say about how far training has come: the
// furthest step and epoch, the step count and the most recent loss.
func progress(ws []wireEvent, evs []ethos.FineTuneEvent) ethos.FineTuneProgress {
	var p ethos.FineTuneProgress
	for _, w := range ws {
		p.TotalSteps = max(p.TotalSteps, w.TotalSteps.int())
		facts := parseMessage(w.Message)
		p.TotalSteps = max(p.TotalSteps, facts.TotalSteps)
		if facts.hasEpochs {
			p.Epochs = max(p.Epochs, facts.Epochs)
		}
	}
	for _, e := range evs {
		p.Step = max(p.Step, e.Step)
		p.Epoch = max(p.Epoch, e.Epoch)
		if e.Loss != nil {
			v := *e.Loss
			p.Loss = &v
		}
	}
	return p
}
