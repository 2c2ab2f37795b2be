package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// querier is what reads need from the pool and from a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const ticketCols = `t.id, t.backend_type, t.backend_name, t.ticket_key, t.generation, t.ref_id, t.ref_number,
t.ref_url, t.ref_state, t.state, t.created_at, t.resolved_at, t.updated_at, t.reopens, t.last_delivery_id`

// readTickets runs a query selecting ticketCols and loads the bindings.
func readTickets(ctx context.Context, q querier, query string, args ...any) ([]store.Ticket, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read tickets: %w", err)
	}
	out, err := scanTickets(rows)
	if err != nil || len(out) == 0 {
		return out, err
	}
	ids := make([]int64, len(out))
	for i := range out {
		ids[i] = out[i].ID
	}
	rows, err = q.Query(ctx, `SELECT ticket_id, item, ci_id, ci_name, ci_class, ci_created, bound_at
FROM ticket_cis WHERE ticket_id = ANY($1) ORDER BY ticket_id, item`, ids)
	if err != nil {
		return nil, fmt.Errorf("read CI bindings: %w", err)
	}
	if err := scanBindings(rows, out); err != nil {
		return nil, err
	}
	return out, nil
}

// scanTickets reads rows of ticketCols (without bindings) and closes rows.
func scanTickets(rows pgx.Rows) ([]store.Ticket, error) {
	defer rows.Close()
	out := []store.Ticket{}
	for rows.Next() {
		var (
			t        store.Ticket
			state    string
			resolved *time.Time
		)
		if err := rows.Scan(&t.ID, &t.Backend.Type, &t.Backend.Name, &t.Key, &t.Generation, &t.Ref.ID, &t.Ref.Number,
			&t.Ref.URL, &t.Ref.State, &state, &t.CreatedAt, &resolved, &t.UpdatedAt, &t.Reopens, &t.LastDeliveryID); err != nil {
			return nil, fmt.Errorf("scan ticket: %w", err)
		}
		t.State = store.TicketState(state)
		t.CreatedAt, t.UpdatedAt, t.ResolvedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC(), fromNull(resolved)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tickets: %w", err)
	}
	return out, nil
}

// scanBindings reads rows of (ticket_id, item, ci_id, ci_name, ci_class,
// ci_created, bound_at) ordered by ticket and item into the tickets of ts,
// and closes rows.
func scanBindings(rows pgx.Rows, ts []store.Ticket) error {
	defer rows.Close()
	byID := make(map[int64]*store.Ticket, len(ts))
	for i := range ts {
		byID[ts[i].ID] = &ts[i]
	}
	for rows.Next() {
		var (
			tid int64
			b   store.CIBinding
		)
		if err := rows.Scan(&tid, &b.Item, &b.Ref.ID, &b.Ref.Name, &b.Ref.Class, &b.Ref.Created, &b.BoundAt); err != nil {
			return fmt.Errorf("scan CI binding: %w", err)
		}
		b.BoundAt = b.BoundAt.UTC()
		if t := byID[tid]; t != nil {
			t.CIBindings = append(t.CIBindings, b)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read CI bindings: %w", err)
	}
	return nil
}

// putTicket upserts t and its bindings inside tx and returns it as stored.
func putTicket(ctx context.Context, tx pgx.Tx, t store.Ticket, now time.Time) (store.Ticket, error) {
	created := t.CreatedAt
	if created.IsZero() {
		created = now
	}
	var id int64
	err := tx.QueryRow(ctx, `
INSERT INTO tickets (backend_type, backend_name, ticket_key, generation, ref_id, ref_number, ref_url, ref_state,
                     state, created_at, resolved_at, updated_at, reopens, last_delivery_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (backend_type, backend_name, ticket_key, generation) DO UPDATE SET
	ref_id = excluded.ref_id, ref_number = excluded.ref_number, ref_url = excluded.ref_url,
	ref_state = excluded.ref_state, state = excluded.state, resolved_at = excluded.resolved_at,
	updated_at = excluded.updated_at, reopens = excluded.reopens, last_delivery_id = excluded.last_delivery_id
RETURNING id`,
		t.Backend.Type, t.Backend.Name, t.Key, t.Generation, t.Ref.ID, t.Ref.Number, t.Ref.URL, t.Ref.State,
		string(t.State), created, nullTime(t.ResolvedAt), now, t.Reopens, t.LastDeliveryID).Scan(&id)
	if err != nil {
		return store.Ticket{}, fmt.Errorf("upsert ticket: %w", err)
	}
	for _, b := range t.CIBindings {
		if err := putBinding(ctx, tx, id, b, now); err != nil {
			return store.Ticket{}, err
		}
	}
	ts, err := readTickets(ctx, tx, `SELECT `+ticketCols+` FROM tickets t WHERE t.id = $1`, id)
	if err != nil {
		return store.Ticket{}, err
	}
	if len(ts) != 1 {
		return store.Ticket{}, fmt.Errorf("read back ticket %d: missing", id)
	}
	return ts[0], nil
}

func putBinding(ctx context.Context, tx pgx.Tx, ticketID int64, b store.CIBinding, now time.Time) error {
	bound := b.BoundAt
	if bound.IsZero() {
		bound = now
	}
	_, err := tx.Exec(ctx, `
INSERT INTO ticket_cis (ticket_id, item, ci_id, ci_name, ci_class, ci_created, bound_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (ticket_id, item) DO UPDATE SET ci_id = excluded.ci_id, ci_name = excluded.ci_name,
	ci_class = excluded.ci_class, ci_created = excluded.ci_created, bound_at = excluded.bound_at`,
		ticketID, b.Item, b.Ref.ID, b.Ref.Name, b.Ref.Class, b.Ref.Created, bound)
	if err != nil {
		return fmt.Errorf("upsert CI binding: %w", err)
	}
	return nil
}

// GetTicket implements store.Tickets.
func (s *Store) GetTicket(ctx context.Context, backend store.BackendID, key string) (store.Ticket, error) {
	ts, err := readTickets(ctx, s.pool, `SELECT `+ticketCols+` FROM tickets t
WHERE t.backend_type = $1 AND t.backend_name = $2 AND t.ticket_key = $3 ORDER BY t.generation DESC LIMIT 1`,
		backend.Type, backend.Name, key)
	if err != nil {
		return store.Ticket{}, classify(fmt.Errorf("get ticket: %w", err))
	}
	if len(ts) == 0 {
		return store.Ticket{}, fmt.Errorf("ticket %s %q: %w", backend, key, store.ErrNotFound)
	}
	return ts[0], nil
}

// TicketHistory implements store.Tickets.
func (s *Store) TicketHistory(ctx context.Context, backend store.BackendID, key string) ([]store.Ticket, error) {
	ts, err := readTickets(ctx, s.pool, `SELECT `+ticketCols+` FROM tickets t
WHERE t.backend_type = $1 AND t.backend_name = $2 AND t.ticket_key = $3 ORDER BY t.generation`,
		backend.Type, backend.Name, key)
	if err != nil {
		return nil, classify(fmt.Errorf("ticket history: %w", err))
	}
	return ts, nil
}

// PutTicket implements store.Tickets.
func (s *Store) PutTicket(ctx context.Context, t store.Ticket) (store.Ticket, error) {
	if err := t.Validate(); err != nil {
		return store.Ticket{}, err
	}
	var out store.Ticket
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = putTicket(ctx, tx, t, s.now())
		return err
	})
	if err != nil {
		return store.Ticket{}, fmt.Errorf("put ticket %s %q: %w", t.Backend, t.Key, err)
	}
	return out, nil
}

// AddCIBinding implements store.Tickets.
func (s *Store) AddCIBinding(ctx context.Context, backend store.BackendID, key string, generation int, b store.CIBinding) error {
	if b.Item == "" {
		return fmt.Errorf("%w: CI binding without item", store.ErrInvalid)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM tickets WHERE backend_type = $1 AND backend_name = $2 AND ticket_key = $3 AND generation = $4`,
			backend.Type, backend.Name, key, generation).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("ticket %s %q generation %d: %w", backend, key, generation, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("find ticket: %w", err)
		}
		return putBinding(ctx, tx, id, b, s.now())
	})
}
