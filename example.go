package ethos

// Document is the user message of a training example, as the document
// stage writes it: a title, a type (email, memo, …) and the body the
// assistant answers.
type Document struct {
	Title string `json:"title"`
	Type  string `json:"type"`
	Body  string `json:"body"`
}

// EstimateTokens is a conservative estimate of the tokens a text costs
// (about four bytes a token for English), used for budgets, rate limits,
// review and dataset checks before (or instead of) a provider's count.
func EstimateTokens(s string) int {
	return (len(s) + 3) / 4
}
