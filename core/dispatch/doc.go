// Package dispatch works the delivery queue: one loop per backend claims due
// deliveries from the store (which guarantees one in-flight delivery per
// ticket key, in order), decides the operation from the ticket's state at
// that moment (create, comment, reopen, resolve or nothing), calls the
// backend's plugin within its concurrency and rate limits, and records the
// outcome: done, retry with back-off, or dead letter.
//
// Deciding at dispatch time rather than at ingest is what makes a resolve
// that arrives before its create finished wait for it, and a fire after the
// reopen window open a new ticket.
package dispatch
