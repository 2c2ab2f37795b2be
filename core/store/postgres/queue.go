package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// claimable is the condition for delivery d to be leased at $now: due, not
// under a live lease, the oldest unfinished delivery of its ticket key, and
// no other delivery of the key under a live lease. Both NOT EXISTS are index
// probes of deliveries_key per candidate (OFFSET 0 keeps them subplans: a
// probe per candidate, never a join over the backend's queue; migration 2
// leaves them no other index to choose).
const claimable = `d.state = 'pending' AND d.next_attempt_at <= $now
  AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= $now)
  AND NOT EXISTS (SELECT 1 FROM deliveries e
      WHERE e.state = 'pending' AND e.backend_type = d.backend_type AND e.backend_name = d.backend_name
        AND e.ticket_key = d.ticket_key AND e.seq < d.seq OFFSET 0)
  AND NOT EXISTS (SELECT 1 FROM deliveries e
      WHERE e.state = 'pending' AND e.backend_type = d.backend_type AND e.backend_name = d.backend_name
        AND e.ticket_key = d.ticket_key AND e.id <> d.id AND e.lease_expires_at > $now OFFSET 0)`

// claimPickSQL picks up to $4 claimable deliveries of backend ($1 type,
// $2 name) at $3 now whose ticket key this transaction could lock ($5 lock
// class; keys another replica is claiming right now are passed over), and
// leaves their ids in the transaction-local setting itsmbridge.claim for
// claimLeaseSQL. The CASE makes sure a key is locked only once its delivery
// is known claimable, and the LIMIT counts locked candidates, so two
// replicas claiming at once take different keys.
var claimPickSQL = `
WITH c AS MATERIALIZED (
	SELECT d.id
	FROM deliveries d
	WHERE d.backend_type = $1 AND d.backend_name = $2 AND d.state = 'pending' AND d.next_attempt_at <= $3 -- deliveries_due
	  AND CASE WHEN ` + named(claimable, "$now", "$3") + `
	      THEN pg_try_advisory_xact_lock($5, hashtext(d.backend_type || '/' || d.backend_name || '/' || d.ticket_key))
	      ELSE false END
	ORDER BY d.seq
	LIMIT $4
)
SELECT set_config('itsmbridge.claim', (SELECT coalesce(array_agg(id), '{}')::text FROM c), true)`

// claimLeaseSQL re-checks the picked deliveries with a snapshot taken after
// their keys were locked, so it sees every earlier claim of those keys (by
// any replica): one key is worked by one replica at a time, even when
// ingests of a key commit out of sequence order. It leases them ($1 owner,
// $2 expiry, $3 now) and returns them with their alert JSON in queue order.
// SKIP LOCKED passes over deliveries being completed right now.
var claimLeaseSQL = `
WITH c AS (
	SELECT x.id FROM unnest(current_setting('itsmbridge.claim')::bigint[]) AS p (id)
	CROSS JOIN LATERAL ( -- a primary key probe per picked id
		SELECT d.id FROM deliveries d
		WHERE d.id = p.id AND ` + named(claimable, "$now", "$3") + `
		FOR UPDATE OF d SKIP LOCKED
	) x
), u AS (
	UPDATE deliveries d SET lease_owner = $1, lease_expires_at = $2, updated_at = $3
	FROM alerts a
	WHERE d.id = ANY (ARRAY(SELECT id FROM c)) AND a.id = d.alert_id -- an index probe per id, never a scan
	RETURNING d.*, a.normalized AS alert_json
)
SELECT ` + strings.ReplaceAll(deliveryCols, "d.", "u.") + `, u.alert_json FROM u ORDER BY u.seq`

func checkClaim(owner string, backend store.BackendID, limit int, leaseFor time.Duration) error {
	switch {
	case owner == "":
		return fmt.Errorf("%w: claim: owner is required", store.ErrInvalid)
	case backend.Type == "" || backend.Name == "":
		return fmt.Errorf("%w: claim: backend is required", store.ErrInvalid)
	case limit <= 0 || limit > store.MaxPageLimit:
		return fmt.Errorf("%w: claim: limit %d out of range 1..%d", store.ErrInvalid, limit, store.MaxPageLimit)
	case leaseFor <= 0:
		return fmt.Errorf("%w: claim: lease duration must be positive", store.ErrInvalid)
	}
	return nil
}

// claimTicketsSQL returns the current ticket (highest generation) of each
// ticket key picked by claimPickSQL ($1 type, $2 name), and
// claimBindingsSQL their CI bindings: read in the claim's round trip, after
// the lease, under the key locks. LATERAL … LIMIT 1 (and OFFSET 0) keep
// them index probes per picked key whatever the table statistics say.
const (
	claimKeys = `(SELECT DISTINCT d.ticket_key FROM deliveries d
	WHERE d.id = ANY (current_setting('itsmbridge.claim')::bigint[])) k
CROSS JOIN LATERAL (SELECT * FROM tickets t
	WHERE t.backend_type = $1 AND t.backend_name = $2 AND t.ticket_key = k.ticket_key
	ORDER BY t.generation DESC LIMIT 1) t`
	claimTicketsSQL  = `SELECT ` + ticketCols + ` FROM ` + claimKeys
	claimBindingsSQL = `
SELECT c.ticket_id, c.item, c.ci_id, c.ci_name, c.ci_class, c.ci_created, c.bound_at
FROM ` + claimKeys + `
CROSS JOIN LATERAL (SELECT * FROM ticket_cis c WHERE c.ticket_id = t.id OFFSET 0) c
ORDER BY c.ticket_id, c.item`
)

// genericPlansSQL makes the rest of the claim's transaction (the ticket
// reads) run the cached generic plans of its statements, with sequential
// scans ruled out: planning them each time cost more than running them,
// and without seq scans their plan (primary and unique index probes) is
// the right one whatever the data, even when first made on an empty table.
// The pick and the lease keep custom plans: they have real choices to make.
const genericPlansSQL = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_seqscan', 'off', true)`

// Claim implements store.Queue.
func (s *Store) Claim(ctx context.Context, owner string, backend store.BackendID, limit int, leaseFor time.Duration) ([]store.Delivery, error) {
	ds, _, err := s.claim(ctx, owner, backend, limit, leaseFor, false)
	return ds, err
}

// ClaimWithTickets is Claim that also returns the current ticket of each
// claimed delivery's ticket key, exactly as GetTicket would return it, keyed
// by ticket key (keys without a ticket are absent). The tickets are read in
// the claim's round trip and transaction, so a dispatcher needs no GetTicket
// per delivery: while the lease is held only its holder changes the key's
// ticket.
func (s *Store) ClaimWithTickets(ctx context.Context, owner string, backend store.BackendID, limit int, leaseFor time.Duration) ([]store.Delivery, map[string]store.Ticket, error) {
	return s.claim(ctx, owner, backend, limit, leaseFor, true)
}

// claim runs its statements in one round trip and one implicit transaction
// (a pgx batch), committed when the batch ends.
func (s *Store) claim(ctx context.Context, owner string, backend store.BackendID, limit int, leaseFor time.Duration, withTickets bool) (out []store.Delivery, tickets map[string]store.Ticket, err error) {
	if err := checkClaim(owner, backend, limit, leaseFor); err != nil {
		return nil, nil, err
	}
	if s.onCommit != nil {
		start := time.Now()
		defer func() { s.onCommit(1, time.Since(start), err) }()
	}
	now := s.now()
	b := &pgx.Batch{}
	b.Queue(claimPickSQL, backend.Type, backend.Name, now, limit, lockClass)
	b.Queue(claimLeaseSQL, owner, now.Add(leaseFor), now)
	if withTickets {
		b.Queue(genericPlansSQL)
		b.Queue(claimTicketsSQL, backend.Type, backend.Name)
		b.Queue(claimBindingsSQL, backend.Type, backend.Name)
	}
	br := s.pool.SendBatch(ctx, b)
	defer func() {
		if cerr := br.Close(); err == nil && cerr != nil {
			out, tickets, err = nil, nil, fmt.Errorf("claim %s: commit: %w", backend, classify(cerr))
		}
	}()
	if _, err := br.Exec(); err != nil {
		return nil, nil, fmt.Errorf("claim %s: pick: %w", backend, classify(err))
	}
	rows, err := br.Query()
	if err == nil {
		out, err = scanDeliveries(rows, true, now)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("claim %s: lease: %w", backend, classify(err))
	}
	if !withTickets {
		return out, nil, nil
	}
	var ts []store.Ticket
	if _, err = br.Exec(); err == nil {
		rows, err = br.Query()
	}
	if err == nil {
		ts, err = scanTickets(rows)
	}
	if err == nil {
		rows, err = br.Query()
		if err == nil {
			err = scanBindings(rows, ts)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("claim %s: read tickets: %w", backend, classify(err))
	}
	tickets = make(map[string]store.Ticket, len(ts))
	for _, t := range ts {
		tickets[t.Key] = t
	}
	return out, tickets, nil
}

// leaseHeld is the condition of every lease-checked update ($1 id, $2 owner).
const leaseHeld = `id = $1 AND state = 'pending' AND lease_owner = $2 AND lease_expires_at IS NOT NULL`

// leaseUpdate runs a lease-checked UPDATE returning the delivery's backend
// and tells ErrNotFound from ErrLeaseLost when no row matched.
func leaseUpdate(ctx context.Context, q pgx.Tx, id int64, query string, args ...any) (store.BackendID, error) {
	var b store.BackendID
	err := q.QueryRow(ctx, query, args...).Scan(&b.Type, &b.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		var exists bool
		if err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE id = $1)`, id).Scan(&exists); err != nil {
			return b, fmt.Errorf("find delivery: %w", err)
		}
		if !exists {
			return b, fmt.Errorf("delivery %d: %w", id, store.ErrNotFound)
		}
		return b, fmt.Errorf("delivery %d: %w", id, store.ErrLeaseLost)
	}
	if err != nil {
		return b, fmt.Errorf("update delivery %d: %w", id, err)
	}
	return b, nil
}

// Renew implements store.Queue (group committed).
func (s *Store) Renew(ctx context.Context, id int64, owner string, leaseFor time.Duration) error {
	if leaseFor <= 0 {
		return fmt.Errorf("%w: renew: lease duration must be positive", store.ErrInvalid)
	}
	return s.submit(ctx, &update{kind: updRenew, id: id, owner: owner, at: s.now().Add(leaseFor)})
}

// Complete implements store.Queue (group committed, unless the ticket
// carries CI bindings: then in a transaction of its own).
func (s *Store) Complete(ctx context.Context, id int64, owner string, out store.Outcome) error {
	if out.Ticket != nil {
		if err := out.Ticket.Validate(); err != nil {
			return err
		}
	}
	if out.Ticket != nil && len(out.Ticket.CIBindings) > 0 {
		return s.completeWithBindings(ctx, id, owner, out)
	}
	u := &update{kind: updComplete, id: id, owner: owner, text: out.Action, ticket: out.Ticket}
	err := s.submit(ctx, u)
	if err == nil {
		s.hub.Signal(u.backend.String()) // the key's next delivery may proceed
	}
	return err
}

func (s *Store) completeWithBindings(ctx context.Context, id int64, owner string, out store.Outcome) error {
	var b store.BackendID
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		var err error
		b, err = leaseUpdate(ctx, tx, id, `UPDATE deliveries
SET state = 'done', attempts = attempts + 1, outcome = $3, finished_at = $4, updated_at = $4, lease_expires_at = NULL
WHERE `+leaseHeld+` RETURNING backend_type, backend_name`, id, owner, out.Action, now)
		if err != nil {
			return err
		}
		t := *out.Ticket
		if t.LastDeliveryID == 0 {
			t.LastDeliveryID = id
		}
		_, err = putTicket(ctx, tx, t, now)
		return err
	})
	if err == nil {
		s.hub.Signal(b.String())
	}
	return err
}

// Retry implements store.Queue (group committed).
func (s *Store) Retry(ctx context.Context, id int64, owner string, nextAttemptAt time.Time, lastError string) error {
	now := s.now()
	next := nextAttemptAt
	if next.IsZero() {
		next = now
	}
	u := &update{kind: updRetry, id: id, owner: owner, at: next, text: lastError}
	err := s.submit(ctx, u)
	if err == nil && !next.After(now) {
		s.hub.Signal(u.backend.String())
	}
	return err
}

// DeadLetter implements store.Queue (group committed).
func (s *Store) DeadLetter(ctx context.Context, id int64, owner string, reason string) error {
	u := &update{kind: updDead, id: id, owner: owner, text: reason}
	err := s.submit(ctx, u)
	if err == nil {
		s.hub.Signal(u.backend.String())
	}
	return err
}

// Release implements store.Queue. Other replicas are told (NOTIFY): the
// released delivery is theirs to take, e.g. when this replica shuts down.
func (s *Store) Release(ctx context.Context, id int64, owner string) error {
	var b store.BackendID
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		b, err = leaseUpdate(ctx, tx, id, `UPDATE deliveries SET lease_expires_at = NULL, updated_at = $3
WHERE `+leaseHeld+` RETURNING backend_type, backend_name`, id, owner, s.now())
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, b.String())
		return err
	})
	if err == nil {
		s.hub.Signal(b.String())
	}
	return err
}

// ReplayDeadLetter implements store.Admin.
func (s *Store) ReplayDeadLetter(ctx context.Context, id int64) error {
	var b store.BackendID
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		err := tx.QueryRow(ctx, `UPDATE deliveries
SET state = 'pending', seq = nextval('deliveries_seq'), attempts = 0, next_attempt_at = $2, enqueued_at = $2,
    updated_at = $2, finished_at = NULL, lease_expires_at = NULL, dead_reason = ''
WHERE id = $1 AND state = 'dead' RETURNING backend_type, backend_name`, id, now).Scan(&b.Type, &b.Name)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("dead letter %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("replay dead letter %d: %w", id, err)
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, b.String())
		return err
	})
	if err == nil {
		s.hub.Signal(b.String())
	}
	return err
}

// DropDeadLetter implements store.Admin.
func (s *Store) DropDeadLetter(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM deliveries WHERE id = $1 AND state = 'dead'`, id)
	if err != nil {
		return fmt.Errorf("drop dead letter %d: %w", id, classify(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("dead letter %d: %w", id, store.ErrNotFound)
	}
	return nil
}
