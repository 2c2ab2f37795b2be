package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// claimableSQL selects the deliveries of a backend that may be leased now:
// due, not under a live lease, the oldest unfinished of their ticket key, and
// with no other delivery of the key under a live lease. Parameters: ?1
// backend type, ?2 backend name, ?3 now, ?4 limit.
const claimableSQL = `
SELECT d.id FROM deliveries d
WHERE d.state = 'pending' AND d.backend_type = ?1 AND d.backend_name = ?2
  AND d.next_attempt_at <= ?3
  AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= ?3)
  AND NOT EXISTS (SELECT 1 FROM deliveries e
      WHERE e.state = 'pending' AND e.backend_type = d.backend_type AND e.backend_name = d.backend_name
        AND e.ticket_key = d.ticket_key AND e.seq < d.seq)
  AND NOT EXISTS (SELECT 1 FROM deliveries e
      WHERE e.state = 'pending' AND e.backend_type = d.backend_type AND e.backend_name = d.backend_name
        AND e.ticket_key = d.ticket_key AND e.id <> d.id AND e.lease_expires_at > ?3)
ORDER BY d.seq
LIMIT ?4`

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
	// Idle polls are answered from the read pool, without queueing behind
	// the writer.
	var probe int64
	err := dbQuerier{s}.QueryRowContext(ctx, claimableSQL, backend.Type, backend.Name, us(s.now()), 1).Scan(&probe)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable("claim: %w", err)
	}

	var out []store.Delivery
	o := &op{fn: func(tx *sql.Tx) error {
		out = nil
		now := us(s.now())
		rows, err := s.query(tx, claimableSQL, backend.Type, backend.Name, now, limit)
		if err != nil {
			return fmt.Errorf("select claimable: %w", err)
		}
		ids, err := scanIDs(rows)
		if err != nil || len(ids) == 0 {
			return err
		}
		// The id list goes as one JSON array so both statements stay
		// prepared whatever the number of ids.
		list, err := json.Marshal(ids)
		if err != nil {
			return fmt.Errorf("encode ids: %w", err)
		}
		if _, err := s.exec(tx, leaseSQL, owner, now+leaseFor.Microseconds(), now, string(list)); err != nil {
			return fmt.Errorf("lease: %w", err)
		}
		rows, err = s.query(tx, claimedSQL, string(list))
		if err != nil {
			return fmt.Errorf("read claimed: %w", err)
		}
		out, err = scanDeliveries(rows, true, fromUS(now))
		return err
	}}
	if err := s.write(ctx, o); err != nil {
		return nil, fmt.Errorf("claim %s: %w", backend, err)
	}
	return out, nil
}

// Claim's statements, prepared at Open. ?4 (leaseSQL) and ?1 (claimedSQL)
// are JSON arrays of delivery ids.
const (
	leaseSQL = `UPDATE deliveries SET lease_owner = ?1, lease_expires_at = ?2, updated_at = ?3
WHERE id IN (SELECT value FROM json_each(?4))`
	claimedSQL = `SELECT ` + deliveryCols + `, a.normalized, a.payload FROM deliveries d JOIN alerts a ON a.id = d.alert_id
WHERE d.id IN (SELECT value FROM json_each(?1)) ORDER BY d.seq`
)

// leaseHeld is the WHERE clause of every lease-checked update (?1 id, ?2 owner).
const leaseHeld = `id = ?1 AND state = 'pending' AND lease_owner = ?2 AND lease_expires_at IS NOT NULL`

// Hot lease-checked updates, prepared at Open.
const (
	// ?3 outcome, ?4 now
	completeSQL = `UPDATE deliveries
SET state = 'done', attempts = attempts + 1, outcome = ?3, finished_at = ?4, updated_at = ?4, lease_expires_at = NULL
WHERE ` + leaseHeld
	// ?3 last error, ?4 next attempt, ?5 now
	retrySQL = `UPDATE deliveries
SET attempts = attempts + 1, last_error = ?3, next_attempt_at = ?4, updated_at = ?5, lease_expires_at = NULL
WHERE ` + leaseHeld
	backendOfSQL = `SELECT backend_type, backend_name FROM deliveries WHERE id = ?`
)

// leaseUpdate runs a lease-checked UPDATE and returns the delivery's
// backend, telling ErrNotFound from ErrLeaseLost when no row matched. (A
// plain UPDATE and a rowid lookup cost less than RETURNING, which SQLite
// implements with an ephemeral table.)
func (s *Store) leaseUpdate(tx *sql.Tx, id int64, query string, args ...any) (store.BackendID, error) {
	var b store.BackendID
	r, err := s.exec(tx, query, args...)
	if err != nil {
		return b, fmt.Errorf("update delivery %d: %w", id, err)
	}
	n, err := affected(r)
	if err != nil {
		return b, err
	}
	err = s.queryRow(tx, backendOfSQL, id).Scan(&b.Type, &b.Name)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return b, fmt.Errorf("delivery %d: %w", id, store.ErrNotFound)
	case err != nil:
		return b, fmt.Errorf("find delivery %d: %w", id, err)
	case n == 0:
		return b, fmt.Errorf("delivery %d: %w", id, store.ErrLeaseLost)
	}
	return b, nil
}

// Renew implements store.Queue.
func (s *Store) Renew(ctx context.Context, id int64, owner string, leaseFor time.Duration) error {
	if leaseFor <= 0 {
		return fmt.Errorf("%w: renew: lease duration must be positive", store.ErrInvalid)
	}
	o := &op{fn: func(tx *sql.Tx) error {
		now := us(s.now())
		_, err := s.leaseUpdate(tx, id, `UPDATE deliveries SET lease_expires_at = ?3, updated_at = ?4
WHERE `+leaseHeld, id, owner, now+leaseFor.Microseconds(), now)
		return err
	}}
	return s.write(ctx, o)
}

// Complete implements store.Queue.
func (s *Store) Complete(ctx context.Context, id int64, owner string, out store.Outcome) error {
	if out.Ticket != nil {
		if err := out.Ticket.Validate(); err != nil {
			return err
		}
	}
	o := &op{}
	o.fn = func(tx *sql.Tx) error {
		now := s.now()
		b, err := s.leaseUpdate(tx, id, completeSQL, id, owner, out.Action, us(now))
		if err != nil {
			return err
		}
		o.wake = []store.BackendID{b}
		if out.Ticket != nil {
			t := *out.Ticket
			if t.LastDeliveryID == 0 {
				t.LastDeliveryID = id
			}
			if _, err := s.putTicket(tx, t, now, false); err != nil {
				return err
			}
		}
		return nil
	}
	return s.write(ctx, o)
}

// Retry implements store.Queue.
func (s *Store) Retry(ctx context.Context, id int64, owner string, nextAttemptAt time.Time, lastError string) error {
	o := &op{}
	o.fn = func(tx *sql.Tx) error {
		now := s.now()
		next := nextAttemptAt
		if next.IsZero() {
			next = now
		}
		b, err := s.leaseUpdate(tx, id, retrySQL, id, owner, lastError, us(next), us(now))
		if err == nil && !next.After(now) {
			o.wake = []store.BackendID{b}
		}
		return err
	}
	return s.write(ctx, o)
}

// DeadLetter implements store.Queue.
func (s *Store) DeadLetter(ctx context.Context, id int64, owner string, reason string) error {
	o := &op{}
	o.fn = func(tx *sql.Tx) error {
		now := us(s.now())
		b, err := s.leaseUpdate(tx, id, `UPDATE deliveries
SET state = 'dead', attempts = attempts + 1, dead_reason = ?3, last_error = ?3, finished_at = ?4, updated_at = ?4,
    lease_expires_at = NULL
WHERE `+leaseHeld, id, owner, reason, now)
		if err == nil {
			o.wake = []store.BackendID{b} // the key's next delivery may proceed
		}
		return err
	}
	return s.write(ctx, o)
}

// Release implements store.Queue.
func (s *Store) Release(ctx context.Context, id int64, owner string) error {
	o := &op{}
	o.fn = func(tx *sql.Tx) error {
		b, err := s.leaseUpdate(tx, id, `UPDATE deliveries SET lease_expires_at = NULL, updated_at = ?3
WHERE `+leaseHeld, id, owner, us(s.now()))
		if err == nil {
			o.wake = []store.BackendID{b}
		}
		return err
	}
	return s.write(ctx, o)
}

// ReplayDeadLetter implements store.Admin.
func (s *Store) ReplayDeadLetter(ctx context.Context, id int64) error {
	o := &op{}
	o.fn = func(tx *sql.Tx) error {
		now := us(s.now())
		var b store.BackendID
		err := tx.QueryRow(`UPDATE deliveries
SET state = 'pending', seq = (SELECT MAX(seq) + 1 FROM deliveries), attempts = 0, next_attempt_at = ?2,
    enqueued_at = ?2, updated_at = ?2, finished_at = NULL, lease_expires_at = NULL, dead_reason = ''
WHERE id = ?1 AND state = 'dead' RETURNING backend_type, backend_name`, id, now).Scan(&b.Type, &b.Name)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("dead letter %d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("replay dead letter %d: %w", id, err)
		}
		o.wake = []store.BackendID{b}
		return nil
	}
	return s.write(ctx, o)
}

// DropDeadLetter implements store.Admin.
func (s *Store) DropDeadLetter(ctx context.Context, id int64) error {
	return s.write(ctx, &op{fn: func(tx *sql.Tx) error {
		r, err := tx.Exec(`DELETE FROM deliveries WHERE id = ? AND state = 'dead'`, id)
		if err != nil {
			return fmt.Errorf("drop dead letter %d: %w", id, err)
		}
		if n, err := affected(r); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("dead letter %d: %w", id, store.ErrNotFound)
		}
		return nil
	}})
}

// inList returns "?, ?, ?" and the ids as arguments.
func inList(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", "), args
}

func scanIDs(rows *sql.Rows) ([]int64, error) {
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan id: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read ids: %w", err)
	}
	return ids, nil
}
