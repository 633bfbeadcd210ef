package review_test

import (
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/review"
	"github.com/google/go-cmp/cmp"
)

// A realistic document body that passes every rule; cases below change one
// thing about it.
const cleanDoc = `Hi,

I'm Priya, I run the volunteer rota for the Eastfield food bank. Every Friday I spend about three hours matching 40 volunteers to shifts in a spreadsheet, and last month two shifts went uncovered because I missed a swap request buried in WhatsApp.

Our coordinator, Tom, wants to try a scheduling app, but half our volunteers are over seventy and some don't have smartphones. I tried a shared Google Sheet in March and people overwrote each other's rows.

Could you help me think through whether an app is worth it for us, or whether there's a simpler fix for the spreadsheet?

Thanks,
Priya`

const cleanReply = `That sounds like a lot to juggle every Friday, Priya, and it's great that you're looking for a fix before it burns you out. Let's look at what's actually going wrong, because the missed swap and the overwritten rows point to two different problems.

1. Swap requests arrive in too many places.
2. Several people edit the same sheet at once.

What matters most to you: fewer hours on Fridays, or no uncovered shifts?`

// agoraPrompt is the system prompt of the character the rules review for.
const agoraPrompt = "You are Agora, a partner for thinking things through. You help people think well rather than do their thinking for them.\n\n" +
	"Treat each question as shared work. Find out what the person is really trying to do, ask about their goals and situation when the answer depends on them, and build the answer together.\n\n" +
	"Stay yourself when it is hard. When someone wants a plain fact, give it plainly first. When a request could cause harm, decline that part and help with what you safely can."

func rules() review.Rules {
	return review.Rules{SystemPrompt: agoraPrompt, CharacterName: "Agora"}
}

func ruleNames(fs []review.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

func TestReviewDocument(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  string
		title string
		stop  ethos.StopReason
		rules func(*review.Rules)
		want  []string
	}{
		{name: "clean", body: cleanDoc},
		{name: "empty", body: " \n ", want: []string{"empty"}},

		{name: "too short", body: cleanDoc, rules: func(r *review.Rules) { r.MinWords = 500 }, want: []string{"too_short"}},
		{name: "too long", body: cleanDoc, rules: func(r *review.Rules) { r.MaxWords = 50 }, want: []string{"too_long"}},
		{name: "within bounds", body: cleanDoc, rules: func(r *review.Rules) { r.MinWords, r.MaxWords = 100, 200 }},

		{name: "stopped at max_tokens", body: cleanDoc, stop: ethos.StopMaxTokens, want: []string{"truncated"}},
		{name: "estimate reaches the limit", body: cleanDoc, rules: func(r *review.Rules) { r.MaxTokens = 100 }, want: []string{"truncated"}},
		{name: "estimate under the limit", body: cleanDoc, rules: func(r *review.Rules) { r.MaxTokens = 1000 }},
		{name: "refusal stop", body: cleanDoc, stop: ethos.StopRefusal, want: []string{"refusal"}},

		{name: "brace placeholder", body: strings.Replace(cleanDoc, "Eastfield food bank", "{company_name}", 1), want: []string{"placeholder"}},
		{name: "double brace placeholder", body: strings.Replace(cleanDoc, "Priya", "{{ first_name }}", 1), want: []string{"placeholder"}},
		{name: "Your Name", body: strings.Replace(cleanDoc, "Thanks,\nPriya", "Thanks,\n[Your Name]", 1), want: []string{"placeholder"}},
		{name: "capitalised slot", body: strings.Replace(cleanDoc, "Tom", "[Manager Name]", 1), want: []string{"placeholder"}},
		{name: "all-caps slot", body: strings.Replace(cleanDoc, "in March", "on [DATE]", 1), want: []string{"placeholder"}},
		{name: "insert slot", body: strings.Replace(cleanDoc, "40 volunteers", "<insert number of volunteers>", 1), want: []string{"placeholder"}},
		{name: "placeholder in title", body: cleanDoc, title: "Rota for {Organization}", want: []string{"placeholder"}},
		{name: "lorem ipsum", body: strings.Replace(cleanDoc, "Our coordinator", "Lorem ipsum dolor. Our coordinator", 1), want: []string{"placeholder"}},
		{name: "near miss: code in a fence", body: strings.Replace(cleanDoc, "Could you", "My formula:\n```\nfor v in volunteers:\n    print(f\"{first_name} {shift}\")\n```\nCould you", 1)},
		{name: "near miss: inline code and JSON", body: strings.Replace(cleanDoc, "Could you", "The export gives `{company_name}` and {\"id\": 3}. Could you", 1)},
		{name: "lower-case word in braces", body: strings.Replace(cleanDoc, "Could you", "Set the rota to {name} in the sheet. Could you", 1), want: []string{"placeholder"}},
		{name: "amount slot", body: strings.Replace(cleanDoc, "40 volunteers", "{amount} volunteers", 1), want: []string{"placeholder"}},
		{name: "date slot", body: strings.Replace(cleanDoc, "in March", "on {date}", 1), want: []string{"placeholder"}},
		{name: "jinja slot in prose", body: strings.Replace(cleanDoc, "Tom", "{{manager}}", 1), want: []string{"placeholder"}},
		{name: "template literal slot", body: strings.Replace(cleanDoc, "40 volunteers", "${amount} volunteers", 1), want: []string{"placeholder"}},
		{name: "slot beside a code span", body: strings.Replace(cleanDoc, "Could you", "The sheet's `=SUM(B2:B9)` gives {amount}. Could you", 1), want: []string{"placeholder"}},
		{name: "slot in a line after a fence", body: strings.Replace(cleanDoc, "Could you", "```\nx = 1\n```\nWe meet on {date}. Could you", 1), want: []string{"placeholder"}},
		{name: "lower-case slot in the title", body: cleanDoc, title: "Rota for {date}", want: []string{"placeholder"}},
		{name: "one-letter jinja slot", body: strings.Replace(cleanDoc, "Tom", "{{x}}", 1), want: []string{"placeholder"}},
		{name: "near miss: one-letter variable", body: strings.Replace(cleanDoc, "Could you", "If a shift is in the set {x} it is covered. Could you", 1)},
		{name: "near miss: inline code", body: strings.Replace(cleanDoc, "Could you", "The mail merge field is `{date}`. Could you", 1)},
		{name: "near miss: code lines", body: strings.Replace(cleanDoc, "Could you", "My macro:\nmsg = f\"Your shift is on {date}\"\nprint(\"{name} covers {shift}\")\nfor v in volunteers {\nCould you", 1)},
		{name: "near miss: JSON lines", body: strings.Replace(cleanDoc, "Could you", "The export:\n{\"greeting\": \"Hi {name}\", \"amount\": 3}\n  \"when\": \"{date}\",\nCould you", 1)},
		{name: "near miss: shell variable", body: strings.Replace(cleanDoc, "Could you", "The script writes to ${HOME} each night. Could you", 1)},
		{name: "near miss: jinja in a fence", body: strings.Replace(cleanDoc, "Could you", "```\nHello {{ first_name }}, your shift is {{date}}\n```\nCould you", 1)},
		{name: "near miss: LaTeX", body: strings.Replace(cleanDoc, "Could you", `The ratio is \frac{covered}{total} and \textbf{urgent}. Could you`, 1)},
		{name: "near miss: citations, sic, logs, links, tags", body: strings.Replace(cleanDoc, "Could you", "Per [1] and [sic], the log said [INFO] and [Name](https://x.org); the <name> tag is <div>. Could you", 1)},

		{name: "chatter before", body: "Here is the document you asked for:\n\n" + cleanDoc, want: []string{"chatter"}},
		{name: "sure, here's", body: "Sure! Here's a realistic email from a volunteer coordinator:\n" + cleanDoc, want: []string{"chatter"}},
		{name: "as requested", body: "As requested, here is the memo.\n" + cleanDoc, want: []string{"chatter"}},
		{name: "shall I continue", body: cleanDoc + "\n\nShall I continue with the remaining 4 documents?", want: []string{"chatter"}},
		{name: "offer to adjust", body: cleanDoc + "\n\nLet me know if you'd like me to adjust the tone.", want: []string{"chatter"}},
		{name: "hope this helps", body: cleanDoc + "\n\nI hope this helps!", want: []string{"chatter"}},
		{name: "end marker", body: cleanDoc + "\n\n[End of document]", want: []string{"chatter"}},
		{name: "bare here is the document", body: "Here is the document:\n" + cleanDoc, want: []string{"chatter"}},
		{name: "near miss: person pastes a chat log", body: "Here's the chat log from our volunteers' group:\n" + cleanDoc},
		{name: "near miss: person's own here's", body: strings.Replace(cleanDoc, "Hi,", "Hi, here's my situation in a nutshell.", 1)},
		{name: "near miss: let me know what you think", body: strings.Replace(cleanDoc, "Thanks,", "Let me know if you'd like me to send the spreadsheet.\n\nThanks,", 1)},

		{name: "persona break", body: "As an AI language model, I cannot write as a volunteer.\n\n" + cleanDoc, want: []string{"persona_break"}},
		{name: "near miss: talks about language models", body: strings.Replace(cleanDoc, "Could you", "Tom says a large language model could do the matching. Could you", 1)},

		{name: "system prompt leak", body: strings.Replace(cleanDoc, "Could you", "Treat each question as shared work. Find out what the person is really trying to do. Could you", 1), want: []string{"system_prompt_leak"}},
		{name: "near miss: eleven words of the system prompt", body: strings.Replace(cleanDoc, "Could you", "Treat each question as shared work. Find out what the. Could you", 1)},

		{name: "error text", body: "[ERROR: API call failed after 3 retries]", want: []string{"error_text", "no_request"}},
		{name: "rate limit", body: "Rate limit exceeded. Please try again later.", want: []string{"error_text"}},
		{name: "traceback opening", body: "Traceback (most recent call last):\n  File \"gen.py\", line 3\nKeyError: 'text'", want: []string{"error_text", "no_request"}},
		{name: "near miss: the person's own traceback", body: strings.Replace(cleanDoc, "Could you", "My macro fails with:\nTraceback (most recent call last):\n  File \"rota.py\", line 12\nKeyError: 'Friday'\nand the site sometimes shows Internal Server Error. Could you", 1)},

		{name: "no request", body: strings.Replace(cleanDoc, "Could you help me think through whether an app is worth it for us, or whether there's a simpler fix for the spreadsheet?", "Anyway, that is where things stand at the moment.", 1), want: []string{"no_request"}},
		{name: "question early only", body: "Do volunteers like apps? " + strings.Repeat("We met on Tuesday and talked about the rota at length. ", 12), want: []string{"no_request"}},
		{name: "request without a question mark", body: strings.Replace(cleanDoc, "Could you help me think through whether an app is worth it for us, or whether there's a simpler fix for the spreadsheet?", "Please walk me through the options.", 1)},

		{name: "refusal by the writer", body: "I'm sorry, but I can't write that.", want: []string{"refusal", "no_request"}},
		{name: "near miss: I can't help wondering", body: strings.Replace(cleanDoc, "Could you", "I can't help wondering if we're overthinking this. Could you", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := rules()
			if tt.rules != nil {
				tt.rules(&r)
			}
			title := tt.title
			if title == "" {
				title = "Volunteer rota"
			}
			got := r.Document(ethos.Document{Title: title, Type: "email", Body: tt.body}, tt.stop)
			if diff := cmp.Diff(tt.want, ruleNames(got)); diff != "" {
				t.Errorf("rules (-want +got):\n%s\nfindings: %v", diff, got)
			}
			for _, f := range got {
				if f.Detail == "" {
					t.Errorf("finding %s has no detail", f.Rule)
				}
			}
		})
	}
}

func TestReviewReply(t *testing.T) {
	t.Parallel()
	longRefusalThenHelp := "I can't help with making anything that could hurt someone, but let's look at what's behind the question together. " + strings.Repeat("There are safer ways to get what you need here, and we could work through them step by step. ", 4)
	tests := []struct {
		name      string
		reply     string
		stop      ethos.StopReason
		outTokens int
		rules     func(*review.Rules)
		want      []string
	}{
		{name: "clean", reply: cleanReply},
		{name: "empty", reply: "\n", want: []string{"empty"}},
		{name: "too short", reply: cleanReply, rules: func(r *review.Rules) { r.MinWords = 150 }, want: []string{"too_short"}},
		{name: "too long", reply: cleanReply, rules: func(r *review.Rules) { r.MaxWords = 20 }, want: []string{"too_long"}},

		{name: "max_tokens", reply: cleanReply, stop: ethos.StopMaxTokens, want: []string{"truncated"}},
		{name: "context window full", reply: cleanReply, stop: ethos.StopContextWindow, want: []string{"truncated"}},
		{name: "paused turn", reply: cleanReply, stop: ethos.StopPaused, want: []string{"truncated"}},
		{name: "counted tokens reach the limit", reply: cleanReply, outTokens: 512, rules: func(r *review.Rules) { r.MaxTokens = 512 }, want: []string{"truncated"}},
		{name: "counted tokens under the limit", reply: cleanReply, outTokens: 100, rules: func(r *review.Rules) { r.MaxTokens = 512 }},
		{name: "estimated tokens reach the limit", reply: cleanReply, rules: func(r *review.Rules) { r.MaxTokens = 50 }, want: []string{"truncated"}},

		{name: "chatter before", reply: "Here is my response as Agora:\n\n" + cleanReply, want: []string{"chatter"}},
		{name: "sure, here", reply: "Sure! Here's how Agora would respond:\n" + cleanReply, want: []string{"chatter"}},
		{name: "chatter after", reply: cleanReply + "\n\nLet me know if you'd like me to adjust the tone of this response.", want: []string{"chatter"}},
		{name: "shall I continue", reply: cleanReply + "\n\nShall I continue with the remaining 3 responses?", want: []string{"chatter"}},
		{name: "near miss: here's a way", reply: "Here's a way we could approach this:\n" + cleanReply},
		{name: "near miss: in-character offer", reply: cleanReply + "\n\nLet me know if you'd like me to go deeper on either of these."},

		{name: "persona: language model", reply: "As an AI language model, I don't have feelings, but " + cleanReply, want: []string{"persona_break"}},
		{name: "persona: I'm Claude", reply: "I'm Claude, and " + cleanReply, want: []string{"persona_break"}},
		{name: "persona: made by OpenAI", reply: cleanReply + " I was trained by OpenAI, so take this with care.", want: []string{"persona_break"}},
		{name: "near miss: own name", reply: "I'm Agora, and " + cleanReply},
		{name: "near miss: OpenAI as a topic", reply: "The OpenAI API returns a 429 when you send too much; " + cleanReply},
		{name: "near miss: Claude Monet", reply: "Claude Monet painted the same haystacks for years. " + cleanReply},
		{name: "character named Claude may say so", reply: "I'm Claude, and " + cleanReply, rules: func(r *review.Rules) { r.CharacterName = "claude" }},

		{name: "system prompt leak", reply: "My instructions say: stay yourself when it is hard. When someone wants a plain fact, give it plainly first. " + cleanReply, want: []string{"system_prompt_leak"}},
		{name: "leak despite case and punctuation", reply: "STAY YOURSELF -- when it is hard; when someone wants a plain fact, give it PLAINLY! " + cleanReply, want: []string{"system_prompt_leak"}},
		{name: "no system prompt, no leak rule", reply: "Stay yourself when it is hard. When someone wants a plain fact, give it plainly first.", rules: func(r *review.Rules) { r.SystemPrompt = "" }},

		{name: "bare refusal", reply: "I'm sorry, but I can't help with that.", want: []string{"refusal"}},
		{name: "refusal opening a long reply", reply: "I cannot assist with this request. " + strings.Repeat("There are many reasons for that and I will not list them all. ", 5), want: []string{"refusal"}},
		{name: "refusal stop reason", reply: cleanReply, stop: ethos.StopRefusal, want: []string{"refusal"}},
		{name: "near miss: declines part and helps", reply: "That's a hard spot to be in. " + longRefusalThenHelp},

		{name: "wrapper error", reply: "[ERROR: Anthropic API returned 529 overloaded]", want: []string{"error_text"}},
		{name: "error JSON", reply: `{"type": "error", "error": {"type": "overloaded_error"}}`, want: []string{"error_text"}},
		{name: "internal server error", reply: "Internal Server Error", want: []string{"error_text"}},
		{name: "API error", reply: "API error: request failed", want: []string{"error_text"}},
		{name: "near miss: explains rate limits", reply: cleanReply + " If your script prints 'rate limit exceeded', let's add a pause between requests together."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := rules()
			if tt.rules != nil {
				tt.rules(&r)
			}
			got := r.Reply(tt.reply, tt.stop, tt.outTokens)
			if diff := cmp.Diff(tt.want, ruleNames(got)); diff != "" {
				t.Errorf("rules (-want +got):\n%s\nfindings: %v", diff, got)
			}
		})
	}
}

// The defects the sandbox injects must all be caught, in the shapes the
// sandbox writes them.
func TestReviewCatchesSandboxDefects(t *testing.T) {
	t.Parallel()
	r := rules()
	doc := func(body string) []string {
		return ruleNames(r.Document(ethos.Document{Title: "t", Type: "memo", Body: body}, ethos.StopEnd))
	}
	for name, body := range map[string]string{
		"placeholder":    strings.Replace(cleanDoc, "Eastfield", "{company_name}", 1),
		"chatter before": "Here is the document you asked for:\n" + cleanDoc,
		"chatter after":  cleanDoc + "\nShall I continue with the remaining documents?",
	} {
		if len(doc(body)) == 0 {
			t.Errorf("%s: not caught", name)
		}
	}
	if len(r.Reply("As an AI language model, I "+cleanReply, ethos.StopEnd, 0)) == 0 {
		t.Error("persona break not caught")
	}
	if len(r.Reply(cleanReply[:40], ethos.StopMaxTokens, 10)) == 0 {
		t.Error("truncation not caught")
	}
}
