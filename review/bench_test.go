package review_test

import (
	"strings"
	"testing"

	"github.com/ethos-toolkit/ethos"
	"github.com/ethos-toolkit/ethos/review"
)

// benchSentences are the kind of prose generated documents are made of,
// with the words that open the review's closer looks: an apostrophe
// negation, "unable to", "error", brackets and a few non-ASCII runes.
var benchSentences = []string{
	"Last quarter we moved the volunteer rota from paper to a shared spreadsheet, and the first month went better than anyone expected.",
	"I can't tell yet whether the dip in March was the weather or the new sign-up form — probably a bit of both.",
	"Tom thinks we should buy a scheduling app; Priya would rather fix the sheet we have, since half our volunteers are over seventy.",
	"We were unable to cover two Friday shifts because a swap request got buried in a group chat nobody reads after six.",
	"The treasurer’s report shows we spent £1,240 on food and £310 on fuel, which is within budget for the first time this year.",
	"One error in the sheet (a formula that counted blank rows) made it look as if we had twelve more volunteers than we did.",
	"Our coordinator wrote to the council [see the attached letter] asking whether the hall could stay open until eight.",
	"If the app costs more than £20 a month we won't be able to justify it to the trustees, who review every new expense.",
	"Attendance at the Saturday sessions has doubled since we started posting the menu the night before on the notice board.",
	"The old laptop in the office is not able to run the newer browser, so anything web-based has to work on a phone as well.",
	"Most of the regulars come for the company as much as the food, and I don't want a new system to make them feel like numbers.",
	"Send questions to Dana <dana.okafor@example.org> or ring the office on Tuesdays and Thursdays between ten and two.",
}

// benchDocument is a document of about words words made of benchSentences,
// ending with a request, as generate reviews them.
func benchDocument(words int) string {
	var b strings.Builder
	b.WriteString("From: Priya Shah <priya.shah@example.com>\nTo: assistant@example.com\nSubject: The volunteer rota\n\nHi,\n\n")
	n := 0
	for i := 0; n < words; i++ {
		s := benchSentences[(i*7)%len(benchSentences)]
		b.WriteString(s)
		n += len(strings.Fields(s))
		if i%5 == 4 {
			b.WriteString("\n\n")
		} else {
			b.WriteByte(' ')
		}
	}
	b.WriteString("\n\nCould you help me think through whether an app is worth it for us, or whether there's a simpler fix?\n\nThanks,\nPriya")
	return b.String()
}

// BenchmarkReviewDocument reviews a 1,500-word document.
func BenchmarkReviewDocument(b *testing.B) {
	r := review.Rules{MinWords: 1000, MaxWords: 2000, MaxTokens: 8000, SystemPrompt: agoraPrompt, CharacterName: "Agora"}
	doc := ethos.Document{Title: "The volunteer rota", Body: benchDocument(1500)}
	b.SetBytes(int64(len(doc.Body)))
	for b.Loop() {
		if fs := r.Document(doc, ethos.StopEnd); len(fs) != 0 {
			b.Fatalf("findings %v", fs)
		}
	}
}

// BenchmarkReviewReply reviews a 300-word reply.
func BenchmarkReviewReply(b *testing.B) {
	r := review.Rules{MinWords: 50, MaxWords: 600, MaxTokens: 2000, SystemPrompt: agoraPrompt, CharacterName: "Agora"}
	reply := cleanReply + "\n\n" + strings.Join(benchSentences, " ")
	b.SetBytes(int64(len(reply)))
	for b.Loop() {
		if fs := r.Reply(reply, ethos.StopEnd, 0); len(fs) != 0 {
			b.Fatalf("findings %v", fs)
		}
	}
}
