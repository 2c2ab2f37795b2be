package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// claimable is the condition for delivery d to be leased at $now: due, not
// under a live lease, the oldest unfinished delivery of its ticket key, and
// no other delivery of the key under a live lease.
//
// OFFSET 0 keeps each NOT EXISTS a per-row subplan (PostgreSQL does not
// flatten an EXISTS with an OFFSET into an anti-join): an index probe of
// deliveries_key for each candidate, whatever the table statistics say,
// instead of a join that scans the backend's whole queue.
const claimable = `d.state = 'pending' AND d.next_attempt_at <= $now
  AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= $now)
  AND NOT EXISTS (SELECT 1 FROM deliveries e
      WHERE e.state = 'pending' AND e.backend_type = d.backend_type AND e.backend_name = d.backend_name
        AND e.ticket_key = d.ticket_key AND e.seq < d.seq OFFSET 0)
  AND NOT EXISTS (SELECT 1 FROM deliveries e
      WHERE e.state = 'pending' AND e.backend_type = d.backend_type AND e.backend_name = d.backend_name
        AND e.ticket_key = d.ticket_key AND e.id <> d.id AND e.lease_expires_at > $now OFFSET 0)`

// candidatesSQL finds claimable deliveries ($1 type, $2 name, $3 now,
// $4 limit) and keeps those whose ticket key this transaction could lock
// ($5 lock class); other keys are being claimed by someone else right now.
var candidatesSQL = `
WITH c AS MATERIALIZED (
	SELECT d.id, d.seq, hashtext(d.backend_type || '/' || d.backend_name || '/' || d.ticket_key) AS h
	FROM deliveries d
	WHERE d.backend_type = $1 AND d.backend_name = $2 AND ` + named(claimable, "$now", "$3") + `
	ORDER BY d.seq
	LIMIT $4
)
SELECT id FROM c WHERE pg_try_advisory_xact_lock($5, h) ORDER BY seq`

// leaseSQL re-checks candidates ($1 ids) with a snapshot taken after the key
// locks and leases them ($2 owner, $3 expiry, $4 now).
var leaseSQL = `
WITH c AS (
	SELECT d.id FROM deliveries d
	WHERE d.id = ANY($1) AND ` + named(claimable, "$now", "$4") + `
	FOR UPDATE OF d SKIP LOCKED
)
UPDATE deliveries d SET lease_owner = $2, lease_expires_at = $3, updated_at = $4
FROM c, alerts a
WHERE d.id = c.id AND a.id = d.alert_id
RETURNING ` + deliveryCols + `, a.normalized`

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

// Claim implements store.Queue.
func (s *Store) Claim(ctx context.Context, owner string, backend store.BackendID, limit int, leaseFor time.Duration) ([]store.Delivery, error) {
	if err := checkClaim(owner, backend, limit, leaseFor); err != nil {
		return nil, err
	}
	var out []store.Delivery
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		rows, err := tx.Query(ctx, candidatesSQL, backend.Type, backend.Name, now, limit, lockClass)
		if err != nil {
			return fmt.Errorf("select claimable: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("select claimable: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		rows, err = tx.Query(ctx, leaseSQL, ids, owner, now.Add(leaseFor), now)
		if err != nil {
			return fmt.Errorf("lease: %w", err)
		}
		out, err = scanDeliveries(rows, true, now)
		if err != nil {
			return fmt.Errorf("lease: %w", err)
		}
		// Queue order (ids came in seq order).
		slices.SortFunc(out, func(a, b store.Delivery) int { return slices.Index(ids, a.ID) - slices.Index(ids, b.ID) })
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim %s: %w", backend, err)
	}
	return out, nil
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

// leaseOp runs one lease-checked update in its own transaction.
func (s *Store) leaseOp(ctx context.Context, id int64, query string, args ...any) (store.BackendID, error) {
	var b store.BackendID
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		b, err = leaseUpdate(ctx, tx, id, query, args...)
		return err
	})
	return b, err
}

// Renew implements store.Queue.
func (s *Store) Renew(ctx context.Context, id int64, owner string, leaseFor time.Duration) error {
	if leaseFor <= 0 {
		return fmt.Errorf("%w: renew: lease duration must be positive", store.ErrInvalid)
	}
	now := s.now()
	_, err := s.leaseOp(ctx, id, `UPDATE deliveries SET lease_expires_at = $3, updated_at = $4
WHERE `+leaseHeld+` RETURNING backend_type, backend_name`, id, owner, now.Add(leaseFor), now)
	return err
}

// Complete implements store.Queue.
func (s *Store) Complete(ctx context.Context, id int64, owner string, out store.Outcome) error {
	if out.Ticket != nil {
		if err := out.Ticket.Validate(); err != nil {
			return err
		}
	}
	var b store.BackendID
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		now := s.now()
		var err error
		b, err = leaseUpdate(ctx, tx, id, `UPDATE deliveries
SET state = 'done', attempts = attempts + 1, outcome = $3, finished_at = $4, updated_at = $4, lease_expires_at = NULL
WHERE `+leaseHeld+` RETURNING backend_type, backend_name`, id, owner, out.Action, now)
		if err != nil || out.Ticket == nil {
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
		s.hub.Signal(b.String()) // the key's next delivery may proceed
	}
	return err
}

// Retry implements store.Queue.
func (s *Store) Retry(ctx context.Context, id int64, owner string, nextAttemptAt time.Time, lastError string) error {
	now := s.now()
	next := nextAttemptAt
	if next.IsZero() {
		next = now
	}
	b, err := s.leaseOp(ctx, id, `UPDATE deliveries
SET attempts = attempts + 1, last_error = $3, next_attempt_at = $4, updated_at = $5, lease_expires_at = NULL
WHERE `+leaseHeld+` RETURNING backend_type, backend_name`, id, owner, lastError, next, now)
	if err == nil && !next.After(now) {
		s.hub.Signal(b.String())
	}
	return err
}

// DeadLetter implements store.Queue.
func (s *Store) DeadLetter(ctx context.Context, id int64, owner string, reason string) error {
	b, err := s.leaseOp(ctx, id, `UPDATE deliveries
SET state = 'dead', attempts = attempts + 1, dead_reason = $3, last_error = $3, finished_at = $4, updated_at = $4,
    lease_expires_at = NULL
WHERE `+leaseHeld+` RETURNING backend_type, backend_name`, id, owner, reason, s.now())
	if err == nil {
		s.hub.Signal(b.String())
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
