package dataset

import "strings"

// Rule describes one kind of problem Check reports.
type Rule struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	// Providers names the providers whose checks report it; empty means
	// every provider.
	Providers []string `json:"providers,omitempty"`
	Summary   string   `json:"summary"`
}

// Rule IDs. They are stable: scripts and the dashboard match on them.
const (
	RuleFileExtension  = "file.extension"
	RuleFileEmpty      = "file.empty"
	RuleFileTooLarge   = "file.too_large"
	RuleExamplesMin    = "examples.min"
	RuleExampleTooLong = "example.too_long"

	RuleUTF8      = "encoding.utf8"
	RuleBOM       = "encoding.bom"
	RuleLineEmpty = "line.empty"
	RuleLineJSON  = "line.json"
	RuleObject    = "line.object"

	RuleFormatUnknown   = "format.unknown"
	RuleFormatAmbiguous = "format.ambiguous"
	RuleFormatMixed     = "format.mixed"
	RuleColumnsExtra    = "columns.extra"
	RuleMethodFormat    = "method.format"

	RuleMessagesType    = "messages.type"
	RuleMessagesEmpty   = "messages.empty"
	RuleMessageType     = "message.type"
	RuleMessageFields   = "message.fields"
	RuleMessageExtraKey = "message.extra_key"
	RuleRoleInvalid     = "role.invalid"
	RuleRolesAlternate  = "roles.alternate"
	RuleNoAssistant     = "roles.no_assistant"
	RuleWeightInvalid   = "weight.invalid"
	RuleWeightRole      = "weight.role"
	RuleWeightImage     = "weight.image"
	RuleContentType     = "content.type"
	RuleContentEmpty    = "content.empty"
	RuleContentImage    = "content.image"
	RuleContentImages   = "content.images"
	RuleContentMixed    = "content.mixed"

	RulePreferenceInput     = "preference.input"
	RulePreferenceLastTurn  = "preference.last_turn"
	RulePreferenceOutput    = "preference.output"
	RulePreferenceRoles     = "preference.roles"
	RulePreferenceExtraKey  = "preference.extra_key"
	RulePreferenceIdentical = "preference.identical"

	RuleWeightUntrained = "weight.untrained"
	RulePlaceholder     = "quality.placeholder"
	RuleErrorText       = "quality.error_text"
	RulePersonaBreak    = "quality.persona_break"
	RuleRefusal         = "quality.refusal"
	RuleChatter         = "quality.chatter"
	RuleDuplicate       = "duplicate.exact"
	RuleNearDuplicate   = "duplicate.near"

	RulePreferenceNearIdentical = "preference.near_identical"
)

var (
	onlyTogether = []string{"together"}
	onlyOpenAI   = []string{"openai"}
)

// Rules lists every rule Check applies, errors first.
var Rules = []Rule{
	{RuleFileExtension, SeverityError, nil, "the file name must end in .jsonl"},
	{RuleFileEmpty, SeverityError, nil, "the file is empty"},
	{RuleFileTooLarge, SeverityError, nil, "the file is larger than the provider accepts (Together: 50.1 GiB), or than ethos reads of any file (the same)"},
	{RuleExamplesMin, SeverityError, nil, "fewer examples than the provider's minimum (Together 1; OpenAI 10 in a training file)"},
	{RuleExampleTooLong, SeverityError, nil, "an example longer than the provider trains on (Together 131,072 tokens, OpenAI 65,536; estimated at 4 bytes a token)"},
	{RuleUTF8, SeverityError, nil, "the line is not valid UTF-8"},
	{RuleBOM, SeverityError, nil, "the file starts with a UTF-8 byte order mark, which JSON parsers reject"},
	{RuleLineEmpty, SeverityError, nil, "an empty line; every line must be one JSON object"},
	{RuleLineJSON, SeverityError, nil, "the line is not valid JSON"},
	{RuleObject, SeverityError, nil, "the line is JSON but not an object"},
	{RuleFormatUnknown, SeverityError, nil, "the line's columns match no format"},
	{RuleFormatAmbiguous, SeverityError, nil, "the line's columns match two formats"},
	{RuleFormatMixed, SeverityError, nil, "the line's format differs from the first line's"},
	{RuleColumnsExtra, SeverityError, nil, "the line has columns its format does not allow"},
	{RuleMethodFormat, SeverityError, nil, "the file's format does not fit the job's training method (a preference file for a supervised job)"},
	{RuleMessagesType, SeverityError, nil, "messages is not a list"},
	{RuleMessagesEmpty, SeverityError, nil, "messages is an empty list"},
	{RuleMessageType, SeverityError, nil, "a message is not an object"},
	{RuleMessageFields, SeverityError, nil, "a message lacks role or content"},
	{RuleMessageExtraKey, SeverityError, onlyOpenAI, "a message has a key OpenAI does not accept"},
	{RuleRoleInvalid, SeverityError, nil, "a role is not one the provider accepts"},
	{RuleRolesAlternate, SeverityError, onlyTogether, "the same role twice in a row"},
	{RuleNoAssistant, SeverityError, nil, "no assistant message to train on"},
	{RuleWeightInvalid, SeverityError, nil, "a weight is not the integer 0 or 1"},
	{RuleWeightRole, SeverityError, onlyOpenAI, "a weight on a message that is not the assistant's"},
	{RuleWeightImage, SeverityError, onlyTogether, "a message with images has a non-zero weight"},
	{RuleContentType, SeverityError, nil, "content is neither a string nor a list of content parts"},
	{RuleContentEmpty, SeverityError, nil, "content is empty or only white space"},
	{RuleContentImage, SeverityError, nil, "an image the provider will not take"},
	{RuleContentImages, SeverityError, onlyTogether, "more than 10 images in one example"},
	{RuleContentMixed, SeverityError, onlyTogether, "an example mixes string and list contents"},
	{RulePreferenceInput, SeverityError, nil, "input is not an object with messages"},
	{RulePreferenceLastTurn, SeverityError, nil, "the input's last message is the assistant's"},
	{RulePreferenceOutput, SeverityError, nil, "preferred_output or non_preferred_output is not one assistant message"},
	{RulePreferenceRoles, SeverityError, nil, "the input's messages are not an optional system prompt, then user and assistant taking turns from the user"},
	{RulePreferenceExtraKey, SeverityError, nil, "the input or an output has a key the provider does not take there"},
	{RulePreferenceIdentical, SeverityError, nil, "the preferred and non-preferred outputs are the same text"},

	{RuleWeightUntrained, SeverityWarning, nil, "every assistant message has weight 0, so the example trains nothing"},
	{RulePlaceholder, SeverityWarning, nil, "an unfilled template slot, TODO or filler text"},
	{RuleErrorText, SeverityWarning, nil, "error text recorded as data"},
	{RulePersonaBreak, SeverityWarning, nil, "the text speaks as an AI model or another assistant"},
	{RuleRefusal, SeverityWarning, nil, "the reply is a refusal"},
	{RuleChatter, SeverityWarning, nil, "a model talking about its output (\"here is the document\", \"shall I continue\")"},
	{RuleDuplicate, SeverityWarning, nil, "the same example as an earlier line"},
	{RuleNearDuplicate, SeverityWarning, nil, "nearly the same text as an earlier line"},
	{RulePreferenceNearIdentical, SeverityWarning, nil, "the preferred and non-preferred outputs are nearly the same text"},
}

var severityOf = func() map[string]string {
	m := map[string]string{}
	for _, r := range Rules {
		m[r.ID] = r.Severity
	}
	return m
}()

// provider holds the rules that differ between providers.
type provider struct {
	name    string
	formats []formatSpec
	roles   []string
	// alternate forbids the same role twice in a row.
	alternate bool
	// weightAssistantOnly allows weight on assistant messages only.
	weightAssistantOnly bool
	// messageKeys, when set, are the only keys a message may have.
	messageKeys map[string]bool
	// dataURLImages requires images to be base64 data URLs in JPEG, PNG or
	// WEBP of at most maxImageURL characters, at most maxImages an
	// example, with no weight, in examples whose contents are all lists or
	// all strings.
	dataURLImages bool
	minExamples   int
	maxBytes      int64
	// maxExampleTokens is the longest example any of the provider's models
	// trains on.
	maxExampleTokens int
	// inputKeys are the keys a preference example's input may have.
	inputKeys []string
}

// formatSpec is one line format: the columns that identify it and the
// columns it allows.
type formatSpec struct {
	name     string
	required []string
	allowed  []string
}

// Format names.
const (
	FormatGeneral      = "general"
	FormatConversation = "conversation"
	FormatInstruction  = "instruction"
	FormatPreference   = "preference"
	FormatChat         = "chat"
	FormatDPO          = "dpo"
)

// Together's limits, from together-python's constants.
const (
	togetherMaxBytes = 501 * (1 << 30) / 10 // MAX_FILE_SIZE_GB = 50.1
	maxImages        = 10
	maxImageURL      = len("data:image/jpeg;base64,") + 4*(10<<20)/3
)

// The longest example each provider trains on, in tokens: the largest
// fine-tuning context of its models (Together's docs list 131,072 for SFT
// on Llama 3.1 and DeepSeek-R1; OpenAI's give 65,536 tokens a training
// example for gpt-4o, gpt-4o-mini and gpt-4.1). A base model's own limit
// may be lower; an example over these fits none of the provider's models.
const (
	togetherMaxExampleTokens = 131_072
	openAIMaxExampleTokens   = 65_536
)

var preferenceColumns = []string{"input", "preferred_output", "non_preferred_output"}

var together = &provider{
	name: "together",
	formats: []formatSpec{
		{FormatGeneral, []string{"text"}, []string{"text"}},
		{FormatConversation, []string{"messages"}, []string{"messages"}},
		{FormatInstruction, []string{"prompt", "completion"}, []string{"prompt", "completion"}},
		{FormatPreference, preferenceColumns, preferenceColumns},
	},
	roles:            []string{"system", "user", "assistant"},
	alternate:        true,
	dataURLImages:    true,
	minExamples:      1,
	maxBytes:         togetherMaxBytes,
	maxExampleTokens: togetherMaxExampleTokens,
	inputKeys:        []string{"messages"},
}

var openAI = &provider{
	name: "openai",
	formats: []formatSpec{
		{FormatChat, []string{"messages"}, []string{"messages", "tools", "parallel_tool_calls", "functions"}},
		{FormatDPO, preferenceColumns, preferenceColumns},
	},
	roles:               []string{"system", "developer", "user", "assistant", "tool", "function"},
	weightAssistantOnly: true,
	messageKeys: map[string]bool{"role": true, "content": true, "name": true, "weight": true,
		"tool_calls": true, "tool_call_id": true, "function_call": true, "refusal": true},
	minExamples:      10,
	maxExampleTokens: openAIMaxExampleTokens,
	inputKeys:        []string{"messages", "tools", "parallel_tool_calls"},
}

// providerFor maps a provider name to its rules; ok is false for an
// unknown name.
func providerFor(name string) (p *provider, ok bool) {
	switch strings.ToLower(name) {
	case "", "together", "sandbox":
		return together, true
	case "openai":
		return openAI, true
	}
	return nil, false
}

func (p *provider) allowsRole(role string) bool {
	for _, r := range p.roles {
		if r == role {
			return true
		}
	}
	return false
}
