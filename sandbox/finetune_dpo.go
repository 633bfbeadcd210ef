package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strconv"
)

// A sandbox model trained by DPO learns from preference pairs, not from
// replies alone. The rule, fixed here before any result was looked at:
//
// For each trait t, every pair i gives the strength its chosen side shows,
// c_i = min(markers of t in preferred_output, markerSlots) / markerSlots,
// and the strength its rejected side shows, r_i, likewise from
// non_preferred_output. Over the n pairs of the file,
//
//	margin(t) = mean(c_i − r_i)                      (in [−1, 1])
//	s'(t)     = clamp(s(t) + margin(t)/2 · n/(n+4), 0, 1)
//
// where s(t) is the strength the model starts from: its base model's, or
// for a job continued from a checkpoint, the parent job's trained model's.
// margin/2 is the mean of a pull toward the chosen side, (c̄ − s), and a
// push away from the rejected side, −(r̄ − s), halved; n/(n+4) is the
// same weight of evidence SFT uses (learnPrior), so four pairs move a
// model half as far as many do.
//
// The rule is symmetric: swapping the sides of every pair negates the
// change. A pair whose rejected side shows a trait more than its chosen
// side moves the trait down, so training on poor pairs (a "teacher" that
// shows the character less than the "student") makes the model worse, and
// pairs whose sides show a trait equally leave it where it was. DPO's
// beta and the other settings are recorded but do not enter the rule.
//
// The traits learnt are those the inputs' system prompts name, else the
// starting model's own, else the sandbox's default traits. Lines that are
// not preference pairs (a conversation, two messages on a side, a side
// that is not the assistant's) teach nothing, and a file with none is
// refused at validation, as a provider refuses a DPO job on a supervised
// file.

// pair is what one preference line teaches.
type pair struct {
	systems          []string
	chosen, rejected string
	tokens           int
}

// parsePair reads one preference line; the error text says why it is not
// a pair.
func parsePair(line []byte) (pair, string) {
	var l struct {
		Input *struct {
			Messages []trainingTurn `json:"messages"`
		} `json:"input"`
		Preferred    []trainingTurn `json:"preferred_output"`
		NonPreferred []trainingTurn `json:"non_preferred_output"`
	}
	if err := json.Unmarshal(line, &l); err != nil {
		return pair{}, "not a JSON object with a preference pair"
	}
	if l.Input == nil || l.Preferred == nil || l.NonPreferred == nil {
		return pair{}, `not a preference pair: a DPO job needs "input", "preferred_output" and "non_preferred_output" on every line`
	}
	var p pair
	for _, t := range l.Input.Messages {
		text, ok := contentText(t.Content)
		if !ok {
			return pair{}, "a message's content is neither a string nor a list of parts"
		}
		p.tokens += CountTokens(text)
		if t.Role == "system" {
			p.systems = append(p.systems, text)
		}
	}
	side := func(name string, turns []trainingTurn) (string, string) {
		if len(turns) != 1 || turns[0].Role != "assistant" {
			return "", name + " must hold exactly one assistant message"
		}
		text, ok := contentText(turns[0].Content)
		if !ok {
			return "", name + "'s content is neither a string nor a list of parts"
		}
		p.tokens += CountTokens(text)
		return text, ""
	}
	var why string
	if p.chosen, why = side("preferred_output", l.Preferred); why != "" {
		return pair{}, why
	}
	if p.rejected, why = side("non_preferred_output", l.NonPreferred); why != "" {
		return pair{}, why
	}
	return p, ""
}

// learnPreferences learns a persona from preference pairs by the rule
// above, starting from start; traits nil chooses them as the rule says.
func learnPreferences(start Persona, training []byte, traits []string) (Persona, trainingStats) {
	var st trainingStats
	var pairs []pair
	sc := bufio.NewScanner(bytes.NewReader(training))
	sc.Buffer(make([]byte, 0, 64<<10), len(training)+1)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		st.lines++
		p, why := parsePair(line)
		if why != "" {
			if st.firstProblem == "" {
				st.firstProblem = "line " + strconv.Itoa(n) + ": " + why
			}
			continue
		}
		st.examples++
		st.turns += 2
		st.tokens += p.tokens
		pairs = append(pairs, p)
	}
	if traits == nil {
		var systems []string
		for _, p := range pairs {
			systems = append(systems, p.systems...)
		}
		traits = systemTraits(systems)
		if traits == nil && len(start.Markers) > 0 {
			traits = personaTraits(start)
		}
		if traits == nil {
			traits = defaultTraits
		}
	}
	out := Persona{Default: start.Default, Markers: make(map[string]float64, len(traits))}
	n := float64(len(pairs))
	for _, t := range traits {
		s := start.Strength(t)
		if len(pairs) == 0 {
			out.Markers[t] = s
			continue
		}
		margin := 0.0
		for _, p := range pairs {
			c := float64(min(countMarkers(p.chosen, t), markerSlots)) / markerSlots
			r := float64(min(countMarkers(p.rejected, t), markerSlots)) / markerSlots
			margin += c - r
		}
		margin /= n
		out.Markers[t] = min(1, max(0, s+margin/2*n/(n+learnPrior)))
	}
	return out, st
}
