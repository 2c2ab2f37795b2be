// Package store is the bridge's durable state: received alerts with their
// pending deliveries, quarantined payloads, the delivery queue with leases and
// dead letters, and the tickets each backend holds per ticket key
// (DESIGN §1, §8).
//
// Store is the contract; core/store/sqlite (embedded, one process) and
// core/store/postgres (several replicas) implement it, and
// core/store/storetest is the conformance suite both pass.
//
// The guarantees callers build on:
//
//   - Ingest commits an alert and all its deliveries in one transaction and
//     returns only after the commit is durable (fsync'd). A dedup key seen
//     before yields Duplicate and no new work, enforced by a unique
//     constraint, so concurrent duplicates (even on two replicas) collapse.
//     Any failure to commit is reported as an error wrapping ErrUnavailable
//     and leaves nothing half-written.
//   - Claim hands out only the oldest unfinished delivery of each
//     (backend, ticket key), and only when no other delivery of that key is
//     leased: per key, operations happen one at a time and in order.
//   - Every queue operation after Claim (Renew, Complete, Retry, DeadLetter,
//     Release) checks the lease owner, so a worker whose lease was taken over
//     cannot overwrite the new owner's work (ErrLeaseLost).
//   - Nothing leaves the dead-letter queue except by ReplayDeadLetter or
//     DropDeadLetter, and nothing deletes pending deliveries (a backend that
//     is no longer configured keeps its queue, reported by Stats).
package store
