// Package postgres is store.Store on PostgreSQL (jackc/pgx v5), for running
// several bridge replicas on one database.
//
// How the guarantees hold across replicas:
//
//   - Duplicates: alerts.dedup_key is unique and ingest inserts with
//     ON CONFLICT DO NOTHING, so two replicas ingesting the same alert at the
//     same moment produce one row; the loser waits for the winner's commit
//     and reports Duplicate.
//   - Group commit: concurrent Ingest calls are batched: what arrives while
//     a batch commits forms the next one, inserted by a single set-based
//     statement (arrays in, unnest, ON CONFLICT DO NOTHING) in one
//     transaction, so commits and statement overhead are shared. Alerts are
//     inserted in dedup-key order, so batches (or replicas) that share keys
//     lock them in the same order and cannot deadlock; a deadlock or
//     serialization failure is retried anyway, and a batch that still fails
//     is retried record by record so one bad record cannot fail the rest.
//   - Claims: one round trip and one implicit transaction (a pgx batch).
//     The first statement walks the backend's due queue in order and, for
//     each candidate that is the due head of its ticket key, takes a
//     transaction-scoped advisory lock on the key
//     (pg_try_advisory_xact_lock: keys another replica is claiming right
//     now are passed over, so replicas claiming at once take different
//     keys) until it holds the limit; it leaves the ids in a
//     transaction-local setting. The second statement, whose snapshot is
//     taken after the locks, re-checks each of them and leases it with FOR
//     UPDATE SKIP LOCKED. Claims of one key are therefore serialised, and
//     the later one sees the earlier one's lease: one key is worked by one
//     replica at a time, even when ingests of the same key commit out of
//     sequence order. ClaimWithTickets also reads the claimed keys'
//     tickets in the same round trip, sparing the dispatcher a GetTicket
//     per delivery.
//   - Queue updates (Renew, Complete with its ticket, Retry, DeadLetter)
//     are group committed like ingests: one set-based statement per kind,
//     one round trip, one commit per batch. A failed lease check fails
//     that update alone (ErrLeaseLost or ErrNotFound); a batch the database
//     rejects is retried update by update. (A Complete whose ticket
//     carries CI bindings runs in a transaction of its own.)
//   - Leases carry an owner and an expiry; an expired lease is taken over
//     by the next claim, and every later update checks the owner.
//   - Migrations run under a session advisory lock, so replicas starting
//     together migrate once.
//   - New work is announced with NOTIFY on channel itsmbridge_work (payload:
//     the backend); Watch listens on a dedicated connection.
//
// Leases and due times use the replicas' clocks (Options.Now): keep them
// synchronised (NTP) and leases much longer than the worst skew.
package postgres
