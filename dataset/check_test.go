package dataset_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/dataset"
	"github.com/google/go-cmp/cmp"
)

// pairs are questions and answers distinct enough that no two examples
// built from them are near-duplicates.
var pairs = [][2]string{
	{"Which vegetables grow well in a shady garden?", "Leafy greens such as spinach, lettuce and kale tolerate shade."},
	{"How do I remove a red wine stain from cotton?", "Blot it, cover it with salt, then rinse from the back with cold water."},
	{"Why is the sky blue during the day?", "Air scatters short blue wavelengths of sunlight more than long red ones."},
	{"What should I pack for a weekend of hiking in October?", "Layers, a waterproof shell, a warm hat and a head torch for early dusk."},
	{"Can you explain compound interest simply?", "You earn interest on your interest, so savings grow faster each year."},
	{"How long should I rest bread dough?", "Until it has roughly doubled, often one to two hours in a warm kitchen."},
	{"What is a good first programming language?", "Python reads almost like English and has gentle tooling for beginners."},
	{"How can I sleep better on hot nights?", "Cool the room before bed, use cotton sheets and keep a glass of water near."},
	{"Why do cats purr?", "Mostly contentment, though some purr when anxious or hurt, to soothe themselves."},
	{"How often should a bicycle chain be oiled?", "Every few hundred kilometres, or after riding through rain and grit."},
	{"What makes a good team retrospective?", "Psychological safety, concrete examples and one or two agreed actions."},
	{"How do vaccines train the immune system?", "They show it a harmless piece of a germ so it remembers how to fight back."},
}

const system = "You are Agora, a collaborative and inquisitive assistant."

// chat returns a conversation line for pair i.
func chat(i int) string {
	return msgs(turn("system", system), turn("user", pairs[i][0]), turn("assistant", pairs[i][1]))
}

func turn(role, content string) string {
	return fmt.Sprintf(`{"role":%q,"content":%q}`, role, content)
}

func msgs(turns ...string) string {
	return `{"messages":[` + strings.Join(turns, ",") + `]}`
}

// preference returns a preference line for pair i.
func preference(i int) string {
	return fmt.Sprintf(`{"input":{"messages":[%s]},"preferred_output":[%s],"non_preferred_output":[%s]}`,
		turn("user", pairs[i][0]), turn("assistant", pairs[i][1]), turn("assistant", "No idea, sorry, number "+fmt.Sprint(i)))
}

// pref returns a preference line of the given input messages and outputs.
func pref(input []string, chosen, rejected string) string {
	return fmt.Sprintf(`{"input":{"messages":[%s]},"preferred_output":[%s],"non_preferred_output":[%s]}`,
		strings.Join(input, ","), turn("assistant", chosen), turn("assistant", rejected))
}

// prefFile returns n preference lines, with line at (1-based) in place of
// the line there.
func prefFile(n, at int, line string) []string {
	var out []string
	for i := range n {
		out = append(out, preference(i))
	}
	out[at-1] = line
	return out
}

// longAnswer is long enough for two outputs that differ in their last
// words only to count as nearly the same.
const longAnswer = "Start with the soil: shade gardens stay damp, so mix in compost and leaf mould to keep it loose and rich. " +
	"Then choose plants that evolved under trees, such as ferns, hostas, hellebores and foxgloves, and group them by how much light each corner gets. " +
	"Water deeply but rarely, mulch every spring, and watch which plants thrive before you buy more of them."

// chats returns n conversation lines.
func chats(n int) []string {
	var out []string
	for i := range n {
		out = append(out, chat(i))
	}
	return out
}

// file joins lines into a file, each ending with a newline.
func file(lines ...string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.Join(lines, "\n") + "\n"
}

// at is a problem without its message, which tests compare separately.
type at struct {
	Line int
	Rule string
}

func checkString(t *testing.T, content, provider string) *dataset.Report {
	t.Helper()
	rep, err := dataset.Check(t.Context(), strings.NewReader(content), "train.jsonl", dataset.Options{Provider: provider})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Problems {
		if p.Message == "" || (p.Severity != dataset.SeverityError && p.Severity != dataset.SeverityWarning) {
			t.Errorf("problem without message or severity: %+v", p)
		}
	}
	return rep
}

func problems(rep *dataset.Report) []at {
	got := []at{}
	for _, p := range rep.Problems {
		got = append(got, at{p.Line, p.Rule})
	}
	return got
}

const img = "data:image/png;base64,iVBORw0KGgo="

type checkCase struct {
	name     string
	provider string // "" means together
	method   string // "" means SFT
	content  string
	want     []at
	// message, when set, must appear in the first problem's message.
	message string
}

var checkCases = []checkCase{
	// Valid files of every format.
	{name: "conversation", content: file(chats(3)...), want: []at{}},
	{name: "conversation with weights and no system", content: file(
		msgs(turn("user", pairs[0][0]), `{"role":"assistant","content":"Spinach.","weight":0}`, turn("user", "And in full sun?"), `{"role":"assistant","content":"Tomatoes and peppers love it.","weight":1}`),
	), want: []at{}},
	{name: "instruction", content: file(
		fmt.Sprintf(`{"prompt":%q,"completion":%q}`, pairs[0][0], pairs[0][1]),
		fmt.Sprintf(`{"prompt":%q,"completion":%q}`, pairs[1][0], pairs[1][1]),
	), want: []at{}},
	{name: "general", content: file(`{"text":"The tide comes in twice a day."}`, `{"text":"Bread needs time, warmth and patience."}`), want: []at{}},
	{name: "preference", method: dataset.MethodPreference, content: file(
		fmt.Sprintf(`{"input":{"messages":[%s]},"preferred_output":[%s],"non_preferred_output":[%s]}`, turn("user", pairs[2][0]), turn("assistant", pairs[2][1]), turn("assistant", "Because it is.")),
	), want: []at{}},
	{name: "multimodal", content: file(
		`{"messages":[{"role":"user","content":[{"type":"text","text":"What bird is this?"},{"type":"image_url","image_url":{"url":"` + img + `"}}]},{"role":"assistant","content":[{"type":"text","text":"A robin."}]}]}`,
	), want: []at{}},
	{name: "CRLF line ends and no final newline", content: chat(0) + "\r\n" + chat(1), want: []at{}},
	{name: "openai chat", provider: "openai", content: file(append(chats(9),
		msgs(turn("developer", "Answer briefly."), turn("user", "What is the weather in Paris?"),
			`{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]}`,
			`{"role":"tool","tool_call_id":"call_1","content":"18 C, cloudy"}`,
			`{"role":"assistant","content":"Eighteen degrees and cloudy.","weight":1}`))...), want: []at{}},
	{name: "openai dpo", provider: "openai", method: dataset.MethodPreference, content: file(func() []string {
		var out []string
		for i := range 10 {
			out = append(out, fmt.Sprintf(`{"input":{"messages":[%s]},"preferred_output":[%s],"non_preferred_output":[%s]}`,
				turn("user", pairs[i][0]), turn("assistant", pairs[i][1]), turn("assistant", "No idea, sorry, number "+fmt.Sprint(i))))
		}
		return out
	}()...), want: []at{}},

	// The training method.
	{name: "a preference file for a supervised job", content: file(preference(2), preference(3)), want: []at{{1, dataset.RuleMethodFormat}}, message: "supervised fine-tuning (SFT)"},
	{name: "a preference file for a supervised openai job", provider: "openai", method: dataset.MethodSFT, content: file(func() []string {
		var out []string
		for i := range 10 {
			out = append(out, preference(i))
		}
		return out
	}()...), want: []at{{1, dataset.RuleMethodFormat}}},
	{name: "a conversation file for a preference job", method: dataset.MethodPreference, content: file(chats(2)...), want: []at{{1, dataset.RuleMethodFormat}}, message: "trains on preferences"},

	// File rules.
	{name: "extension", content: file(chat(0)), want: []at{{0, dataset.RuleFileExtension}}}, // named train.json by TestCheckRules
	{name: "empty file", content: "", want: []at{{0, dataset.RuleFileEmpty}}},
	{name: "too few examples for openai", provider: "openai", content: file(chats(3)...), want: []at{{0, dataset.RuleExamplesMin}}, message: "3 example(s); openai needs at least 10"},
	{name: "only blank lines", content: "\n", want: []at{{0, dataset.RuleExamplesMin}, {1, dataset.RuleLineEmpty}}},

	// Line rules.
	{name: "invalid UTF-8", content: file(chat(0), "{\"text\": \"caf\xe9\"}"), want: []at{{2, dataset.RuleUTF8}}, message: "character 14"},
	{name: "byte order mark", content: "\xEF\xBB\xBF" + file(chats(2)...), want: []at{{1, dataset.RuleBOM}}},
	{name: "empty line in the middle", content: file(chat(0), "", chat(1)), want: []at{{2, dataset.RuleLineEmpty}}},
	{name: "white space line", content: file(chat(0), " \t", chat(1)), want: []at{{2, dataset.RuleLineEmpty}}},
	{name: "blank line at the end", content: file(chat(0)) + "\n", want: []at{{2, dataset.RuleLineEmpty}}},
	{name: "not JSON", content: file(chat(0), `{"messages": [`), want: []at{{2, dataset.RuleLineJSON}}},
	{name: "two objects on a line", content: file(chat(0), chat(1)+" "+chat(2)), want: []at{{2, dataset.RuleLineJSON}}},
	{name: "JSON list", content: file(`[1, 2]`), want: []at{{0, dataset.RuleExamplesMin}, {1, dataset.RuleObject}}},
	{name: "JSON null", content: file(chat(0), `null`), want: []at{{2, dataset.RuleObject}}},
	{name: "JSON string", content: file(chat(0), `"hello"`), want: []at{{2, dataset.RuleObject}}},

	// Formats.
	{name: "unknown columns", content: file(`{"question":"q?","answer":"a."}`), want: []at{{1, dataset.RuleFormatUnknown}}},
	{name: "two formats on a line", content: file(`{"text":"t","prompt":"p","completion":"c"}`), want: []at{{1, dataset.RuleFormatAmbiguous}}},
	{name: "format changes", content: file(chat(0), `{"text":"Tides follow the moon."}`), want: []at{{2, dataset.RuleFormatMixed}}, message: "line 1 is conversation"},
	{name: "extra column", content: file(strings.TrimSuffix(chat(0), "}") + `,"id":7,"category":"garden"}`), want: []at{{1, dataset.RuleColumnsExtra}}, message: `remove "category", "id"`},
	{name: "openai allows tools", provider: "openai", content: file(append(chats(9), strings.TrimSuffix(chat(9), "}")+`,"tools":[],"parallel_tool_calls":false}`)...), want: []at{}},
	{name: "openai has no instruction format", provider: "openai", content: file(append(chats(10), `{"prompt":"p","completion":"c"}`)...), want: []at{{11, dataset.RuleFormatUnknown}}},

	// Messages.
	{name: "messages not a list", content: file(`{"messages":{"role":"user"}}`), want: []at{{1, dataset.RuleMessagesType}}},
	{name: "messages empty", content: file(`{"messages":[]}`), want: []at{{1, dataset.RuleMessagesEmpty}}},
	{name: "message not an object", content: file(msgs(`"hello"`, turn("assistant", "hi"))), want: []at{{1, dataset.RuleMessageType}}},
	{name: "message without content", content: file(msgs(`{"role":"user"}`, turn("assistant", "Hello."))), want: []at{{1, dataset.RuleMessageFields}}},
	{name: "message without role", content: file(msgs(`{"content":"Hello?"}`, turn("assistant", "Hello."))), want: []at{{1, dataset.RuleMessageFields}}},
	{name: "together ignores extra message keys", content: file(msgs(`{"role":"user","content":"Hello?","name":"sam"}`, turn("assistant", "Hello."))), want: []at{}},
	{name: "openai extra message key", provider: "openai", content: file(append(chats(9), msgs(`{"role":"user","content":"Hello?","timestamp":1}`, turn("assistant", "Hello.")))...), want: []at{{10, dataset.RuleMessageExtraKey}}},
	{name: "unknown role", content: file(msgs(turn("user", "Hello?"), turn("bot", "Hello."))), want: []at{{1, dataset.RuleRoleInvalid}, {1, dataset.RuleNoAssistant}}},
	{name: "role not a string", content: file(msgs(`{"role":1,"content":"Hello?"}`, turn("assistant", "Hello."))), want: []at{{1, dataset.RuleRoleInvalid}}},
	{name: "developer is not a together role", content: file(msgs(turn("developer", "Be brief."), turn("user", "Hello?"), turn("assistant", "Hello."))), want: []at{{1, dataset.RuleRoleInvalid}}},
	{name: "tool is an openai role", provider: "openai", content: file(append(chats(9), msgs(turn("user", "Time?"), turn("tool", "12:00"), turn("assistant", "Noon.")))...), want: []at{}},
	{name: "two user turns in a row", content: file(msgs(turn("user", "Hello?"), turn("user", "Anyone?"), turn("assistant", "Here."))), want: []at{{1, dataset.RuleRolesAlternate}}},
	{name: "two system turns in a row", content: file(msgs(turn("system", "A."), turn("system", "B."), turn("user", "Hello?"), turn("assistant", "Here."))), want: []at{{1, dataset.RuleRolesAlternate}}},
	{name: "openai allows repeated roles", provider: "openai", content: file(append(chats(9), msgs(turn("user", "Hello?"), turn("user", "Anyone?"), turn("assistant", "Here.")))...), want: []at{}},
	{name: "no assistant turn", content: file(msgs(turn("system", system), turn("user", "Hello?"))), want: []at{{1, dataset.RuleNoAssistant}}},
	{name: "weight 2", content: file(msgs(turn("user", "Hello?"), `{"role":"assistant","content":"Hi.","weight":2}`)), want: []at{{1, dataset.RuleWeightInvalid}}},
	{name: "weight 1.0", content: file(msgs(turn("user", "Hello?"), `{"role":"assistant","content":"Hi.","weight":1.0}`)), want: []at{{1, dataset.RuleWeightInvalid}}},
	{name: "weight true", content: file(msgs(turn("user", "Hello?"), `{"role":"assistant","content":"Hi.","weight":true}`)), want: []at{{1, dataset.RuleWeightInvalid}}},
	{name: "weight as a string", content: file(msgs(turn("user", "Hello?"), `{"role":"assistant","content":"Hi.","weight":"1"}`)), want: []at{{1, dataset.RuleWeightInvalid}}},
	{name: "together allows weight on user", content: file(msgs(`{"role":"user","content":"Hello?","weight":0}`, turn("assistant", "Hi."))), want: []at{}},
	{name: "openai weight on user", provider: "openai", content: file(append(chats(9), msgs(`{"role":"user","content":"Hello?","weight":0}`, turn("assistant", "Hi.")))...), want: []at{{10, dataset.RuleWeightRole}}},
	{name: "all weights 0", content: file(msgs(turn("user", "Hello?"), `{"role":"assistant","content":"Hi.","weight":0}`)), want: []at{{1, dataset.RuleWeightUntrained}}},

	// Content.
	{name: "content a number", content: file(msgs(turn("user", "Six times seven?"), `{"role":"assistant","content":42}`)), want: []at{{1, dataset.RuleContentType}}},
	{name: "content null", content: file(msgs(turn("user", "Hello?"), `{"role":"assistant","content":null}`)), want: []at{{1, dataset.RuleContentType}}},
	{name: "openai content null with a tool call", provider: "openai", content: file(append(chats(9), msgs(turn("user", "Weather?"), `{"role":"assistant","content":null,"function_call":{"name":"w","arguments":"{}"}}`, turn("function", "sunny"), turn("assistant", "Sunny.")))...), want: []at{}},
	{name: "content empty", content: file(msgs(turn("user", "Hello?"), turn("assistant", ""))), want: []at{{1, dataset.RuleContentEmpty}}},
	{name: "content blank", content: file(msgs(turn("user", " \n"), turn("assistant", "Hi."))), want: []at{{1, dataset.RuleContentEmpty}}},
	{name: "content parts without text", content: file(`{"messages":[{"role":"user","content":[{"type":"text","text":" "}]},{"role":"assistant","content":[{"type":"text","text":"Hi."}]}]}`), want: []at{{1, dataset.RuleContentEmpty}}},
	{name: "content part of unknown type", content: file(`{"messages":[{"role":"user","content":[{"type":"audio","audio":"x"}]},{"role":"assistant","content":[{"type":"text","text":"Hi."}]}]}`), want: []at{{1, dataset.RuleContentType}, {1, dataset.RuleContentEmpty}}},
	{name: "text part without text", content: file(`{"messages":[{"role":"user","content":[{"type":"text"}]},{"role":"assistant","content":[{"type":"text","text":"Hi."}]}]}`), want: []at{{1, dataset.RuleContentType}, {1, dataset.RuleContentEmpty}}},
	{name: "image from the assistant", content: file(`{"messages":[{"role":"user","content":[{"type":"text","text":"Draw a cat."}]},{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"` + img + `"}}]}]}`), want: []at{{1, dataset.RuleContentImage}}},
	{name: "image by URL on together", content: file(`{"messages":[{"role":"user","content":[{"type":"text","text":"What is it?"},{"type":"image_url","image_url":{"url":"https://example.com/cat.png"}}]},{"role":"assistant","content":[{"type":"text","text":"A cat."}]}]}`), want: []at{{1, dataset.RuleContentImage}}},
	{name: "image without url", content: file(`{"messages":[{"role":"user","content":[{"type":"text","text":"What is it?"},{"type":"image_url","image_url":{}}]},{"role":"assistant","content":[{"type":"text","text":"A cat."}]}]}`), want: []at{{1, dataset.RuleContentImage}}},
	{name: "eleven images", content: file(`{"messages":[{"role":"user","content":[{"type":"text","text":"Which?"}` + strings.Repeat(`,{"type":"image_url","image_url":{"url":"`+img+`"}}`, 11) + `]},{"role":"assistant","content":[{"type":"text","text":"The fourth."}]}]}`), want: []at{{1, dataset.RuleContentImages}}},
	{name: "image with weight 1", content: file(`{"messages":[{"role":"user","weight":1,"content":[{"type":"text","text":"What is it?"},{"type":"image_url","image_url":{"url":"` + img + `"}}]},{"role":"assistant","content":[{"type":"text","text":"A cat."}]}]}`), want: []at{{1, dataset.RuleWeightImage}}},
	{name: "string and list contents mixed", content: file(`{"messages":[{"role":"user","content":[{"type":"text","text":"What is it?"}]},{"role":"assistant","content":"A cat."}]}`), want: []at{{1, dataset.RuleContentMixed}}},
	{name: "instruction completion not a string", content: file(`{"prompt":"Six times seven?","completion":42}`), want: []at{{1, dataset.RuleContentType}}},
	{name: "instruction prompt empty", content: file(`{"prompt":"","completion":"Forty-two."}`), want: []at{{1, dataset.RuleContentEmpty}}},

	// Preference.
	{name: "preference input a string", method: dataset.MethodPreference, content: file(`{"input":"Hello?","preferred_output":[{"role":"assistant","content":"Hi!"}],"non_preferred_output":[{"role":"assistant","content":"What."}]}`), want: []at{{1, dataset.RulePreferenceInput}}},
	{name: "preference input without messages", method: dataset.MethodPreference, content: file(`{"input":{"prompt":"Hello?"},"preferred_output":[{"role":"assistant","content":"Hi!"}],"non_preferred_output":[{"role":"assistant","content":"What."}]}`), want: []at{{1, dataset.RulePreferenceInput}}},
	{name: "preference input ends with the assistant", method: dataset.MethodPreference, content: file(`{"input":{"messages":[{"role":"user","content":"Hello?"},{"role":"assistant","content":"Hi!"}]},"preferred_output":[{"role":"assistant","content":"Hi again!"}],"non_preferred_output":[{"role":"assistant","content":"What."}]}`), want: []at{{1, dataset.RulePreferenceLastTurn}}},
	{name: "preference two outputs", method: dataset.MethodPreference, content: file(`{"input":{"messages":[{"role":"user","content":"Hello?"}]},"preferred_output":[{"role":"assistant","content":"Hi!"},{"role":"assistant","content":"Hey!"}],"non_preferred_output":[{"role":"assistant","content":"What."}]}`), want: []at{{1, dataset.RulePreferenceOutput}}},
	{name: "preference output from the user", method: dataset.MethodPreference, content: file(`{"input":{"messages":[{"role":"user","content":"Hello?"}]},"preferred_output":[{"role":"user","content":"Hi!"}],"non_preferred_output":[{"role":"assistant","content":"What."}]}`), want: []at{{1, dataset.RulePreferenceOutput}}},
	{name: "preference output not a list", method: dataset.MethodPreference, content: file(`{"input":{"messages":[{"role":"user","content":"Hello?"}]},"preferred_output":{"role":"assistant","content":"Hi!"},"non_preferred_output":[{"role":"assistant","content":"What."}]}`), want: []at{{1, dataset.RulePreferenceOutput}}},
	{name: "preference output without content", method: dataset.MethodPreference, content: file(`{"input":{"messages":[{"role":"user","content":"Hello?"}]},"preferred_output":[{"role":"assistant"}],"non_preferred_output":[{"role":"assistant","content":"What."}]}`), want: []at{{1, dataset.RulePreferenceOutput}}},

	// Preference (DPO) files: the order of the input's roles, one
	// assistant message a side, keys, identical sides, a mixed file.
	{name: "preference with a system prompt", method: dataset.MethodPreference, content: file(
		pref([]string{turn("system", system), turn("user", pairs[0][0]), turn("assistant", pairs[0][1]), turn("user", pairs[1][0])}, pairs[1][1], "Whatever."),
	), want: []at{}},
	{name: "preference system prompt not first", method: dataset.MethodPreference, content: file(
		preference(0), pref([]string{turn("user", pairs[1][0]), turn("system", system), turn("user", pairs[2][0])}, pairs[2][1], "Whatever."), preference(3),
	), want: []at{{2, dataset.RulePreferenceRoles}}, message: "only the first message of the input may be the system prompt"},
	{name: "preference input starts with the assistant", method: dataset.MethodPreference, content: file(
		preference(0), preference(1), pref([]string{turn("system", system), turn("assistant", "Hello there."), turn("user", pairs[2][0])}, pairs[2][1], "Whatever."),
	), want: []at{{3, dataset.RulePreferenceRoles}}, message: "before any user message"},
	{name: "preference two user turns in a row, openai", provider: "openai", method: dataset.MethodPreference, content: file(prefFile(10, 4,
		pref([]string{turn("user", pairs[4][0]), turn("user", pairs[5][0])}, pairs[4][1], "Whatever."))...,
	), want: []at{{4, dataset.RulePreferenceRoles}}, message: `a second "user" message in a row`},
	{name: "preference two user turns in a row, together reports it once", method: dataset.MethodPreference, content: file(
		preference(0), pref([]string{turn("user", pairs[4][0]), turn("user", pairs[5][0])}, pairs[4][1], "Whatever."),
	), want: []at{{2, dataset.RuleRolesAlternate}}},
	{name: "preference tool message in the input, openai", provider: "openai", method: dataset.MethodPreference, content: file(prefFile(10, 7,
		pref([]string{turn("user", pairs[7][0]), `{"role":"tool","tool_call_id":"call_1","content":"18 C"}`, turn("user", pairs[8][0])}, pairs[7][1], "Whatever."))...,
	), want: []at{{7, dataset.RulePreferenceRoles}, {7, dataset.RulePreferenceRoles}}, message: `the role "tool"`}, // and the user's turn after it is a second in a row
	{name: "preference input of a system prompt alone", method: dataset.MethodPreference, content: file(
		pref([]string{turn("system", system)}, pairs[0][1], "Whatever."), preference(1),
	), want: []at{{1, dataset.RulePreferenceLastTurn}}, message: `is a "system" message`},
	{name: "preference input with tools, together", method: dataset.MethodPreference, content: file(
		preference(0), `{"input":{"messages":[`+turn("user", pairs[1][0])+`],"tools":[]},"preferred_output":[`+turn("assistant", pairs[1][1])+`],"non_preferred_output":[`+turn("assistant", "Whatever.")+`]}`,
	), want: []at{{2, dataset.RulePreferenceExtraKey}}, message: `input has "tools"`},
	{name: "preference input with tools, openai", provider: "openai", method: dataset.MethodPreference, content: file(prefFile(10, 2,
		`{"input":{"messages":[`+turn("user", pairs[1][0])+`],"tools":[],"parallel_tool_calls":false},"preferred_output":[`+turn("assistant", pairs[1][1])+`],"non_preferred_output":[`+turn("assistant", "Whatever.")+`]}`)...,
	), want: []at{}},
	{name: "preference output with a weight", method: dataset.MethodPreference, content: file(
		preference(0), preference(1), `{"input":{"messages":[`+turn("user", pairs[2][0])+`]},"preferred_output":[{"role":"assistant","content":"Fine.","weight":1}],"non_preferred_output":[`+turn("assistant", "Whatever.")+`]}`,
	), want: []at{{3, dataset.RulePreferenceExtraKey}}, message: `preferred_output[0] has "weight"`},
	{name: "preference identical sides", method: dataset.MethodPreference, content: file(
		preference(0), pref([]string{turn("user", pairs[1][0])}, pairs[1][1], pairs[1][1]), preference(2), pref([]string{turn("user", pairs[3][0])}, pairs[3][1], " "+pairs[3][1]+"\n"),
	), want: []at{{2, dataset.RulePreferenceIdentical}, {4, dataset.RulePreferenceIdentical}}},
	{name: "preference identical sides, openai", provider: "openai", method: dataset.MethodPreference, content: file(prefFile(10, 9,
		pref([]string{turn("user", pairs[9][0])}, pairs[9][1], pairs[9][1]))...,
	), want: []at{{9, dataset.RulePreferenceIdentical}}},
	{name: "preference nearly identical sides", method: dataset.MethodPreference, content: file(
		preference(0), pref([]string{turn("user", pairs[1][0])}, longAnswer+" Kind regards.", longAnswer+" Best wishes."),
	), want: []at{{2, dataset.RulePreferenceNearIdentical}}},
	{name: "preference empty rejected side", method: dataset.MethodPreference, content: file(
		preference(0), pref([]string{turn("user", pairs[1][0])}, pairs[1][1], "  "),
	), want: []at{{2, dataset.RuleContentEmpty}}},
	{name: "preference file with a conversation line", method: dataset.MethodPreference, content: file(
		preference(0), preference(1), chat(2), preference(3), chat(4),
	), want: []at{{3, dataset.RuleFormatMixed}, {5, dataset.RuleFormatMixed}}, message: "conversation format, but line 1 is preference"},
	{name: "conversation file with a preference line", content: file(
		chat(0), preference(1), chat(2),
	), want: []at{{2, dataset.RuleFormatMixed}}, message: "preference format, but line 1 is conversation"},

	// Token limits: about 4 bytes a token; Together trains on examples of
	// up to 131,072 tokens, OpenAI up to 65,536.
	{name: "example over together's token limit", content: file(msgs(turn("user", strings.Repeat("Tides rise. ", 48000)), turn("assistant", pairs[0][1]))), want: []at{{1, dataset.RuleExampleTooLong}}, message: "together trains on at most 131072 tokens"},
	{name: "a 120k-token example fits together", content: file(msgs(turn("user", strings.Repeat("Tides rise. ", 40000)), turn("assistant", pairs[0][1]))), want: []at{}},
	{name: "the same example is over openai's limit", provider: "openai", content: file(append(chats(9), msgs(turn("user", strings.Repeat("Tides rise. ", 40000)), turn("assistant", pairs[0][1])))...), want: []at{{10, dataset.RuleExampleTooLong}}, message: "openai trains on at most 65536 tokens"},
	{name: "a preference example is as long as its longer output", provider: "openai", method: dataset.MethodPreference, content: file(func() []string {
		out := []string{fmt.Sprintf(`{"input":{"messages":[%s]},"preferred_output":[%s],"non_preferred_output":[%s]}`,
			turn("user", strings.Repeat("Tides rise. ", 17500)), turn("assistant", strings.Repeat("Seas fall. ", 3000)), turn("assistant", strings.Repeat("Moon pulls. ", 3000)))}
		for i := range 9 {
			out = append(out, fmt.Sprintf(`{"input":{"messages":[%s]},"preferred_output":[%s],"non_preferred_output":[%s]}`,
				turn("user", pairs[i][0]), turn("assistant", pairs[i][1]), turn("assistant", "No idea, sorry, number "+fmt.Sprint(i))))
		}
		return out
	}()...), want: []at{}},

	// ethos's warnings.
	{name: "square placeholder", content: file(msgs(turn("user", "Dear [Your Name], how do I ask for a raise?"), turn("assistant", pairs[4][1]))), want: []at{{1, dataset.RulePlaceholder}}, message: `messages[0] (user): unfilled slot "[Your Name]"`},
	{name: "template variable", content: file(msgs(turn("user", "Hi {{customer_name}}, your order shipped."), turn("assistant", pairs[4][1]))), want: []at{{1, dataset.RulePlaceholder}}},
	{name: "short template variable", content: file(msgs(turn("user", pairs[0][0]), turn("assistant", "Plant {{x}} in the shade."))), want: []at{{1, dataset.RulePlaceholder}}, message: `"{{x}}"`},
	{name: "lower-case slot in a user turn", content: file(msgs(turn("user", "I owe {amount} to the landlord by {date}. Should I pay it all now?"), turn("assistant", pairs[4][1]))), want: []at{{1, dataset.RulePlaceholder}}, message: `messages[0] (user): unfilled slot "{amount}"`},
	{name: "lower-case slot in a reply", content: file(msgs(turn("user", pairs[0][0]), turn("assistant", "Water it on {date} and again a week later."))), want: []at{{1, dataset.RulePlaceholder}}},
	{name: "braces in code and JSON are fine", content: file(msgs(turn("user", "My export prints `{date}` and this line:\n{\"due\": \"{date}\", \"sum\": \"{amount}\"}\nWhy is it not filled in?"), turn("assistant", "Your template is read before the values are set:\n```\nmsg = f\"due {date}\"\n```\nSet date first."))), want: []at{}},
	{name: "TODO marker", content: file(msgs(turn("user", pairs[0][0]), turn("assistant", "TODO: write the answer about shade."))), want: []at{{1, dataset.RulePlaceholder}}},
	{name: "lorem ipsum", content: file(msgs(turn("user", "Lorem ipsum dolor sit amet?"), turn("assistant", pairs[0][1]))), want: []at{{1, dataset.RulePlaceholder}}},
	{name: "placeholder in the system prompt", content: file(msgs(turn("system", "You are {{assistant_name}}."), turn("user", pairs[0][0]), turn("assistant", pairs[0][1]))), want: []at{{1, dataset.RulePlaceholder}}},
	{name: "template syntax in code is fine", content: file(msgs(turn("user", "Why does this fail?\n```\n{{ user.name }}\n```"), turn("assistant", "The template expects a `{{name}}` variable and `TODO` notes in code are fine."))), want: []at{}},
	{name: "wrapper error text", content: file(msgs(turn("user", pairs[0][0]), turn("assistant", "[ERROR: rate limit exceeded]"))), want: []at{{1, dataset.RuleErrorText}}},
	{name: "apologetic error text", content: file(msgs(turn("user", pairs[0][0]), turn("assistant", "I'm sorry, but an error occurred while generating a response."))), want: []at{{1, dataset.RuleErrorText}}},
	{name: "error opening", content: file(msgs(turn("user", pairs[0][0]), turn("assistant", "Error: connection reset by peer"))), want: []at{{1, dataset.RuleErrorText}}},
	{name: "JSON error body", content: file(msgs(turn("user", pairs[0][0]), turn("assistant", `{"error": {"message": "Overloaded", "type": "overloaded_error"}}`))), want: []at{{1, dataset.RuleErrorText}}},
	{name: "HTTP status line", content: file(msgs(turn("user", pairs[0][0]), turn("assistant", "HTTP/1.1 503 Service Unavailable"))), want: []at{{1, dataset.RuleErrorText}}},
	{name: "an error discussed in a long document is content", content: file(msgs(turn("user", "Our checkout page has been flaky all week and I am not sure where to start. "+strings.Repeat("Customers describe slow loads and timeouts on the payment step. ", 4)+"Yesterday the log said an error occurred in the payment service, and a few orders were lost. What should I look at first?"), turn("assistant", pairs[10][1]))), want: []at{}},
	{name: "model self-reference", content: file(msgs(turn("user", pairs[0][0]), turn("assistant", "As an AI language model, I have no garden."))), want: []at{{1, dataset.RulePersonaBreak}}},
	{name: "refusal", content: file(msgs(turn("user", pairs[0][0]), turn("assistant", "I'm sorry, but I can't help with that."))), want: []at{{1, dataset.RuleRefusal}}},
	{name: "reply chatter", content: file(msgs(turn("user", pairs[0][0]), turn("assistant", "Sure! Here's my response:\n"+pairs[0][1]))), want: []at{{1, dataset.RuleChatter}}},
	{name: "document chatter", content: file(msgs(turn("user", "Here is the document you requested:\nQuarterly memo. Can you summarise it?"), turn("assistant", pairs[0][1]))), want: []at{{1, dataset.RuleChatter}}},
	{name: "rejected answers may refuse", method: dataset.MethodPreference, content: file(`{"input":{"messages":[{"role":"user","content":"Plan my party?"}]},"preferred_output":[{"role":"assistant","content":"Gladly: who is coming?"}],"non_preferred_output":[{"role":"assistant","content":"I can't help with that."}]}`), want: []at{}},
	{name: "exact duplicate", content: file(chat(0), chat(1), chat(0)), want: []at{{3, dataset.RuleDuplicate}}, message: "line 1"},
	{name: "duplicate with other spacing and key order", content: file(chat(0), `{ "messages" : [ {"content":"`+system+`","role":"system"}, {"content":"`+pairs[0][0]+`","role":"user"}, {"content":"`+pairs[0][1]+`","role":"assistant"} ] }`), want: []at{{2, dataset.RuleDuplicate}}},
	{name: "same texts with another weight are not copies", content: file(chat(0), msgs(turn("system", system), turn("user", pairs[0][0]), `{"role":"assistant","content":"`+pairs[0][1]+`","weight":1}`)), want: []at{{2, dataset.RuleNearDuplicate}}},
	{name: "near duplicate", content: file(
		msgs(turn("user", "Our team of five keeps missing sprint deadlines because estimates are made by one person, reviews pile up at the end, and nobody owns the release checklist. What would you change first, and how would you bring the team along?"), turn("assistant", pairs[10][1])),
		msgs(turn("user", "Our team of six keeps missing sprint deadlines because estimates are made by one person, reviews pile up at the end, and nobody owns the release checklist. What would you change first, and how would you bring the team along?"), turn("assistant", pairs[10][1])),
	), want: []at{{2, dataset.RuleNearDuplicate}}, message: "line 1"},
	{name: "the shared system prompt does not make examples alike", content: file(
		msgs(turn("system", strings.Repeat("You are Agora, collaborative, inquisitive, cautious and ethical, encouraging and thorough. ", 10)), turn("user", "Hi?"), turn("assistant", "Hello.")),
		msgs(turn("system", strings.Repeat("You are Agora, collaborative, inquisitive, cautious and ethical, encouraging and thorough. ", 10)), turn("user", "Why?"), turn("assistant", "Because.")),
	), want: []at{}},
}

func TestCheckRules(t *testing.T) {
	t.Parallel()
	for _, tc := range checkCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := "train.jsonl"
			if tc.name == "extension" {
				name = "train.json"
			}
			rep, err := dataset.Check(t.Context(), strings.NewReader(tc.content), name, dataset.Options{Provider: tc.provider, Method: tc.method})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, problems(rep)); diff != "" {
				t.Errorf("problems (-want +got):\n%s\n%s", diff, messages(rep))
			}
			if tc.message != "" && (len(rep.Problems) == 0 || !strings.Contains(rep.Problems[0].Message, tc.message)) {
				t.Errorf("first message does not contain %q:\n%s", tc.message, messages(rep))
			}
		})
	}
}

// TestEveryRuleIsTested fails when a rule has no case in TestCheckRules
// or the golden file, so a new rule cannot go untested.
func TestEveryRuleIsTested(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, tc := range checkCases {
		for _, w := range tc.want {
			seen[w.Rule] = true
		}
	}
	for _, r := range dataset.Rules {
		if !seen[r.ID] && r.ID != dataset.RuleFileTooLarge { // too large: TestCheckFileTooLarge
			t.Errorf("rule %s has no case in TestCheckRules", r.ID)
		}
	}
}

func messages(rep *dataset.Report) string {
	var b strings.Builder
	for _, p := range rep.Problems {
		fmt.Fprintf(&b, "  %d %s: %s\n", p.Line, p.Rule, p.Message)
	}
	return b.String()
}

func TestCheckSummaries(t *testing.T) {
	t.Parallel()
	rep := checkString(t, file(chat(0), "", chat(0), "[1]"), "sandbox")
	want := &dataset.Report{
		Path: "train.jsonl", Provider: "sandbox", Format: "conversation", Examples: 2, Lines: 4,
		Counts: map[string]int{dataset.RuleLineEmpty: 1, dataset.RuleDuplicate: 1, dataset.RuleObject: 1},
	}
	if diff := cmp.Diff(want, rep, cmpIgnoreProblems); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
	if rep.Errors() != 2 || rep.Warnings() != 1 {
		t.Errorf("Errors %d Warnings %d, want 2 and 1", rep.Errors(), rep.Warnings())
	}
	// A report built by hand, without counts, counts its problems.
	manual := &dataset.Report{Problems: []dataset.Problem{{Severity: "error"}, {Severity: "warning"}, {Severity: "error"}}}
	if manual.Errors() != 2 || manual.Warnings() != 1 {
		t.Errorf("hand-made report: Errors %d Warnings %d", manual.Errors(), manual.Warnings())
	}
}

var cmpIgnoreProblems = cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Problems" }, cmp.Ignore())

func TestCheckListsAtMostMaxListedPerRule(t *testing.T) {
	t.Parallel()
	lines := []string{chat(0)}
	for range dataset.MaxListed + 50 {
		lines = append(lines, "oops")
	}
	rep := checkString(t, file(lines...), "together")
	if len(rep.Problems) != dataset.MaxListed || rep.Omitted != 50 || rep.Counts[dataset.RuleLineJSON] != dataset.MaxListed+50 {
		t.Fatalf("%d listed, %d omitted, counts %v", len(rep.Problems), rep.Omitted, rep.Counts)
	}
	if rep.Errors() != dataset.MaxListed+50 {
		t.Fatalf("Errors() = %d, want every error counted", rep.Errors())
	}
}

func TestCheckValidationFileHasNoMinimum(t *testing.T) {
	t.Parallel()
	rep, err := dataset.Check(t.Context(), strings.NewReader(file(chats(2)...)), "val.jsonl", dataset.Options{Provider: "openai", Validation: true})
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("%v %+v", err, rep.Problems)
	}
}

func TestCheckFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "train.jsonl")
	if err := os.WriteFile(path, []byte(file(chats(3)...)), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := dataset.CheckFile(t.Context(), path, "together")
	if err != nil || rep.Errors() != 0 || rep.Examples != 3 || rep.Path != path {
		t.Fatalf("%v %+v", err, rep)
	}
	if _, err := dataset.CheckFile(t.Context(), filepath.Join(dir, "missing.jsonl"), "together"); ethos.KindOf(err) != ethos.NotFound || !strings.Contains(err.Error(), "missing.jsonl: no such file") {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := dataset.CheckFile(t.Context(), dir, "together"); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Fatalf("directory: %v", err)
	}
	if _, err := dataset.CheckFileWith(t.Context(), path, dataset.Options{Method: "rlhf"}); ethos.KindOf(err) != ethos.Config {
		t.Errorf("unknown method: %v, want a Config error", err)
	}
	if _, err := dataset.CheckFile(t.Context(), path, "fireworks"); ethos.KindOf(err) != ethos.Config {
		t.Fatalf("unknown provider: %v", err)
	}
}

// TestCheckFileAuto: MethodAuto checks preference pairs as a DPO job
// takes them and anything else as SFT, so neither is refused for its
// format; MethodForTraining maps ethos's training methods onto the check's.
func TestCheckFileAuto(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, lines := range map[string][]string{"chats.jsonl": chats(12), "pairs.jsonl": prefFile(12, 1, preference(0))} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(file(lines...)), 0o644); err != nil {
			t.Fatal(err)
		}
		rep, err := dataset.CheckFileWith(t.Context(), path, dataset.Options{Provider: "openai", Method: dataset.MethodAuto})
		if err != nil || rep.Errors() != 0 {
			t.Errorf("%s checked as auto: %v, %d error(s): %s", name, err, rep.Errors(), messages(rep))
		}
		strict, err := dataset.CheckFileWith(t.Context(), path, dataset.Options{Provider: "openai", Method: dataset.MethodPreference})
		if want := name == "chats.jsonl"; err != nil || (strict.Errors() > 0) != want {
			t.Errorf("%s checked as preference: %v, %d error(s); want errors: %v", name, err, strict.Errors(), want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{ethos.FineTuneSFT, dataset.MethodSFT}, {ethos.FineTuneDPO, dataset.MethodPreference}, {"auto", dataset.MethodAuto}, {"rlhf", ""},
	} {
		if got, ok := dataset.MethodForTraining(tc.in); got != tc.want || ok != (tc.want != "") {
			t.Errorf("MethodForTraining(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

// TestReportJSON pins the JSON field names the dashboard and scripts read.
func TestReportJSON(t *testing.T) {
	t.Parallel()
	rep := checkString(t, file(chat(0), "x"), "together")
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	json.Unmarshal(b, &got)
	for _, key := range []string{"path", "provider", "format", "examples", "lines", "problems", "counts"} {
		if _, ok := got[key]; !ok {
			t.Errorf("report JSON lacks %q: %s", key, b)
		}
	}
	p := got["problems"].([]any)[0].(map[string]any)
	if diff := cmp.Diff(map[string]any{"line": 2.0, "rule": "line.json", "severity": "error", "message": p["message"]}, p); diff != "" {
		t.Error(diff)
	}
}

// TestCheckAcrossBatches covers files longer than the batch the content
// review works on: findings keep their line order and duplicates are
// found across batches.
func TestCheckAcrossBatches(t *testing.T) {
	t.Parallel()
	lines := numbered(700)
	for _, i := range []int{254, 255, 256, 257, 511, 512} {
		lines[i] = strings.Replace(lines[i], "question", "Dear [Your Name], question", 1)
	}
	lines = append(lines, lines[0])
	rep := checkString(t, file(lines...), "together")
	want := []at{{255, dataset.RulePlaceholder}, {256, dataset.RulePlaceholder}, {257, dataset.RulePlaceholder}, {258, dataset.RulePlaceholder},
		{512, dataset.RulePlaceholder}, {513, dataset.RulePlaceholder}, {701, dataset.RuleDuplicate}}
	if diff := cmp.Diff(want, problems(rep)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if rep.Examples != 701 {
		t.Errorf("%d examples", rep.Examples)
	}
}

// TestCheckLongLines reads lines longer than the reader's buffer, with
// CRLF endings, and keeps counting lines right.
func TestCheckLongLines(t *testing.T) {
	t.Parallel()
	long := msgs(turn("user", pairs[0][0]+strings.Repeat(" and more", 30000)), turn("assistant", pairs[0][1]))
	rep := checkString(t, long+"\r\n"+long[:70000]+"\r\n"+chat(1)+"\r\n", "together")
	if diff := cmp.Diff([]at{{2, dataset.RuleLineJSON}}, problems(rep)); diff != "" || rep.Examples != 2 || rep.Lines != 3 {
		t.Errorf("%d examples, %d lines, problems (-want +got):\n%s", rep.Examples, rep.Lines, diff)
	}
}

func TestCheckStopsWhenCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := dataset.Check(ctx, strings.NewReader(file(chats(3)...)), "", dataset.Options{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if _, err := dataset.ReadStats(ctx, strings.NewReader(file(chats(3)...))); !errors.Is(err, context.Canceled) {
		t.Fatalf("stats: err = %v, want context.Canceled", err)
	}
}
