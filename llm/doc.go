// Package llm is the middleware every model call passes through, outermost
// first:
//
//	Ledger (cache + record) → Budget → Alias → Batcher → Limiter → Router → provider adapter
//
// The Ledger serves repeated requests from the store and records every call,
// hit or miss, success or failure. The Budget refuses a call that could pass
// the configured USD cap before anything is spent. The Limiter keeps each
// provider within its request and token rates and backs off when the
// provider says it is overloaded. The Batcher sends the calls of a stage
// whose mode is batch to the provider's batch API instead: it queues the
// request in the store and answers Pending until the batch that carried it
// has ended (see Batcher). The Router sends "provider/model"
// references to the adapter of that provider with the prefix stripped.
//
// Durable retries are not here: a failed call returns a typed *ethos.Error
// and the job layer decides, through ethos.OutcomeOf, whether to retry,
// snooze, cancel or quarantine.
package llm
