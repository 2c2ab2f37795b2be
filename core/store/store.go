package store

import (
	"context"
	"errors"
	"time"
)

// Errors. Implementations wrap them with context; test with errors.Is.
var (
	// ErrUnavailable: the store could not read or commit (disk full,
	// read-only file, database down, store closed). Nothing was written.
	// Ingress answers 503 with Retry-After.
	ErrUnavailable = errors.New("store unavailable")
	// ErrNotFound: no such alert, delivery, dead letter, ticket or
	// quarantined payload.
	ErrNotFound = errors.New("not found")
	// ErrLeaseLost: the delivery is not (or no longer) leased by this owner:
	// it was released, finished, or taken over after the lease expired.
	// The worker must drop it without touching the store further.
	ErrLeaseLost = errors.New("lease lost")
	// ErrInvalid: the caller passed something malformed (missing dedup key,
	// bad cursor, unknown state, ...).
	ErrInvalid = errors.New("invalid argument")
)

// Store is the durable state of the bridge. It is the union of the smaller
// interfaces below; consumers should depend on the part they use.
// Implementations are safe for concurrent use by many goroutines and, for
// PostgreSQL, by many processes.
type Store interface {
	Ingester
	Queue
	Tickets
	Admin

	// Ping checks that the store is reachable (readiness).
	Ping(ctx context.Context) error
	// Close stops background work, fails queued writes with ErrUnavailable
	// and closes the database. It is safe to call more than once.
	Close() error
}

// Ingester is what the ingress needs.
type Ingester interface {
	// Ingest stores the alert and its deliveries atomically and returns after
	// the commit is durable. Concurrent calls share transactions and fsyncs
	// (group commit); each caller still gets its own result.
	//
	// If rec.Alert.DedupKey is already stored (sequentially, concurrently, or
	// by another replica) the result is Duplicate and nothing is written.
	// Failures to commit wrap ErrUnavailable; malformed records wrap
	// ErrInvalid. If ctx ends before the commit, Ingest returns ctx's error
	// and the record may or may not be stored (a retry is then a duplicate
	// or a fresh insert, never both).
	Ingest(ctx context.Context, rec IngestRecord) (IngestResult, error)

	// Quarantine durably stores a payload no parser recognised and returns
	// its id. Errors as for Ingest.
	Quarantine(ctx context.Context, rec QuarantineRecord) (int64, error)

	// ReplayQuarantine ingests rec (normally re-normalized from the
	// quarantined payload's Raw) and deletes quarantined payload id, in one
	// transaction. ErrNotFound when id is not in quarantine (then nothing is
	// ingested).
	ReplayQuarantine(ctx context.Context, id int64, rec IngestRecord) (IngestResult, error)
}

// Queue is what the dispatcher needs: leased, per-ticket-key ordered work.
//
// owner identifies the worker that holds a lease. Use a value unique per
// worker and process incarnation (e.g. "host/pid/random/worker-3"): the
// owner check is what stops a stale worker from overwriting a takeover.
type Queue interface {
	// Claim leases up to limit deliveries of backend that are due and
	// returns them with Alert filled, oldest first. A delivery is claimable
	// when it is pending with NextAttemptAt ≤ now (or leased with an expired
	// lease: takeover), it is the oldest unfinished delivery of its
	// (backend, ticket key), and no other delivery of that key is leased.
	// So at most one delivery per ticket key is ever in flight, across all
	// workers and replicas, and a key's deliveries are worked in order.
	//
	// Dead letters do not block their key: the deliveries behind a dead
	// letter proceed. A replayed dead letter queues behind its key's
	// unfinished deliveries.
	Claim(ctx context.Context, owner string, backend BackendID, limit int, leaseFor time.Duration) ([]Delivery, error)

	// Renew extends the lease to now+leaseFor. It succeeds while the
	// delivery is unfinished and still leased to owner, even after the lease
	// expired, as long as nobody claimed it since; otherwise ErrLeaseLost.
	Renew(ctx context.Context, id int64, owner string, leaseFor time.Duration) error

	// Complete marks the delivery done (attempts+1), records out.Action and,
	// when out.Ticket is set, upserts the ticket in the same transaction.
	// Lease rules as for Renew.
	Complete(ctx context.Context, id int64, owner string, out Outcome) error

	// Retry ends the lease after a failed attempt: attempts+1, lastError
	// recorded, due again at nextAttemptAt. Lease rules as for Renew.
	Retry(ctx context.Context, id int64, owner string, nextAttemptAt time.Time, lastError string) error

	// DeadLetter moves the delivery to the dead-letter queue (attempts+1,
	// reason recorded as DeadReason and LastError). Lease rules as for Renew.
	DeadLetter(ctx context.Context, id int64, owner string, reason string) error

	// Release gives the delivery back without counting an attempt (shutdown,
	// plugin restarting): pending, unleased, NextAttemptAt unchanged. Lease
	// rules as for Renew.
	Release(ctx context.Context, id int64, owner string) error

	// Watch returns a channel that receives a value (coalesced, never
	// blocking the store) when new work for backend may have become
	// claimable: ingest, replay, release. The channel is closed when ctx
	// ends. It is a hint to poll sooner, not a guarantee: retries become due
	// by the passage of time and other processes' changes may go unseen, so
	// workers must still poll periodically.
	Watch(ctx context.Context, backend BackendID) <-chan struct{}
}

// Tickets is the dispatcher's record of what each backend holds.
type Tickets interface {
	// GetTicket returns the current (highest generation) ticket of the key,
	// with its CI bindings, or ErrNotFound when the key never had one.
	GetTicket(ctx context.Context, backend BackendID, key string) (Ticket, error)

	// PutTicket upserts the ticket identified by (Backend, Key, Generation)
	// and returns it as stored (ID, CreatedAt, UpdatedAt set). Bindings in
	// t.CIBindings are added or replaced by Item; none are removed.
	PutTicket(ctx context.Context, t Ticket) (Ticket, error)

	// AddCIBinding adds (or replaces, by Item) one CI binding of the ticket
	// (backend, key, generation). ErrNotFound when that ticket does not exist.
	AddCIBinding(ctx context.Context, backend BackendID, key string, generation int, b CIBinding) error

	// TicketHistory returns every generation of the key's tickets, oldest
	// first (empty, not an error, when the key never had a ticket).
	TicketHistory(ctx context.Context, backend BackendID, key string) ([]Ticket, error)
}

// Admin is what the admin API, the CLI and the metrics need.
type Admin interface {
	// ListAlerts lists alerts newest first, without Normalized and Raw.
	ListAlerts(ctx context.Context, f AlertFilter, p PageRequest) (Page[AlertRecord], error)
	// GetAlert returns one alert with Normalized and Raw, and its
	// deliveries (without Alert) in id order. ErrNotFound if absent.
	GetAlert(ctx context.Context, id int64) (AlertRecord, []Delivery, error)
	// ListDeliveries lists deliveries newest first, without Alert.
	ListDeliveries(ctx context.Context, f DeliveryFilter, p PageRequest) (Page[Delivery], error)
	// GetDelivery returns one delivery with Alert. ErrNotFound if absent.
	GetDelivery(ctx context.Context, id int64) (Delivery, error)
	// ListDeadLetters is ListDeliveries with State = StateDead.
	ListDeadLetters(ctx context.Context, backend BackendID, p PageRequest) (Page[Delivery], error)
	// ReplayDeadLetter puts a dead letter back in the queue: pending, due
	// now, attempts 0, EnqueuedAt now, behind its key's unfinished
	// deliveries. ErrNotFound when id is not a dead letter.
	ReplayDeadLetter(ctx context.Context, id int64) error
	// DropDeadLetter deletes a dead letter. ErrNotFound when id is not a
	// dead letter.
	DropDeadLetter(ctx context.Context, id int64) error

	// ListTickets lists tickets (all generations) newest first.
	ListTickets(ctx context.Context, f TicketFilter, p PageRequest) (Page[Ticket], error)

	// ListQuarantine lists quarantined payloads newest first, without Raw.
	ListQuarantine(ctx context.Context, f QuarantineFilter, p PageRequest) (Page[QuarantineItem], error)
	// GetQuarantine returns one quarantined payload with Raw.
	GetQuarantine(ctx context.Context, id int64) (QuarantineItem, error)
	// DropQuarantine deletes a quarantined payload. ErrNotFound if absent.
	DropQuarantine(ctx context.Context, id int64) error

	// Stats counts alerts, deliveries by state and per backend, dead
	// letters, quarantine and unrouted alerts.
	Stats(ctx context.Context) (Stats, error)
	// QueueStats is Stats without the history totals (Alerts and Done are
	// zero): its cost is bounded by unfinished work, dead letters,
	// quarantine and unrouted alerts, not by the history retention keeps,
	// so it suits a metrics scrape.
	QueueStats(ctx context.Context) (Stats, error)
}

// Purger deletes history older than the retention period (DESIGN §8: an
// acknowledged alert is never dropped while it has work left). Stores
// implement it; the retention loop (core/retention) calls it.
type Purger interface {
	// Purge deletes up to limit alerts received before cutoff that have no
	// unfinished delivery and no dead letter (all done, or unrouted), with
	// their deliveries, and up to limit tickets resolved before cutoff,
	// with their CI bindings. Pending and leased deliveries, dead letters,
	// open tickets and quarantined payloads are never deleted, whatever
	// their age. It returns what it deleted; a caller wanting everything
	// calls again while a count reaches limit.
	Purge(ctx context.Context, cutoff time.Time, limit int) (PurgeResult, error)
}

// PurgeResult counts what one Purge deleted.
type PurgeResult struct {
	Alerts, Deliveries, Tickets int64
}
