package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// querier is what reads need from *sql.DB and *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const ticketCols = `t.id, t.backend_type, t.backend_name, t.ticket_key, t.generation, t.ref_id, t.ref_number,
t.ref_url, t.ref_state, t.state, t.created_at, t.resolved_at, t.updated_at, t.reopens, t.last_delivery_id`

func scanTicket(r scanner) (store.Ticket, error) {
	var (
		t            store.Ticket
		state        string
		created, upd int64
		resolved     sql.NullInt64
	)
	err := r.Scan(&t.ID, &t.Backend.Type, &t.Backend.Name, &t.Key, &t.Generation, &t.Ref.ID, &t.Ref.Number,
		&t.Ref.URL, &t.Ref.State, &state, &created, &resolved, &upd, &t.Reopens, &t.LastDeliveryID)
	if err != nil {
		return t, err
	}
	t.State = store.TicketState(state)
	t.CreatedAt, t.UpdatedAt, t.ResolvedAt = fromUS(created), fromUS(upd), fromNullUS(resolved)
	return t, nil
}

// readTickets runs a query selecting ticketCols and loads the bindings.
func readTickets(ctx context.Context, q querier, query string, args ...any) ([]store.Ticket, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read tickets: %w", err)
	}
	var out []store.Ticket
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan ticket: %w", err)
		}
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read tickets: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]int64, len(out))
	byID := make(map[int64]*store.Ticket, len(out))
	for i := range out {
		ids[i] = out[i].ID
		byID[out[i].ID] = &out[i]
	}
	in, args := inList(ids)
	rows, err = q.QueryContext(ctx, `SELECT ticket_id, item, ci_id, ci_name, ci_class, ci_created, bound_at
FROM ticket_cis WHERE ticket_id IN (`+in+`) ORDER BY ticket_id, item`, args...)
	if err != nil {
		return nil, fmt.Errorf("read CI bindings: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			tid   int64
			b     store.CIBinding
			bound int64
		)
		if err := rows.Scan(&tid, &b.Item, &b.Ref.ID, &b.Ref.Name, &b.Ref.Class, &b.Ref.Created, &bound); err != nil {
			return nil, fmt.Errorf("scan CI binding: %w", err)
		}
		b.BoundAt = fromUS(bound)
		t := byID[tid]
		t.CIBindings = append(t.CIBindings, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read CI bindings: %w", err)
	}
	return out, nil
}

// Hot ticket statements, prepared at Open.
const (
	putTicketSQL = `
INSERT INTO tickets (backend_type, backend_name, ticket_key, generation, ref_id, ref_number, ref_url, ref_state,
                     state, created_at, resolved_at, updated_at, reopens, last_delivery_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (backend_type, backend_name, ticket_key, generation) DO UPDATE SET
	ref_id = excluded.ref_id, ref_number = excluded.ref_number, ref_url = excluded.ref_url,
	ref_state = excluded.ref_state, state = excluded.state, resolved_at = excluded.resolved_at,
	updated_at = excluded.updated_at, reopens = excluded.reopens, last_delivery_id = excluded.last_delivery_id
RETURNING id`
	ticketByIDSQL  = `SELECT ` + ticketCols + ` FROM tickets t WHERE t.id = ?`
	ticketByKeySQL = `SELECT ` + ticketCols + ` FROM tickets t
WHERE t.backend_type = ? AND t.backend_name = ? AND t.ticket_key = ? ORDER BY t.generation DESC LIMIT 1`
	// the bindings of one ticket, as readTickets builds the query for one id
	ticketCIsSQL = `SELECT ticket_id, item, ci_id, ci_name, ci_class, ci_created, bound_at
FROM ticket_cis WHERE ticket_id IN (?) ORDER BY ticket_id, item`
)

// putTicket upserts t and its bindings inside tx. With readBack it returns
// the ticket as stored; without, only its id is set (a caller that discards
// the result saves the reads).
func (s *Store) putTicket(tx *sql.Tx, t store.Ticket, now time.Time, readBack bool) (store.Ticket, error) {
	created := t.CreatedAt
	if created.IsZero() {
		created = now
	}
	var id int64
	err := s.queryRow(tx, putTicketSQL,
		t.Backend.Type, t.Backend.Name, t.Key, t.Generation, t.Ref.ID, t.Ref.Number, t.Ref.URL, t.Ref.State,
		string(t.State), us(created), nullUS(t.ResolvedAt), us(now), t.Reopens, t.LastDeliveryID).Scan(&id)
	if err != nil {
		return store.Ticket{}, fmt.Errorf("upsert ticket: %w", err)
	}
	for _, b := range t.CIBindings {
		if err := putBinding(tx, id, b, now); err != nil {
			return store.Ticket{}, err
		}
	}
	if !readBack {
		return store.Ticket{ID: id}, nil
	}
	ts, err := readTickets(context.Background(), txQuerier{s, tx}, ticketByIDSQL, id)
	if err != nil || len(ts) != 1 {
		return store.Ticket{}, fmt.Errorf("read back ticket %d: %w", id, errors.Join(err, errors.New("missing")))
	}
	return ts[0], nil
}

// txQuerier and dbQuerier run the hot statements prepared at Open in a
// write transaction or on the read pool, and any other query as given.
type txQuerier struct {
	s  *Store
	tx *sql.Tx
}

func (q txQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return q.s.queryRow(q.tx, query, args...)
}

func (q txQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.s.query(q.tx, query, args...)
}

type dbQuerier struct{ s *Store }

func (q dbQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st, ok := q.s.rstmts[query]; ok {
		return st.QueryRowContext(ctx, args...)
	}
	return q.s.rdb.QueryRowContext(ctx, query, args...)
}

func (q dbQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st, ok := q.s.rstmts[query]; ok {
		return st.QueryContext(ctx, args...)
	}
	return q.s.rdb.QueryContext(ctx, query, args...)
}

func putBinding(tx *sql.Tx, ticketID int64, b store.CIBinding, now time.Time) error {
	bound := b.BoundAt
	if bound.IsZero() {
		bound = now
	}
	_, err := tx.Exec(`
INSERT INTO ticket_cis (ticket_id, item, ci_id, ci_name, ci_class, ci_created, bound_at)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (ticket_id, item) DO UPDATE SET ci_id = excluded.ci_id, ci_name = excluded.ci_name,
	ci_class = excluded.ci_class, ci_created = excluded.ci_created, bound_at = excluded.bound_at`,
		ticketID, b.Item, b.Ref.ID, b.Ref.Name, b.Ref.Class, b.Ref.Created, us(bound))
	if err != nil {
		return fmt.Errorf("upsert CI binding: %w", err)
	}
	return nil
}

// GetTicket implements store.Tickets.
func (s *Store) GetTicket(ctx context.Context, backend store.BackendID, key string) (store.Ticket, error) {
	ts, err := readTickets(ctx, dbQuerier{s}, ticketByKeySQL, backend.Type, backend.Name, key)
	if err != nil {
		return store.Ticket{}, unavailable("get ticket: %w", err)
	}
	if len(ts) == 0 {
		return store.Ticket{}, fmt.Errorf("ticket %s %q: %w", backend, key, store.ErrNotFound)
	}
	return ts[0], nil
}

// TicketHistory implements store.Tickets.
func (s *Store) TicketHistory(ctx context.Context, backend store.BackendID, key string) ([]store.Ticket, error) {
	ts, err := readTickets(ctx, s.rdb, `SELECT `+ticketCols+` FROM tickets t
WHERE t.backend_type = ? AND t.backend_name = ? AND t.ticket_key = ? ORDER BY t.generation`,
		backend.Type, backend.Name, key)
	if err != nil {
		return nil, unavailable("ticket history: %w", err)
	}
	return ts, nil
}

// PutTicket implements store.Tickets.
func (s *Store) PutTicket(ctx context.Context, t store.Ticket) (store.Ticket, error) {
	if err := t.Validate(); err != nil {
		return store.Ticket{}, err
	}
	var out store.Ticket
	err := s.write(ctx, &op{fn: func(tx *sql.Tx) error {
		var err error
		out, err = s.putTicket(tx, t, s.now(), true)
		return err
	}})
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
	return s.write(ctx, &op{fn: func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRow(`SELECT id FROM tickets WHERE backend_type = ? AND backend_name = ? AND ticket_key = ? AND generation = ?`,
			backend.Type, backend.Name, key, generation).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("ticket %s %q generation %d: %w", backend, key, generation, store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("find ticket: %w", err)
		}
		return putBinding(tx, id, b, s.now())
	}})
}
