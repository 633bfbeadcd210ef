// Package eval runs evaluations: does a trained model show the character
// better than its base model, per trait? It builds a held-out prompt set
// (written by the generation pipeline's idea and document stages with
// another seed, or read from a file) and refuses prompts that occur in the
// training data; collects each model's answers; and has a judge model
// compare every pair of answers on every trait and overall, in both
// orders, with the models' identities hidden and the verdict parsed
// strictly. Pointwise 1–5 trait scores are optional.
//
// Every step is a durable job (package jobs) whose result is a row of the
// store (ethos.EvalStore): an evaluation stopped at any point continues
// where it was when it is run again, and model calls go through the
// ledger, so a call already made is not paid for twice. Nothing is ever
// filled in: a failed answer is recorded as failed with its reason and is
// not judged; a judge reply that does not parse is asked for again, telling
// the judge what was wrong, and after the last attempt recorded as a parse
// failure with the raw reply. A row whose call failed at the provider until
// its job gave up (5xx, timeouts, 429s that never cleared) is recorded as
// failed with its error kind and leaves the evaluation incomplete rather
// than completed (Incomplete); running it again retries exactly those rows.
//
// Statistics and reports are elsewhere (eval/stats, eval/report); this
// package gives them the judgments.
package eval
