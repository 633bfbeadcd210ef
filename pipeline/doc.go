// Package pipeline holds the policy that turns a project's configuration
// into working parts, for the command line, a worker or a test alike: how
// calls are priced (Pricer), each provider's rate limits and the key its
// limits are shared under (Limits, ShareKey), and the checks made before a
// command's first paid call (Preflight). It maps config onto the library
// packages (llm, finetune). Package project wires a project's store and
// adapters into Deps; the commands keep flags, printing and exit codes.
package pipeline
