package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// where builds a conjunction of conditions with ? placeholders.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// page adds keyset paging on column (descending) and returns the ORDER/LIMIT tail.
func (w *where) page(column string, limit int, before int64) string {
	if before > 0 {
		w.add(column+" < ?", before)
	}
	return fmt.Sprintf(" ORDER BY %s DESC LIMIT %d", column, limit)
}

const alertCols = `a.id, a.dedup_key, a.alert_id, a.source, a.schema_name, a.status, a.severity, a.rule,
a.subscription, a.resource_name, a.received_at, a.deliveries`

func scanAlert(r scanner, extra ...any) (store.AlertRecord, error) {
	var (
		a  store.AlertRecord
		at int64
	)
	dest := append([]any{&a.ID, &a.DedupKey, &a.AlertID, &a.Source, &a.Schema, &a.Status, &a.Severity, &a.Rule,
		&a.Subscription, &a.ResourceName, &at, &a.Deliveries}, extra...)
	if err := r.Scan(dest...); err != nil {
		return a, err
	}
	a.ReceivedAt = fromUS(at)
	return a, nil
}

// ListAlerts implements store.Admin.
func (s *Store) ListAlerts(ctx context.Context, f store.AlertFilter, p store.PageRequest) (store.Page[store.AlertRecord], error) {
	var out store.Page[store.AlertRecord]
	limit, before, err := p.Resolve()
	if err != nil {
		return out, err
	}
	var w where
	if f.Source != "" {
		w.add("a.source = ?", f.Source)
	}
	if f.Status != "" {
		w.add("a.status = ?", f.Status)
	}
	if len(f.Severity) > 0 {
		in := strings.TrimSuffix(strings.Repeat("?, ", len(f.Severity)), ", ")
		args := make([]any, len(f.Severity))
		for i, v := range f.Severity {
			args[i] = v
		}
		w.add("a.severity IN ("+in+")", args...)
	}
	if f.Rule != "" {
		w.add("a.rule = ?", f.Rule)
	}
	if f.Subscription != "" {
		w.add("a.subscription = ?", f.Subscription)
	}
	if f.AlertID != "" {
		w.add("a.alert_id = ?", f.AlertID)
	}
	if !f.Since.IsZero() {
		w.add("a.received_at >= ?", us(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("a.received_at < ?", us(f.Until))
	}
	if f.Unrouted {
		w.add("a.deliveries = 0")
	}
	tail := w.page("a.id", limit, before)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+alertCols+` FROM alerts a`+w.String()+tail, w.args...)
	if err != nil {
		return out, unavailable("list alerts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return out, unavailable("scan alert: %w", err)
		}
		out.Items = append(out.Items, a)
	}
	if err := rows.Err(); err != nil {
		return out, unavailable("list alerts: %w", err)
	}
	if n := len(out.Items); n > 0 {
		out.Next = store.NextCursor(n, limit, out.Items[n-1].ID)
	}
	return out, nil
}

// GetAlert implements store.Admin.
func (s *Store) GetAlert(ctx context.Context, id int64) (store.AlertRecord, []store.Delivery, error) {
	// One read transaction, so the alert and its deliveries are one snapshot.
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return store.AlertRecord{}, nil, unavailable("get alert: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var norm string
	var raw, payload []byte
	a, err := scanAlert(tx.QueryRowContext(ctx, `SELECT `+alertCols+`, a.normalized, a.raw, a.payload FROM alerts a WHERE a.id = ?`, id), &norm, &raw, &payload)
	if errors.Is(err, sql.ErrNoRows) {
		return a, nil, fmt.Errorf("alert %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return a, nil, unavailable("get alert: %w", err)
	}
	if a.Normalized, a.Raw, err = storedAlert(payload, norm, raw); err != nil {
		return a, nil, fmt.Errorf("alert %d: %w", id, err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+deliveryCols+` FROM deliveries d WHERE d.alert_id = ? ORDER BY d.id`, id)
	if err != nil {
		return a, nil, unavailable("get alert deliveries: %w", err)
	}
	ds, err := scanDeliveries(rows, false, s.now())
	if err != nil {
		return a, nil, unavailable("get alert deliveries: %w", err)
	}
	return a, ds, nil
}

// GetDelivery implements store.Admin.
func (s *Store) GetDelivery(ctx context.Context, id int64) (store.Delivery, error) {
	d, err := scanDelivery(s.rdb.QueryRowContext(ctx, `SELECT `+deliveryCols+`, a.normalized, a.payload
FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE d.id = ?`, id), true, s.now())
	if errors.Is(err, sql.ErrNoRows) {
		return d, fmt.Errorf("delivery %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return d, unavailable("get delivery: %w", err)
	}
	return d, nil
}

// ListDeliveries implements store.Admin.
func (s *Store) ListDeliveries(ctx context.Context, f store.DeliveryFilter, p store.PageRequest) (store.Page[store.Delivery], error) {
	var out store.Page[store.Delivery]
	limit, before, err := p.Resolve()
	if err != nil {
		return out, err
	}
	now := s.now()
	var w where
	switch f.State {
	case "":
	case store.StatePending:
		w.add("d.state = 'pending' AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= ?)", us(now))
	case store.StateLeased:
		w.add("d.state = 'pending' AND d.lease_expires_at > ?", us(now))
	case store.StateDone, store.StateDead:
		w.add("d.state = ?", string(f.State))
	default:
		return out, fmt.Errorf("%w: delivery state %q", store.ErrInvalid, f.State)
	}
	if f.Backend.Type != "" {
		w.add("d.backend_type = ?", f.Backend.Type)
	}
	if f.Backend.Name != "" {
		w.add("d.backend_name = ?", f.Backend.Name)
	}
	if f.AlertID != 0 {
		w.add("d.alert_id = ?", f.AlertID)
	}
	if f.TicketKey != "" {
		w.add("d.ticket_key = ?", f.TicketKey)
	}
	if f.Route != "" {
		w.add("d.route = ?", f.Route)
	}
	tail := w.page("d.id", limit, before)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+deliveryCols+` FROM deliveries d`+w.String()+tail, w.args...)
	if err != nil {
		return out, unavailable("list deliveries: %w", err)
	}
	out.Items, err = scanDeliveries(rows, false, now)
	if err != nil {
		return out, unavailable("list deliveries: %w", err)
	}
	if n := len(out.Items); n > 0 {
		out.Next = store.NextCursor(n, limit, out.Items[n-1].ID)
	}
	return out, nil
}

// ListDeadLetters implements store.Admin.
func (s *Store) ListDeadLetters(ctx context.Context, backend store.BackendID, p store.PageRequest) (store.Page[store.Delivery], error) {
	return s.ListDeliveries(ctx, store.DeliveryFilter{State: store.StateDead, Backend: backend}, p)
}

// ListTickets implements store.Admin.
func (s *Store) ListTickets(ctx context.Context, f store.TicketFilter, p store.PageRequest) (store.Page[store.Ticket], error) {
	var out store.Page[store.Ticket]
	limit, before, err := p.Resolve()
	if err != nil {
		return out, err
	}
	var w where
	if f.Backend.Type != "" {
		w.add("t.backend_type = ?", f.Backend.Type)
	}
	if f.Backend.Name != "" {
		w.add("t.backend_name = ?", f.Backend.Name)
	}
	if f.Key != "" {
		w.add("t.ticket_key = ?", f.Key)
	}
	if f.State != "" {
		w.add("t.state = ?", string(f.State))
	}
	tail := w.page("t.id", limit, before)
	out.Items, err = readTickets(ctx, s.rdb, `SELECT `+ticketCols+` FROM tickets t`+w.String()+tail, w.args...)
	if err != nil {
		return out, unavailable("list tickets: %w", err)
	}
	if n := len(out.Items); n > 0 {
		out.Next = store.NextCursor(n, limit, out.Items[n-1].ID)
	}
	return out, nil
}

// ListQuarantine implements store.Admin.
func (s *Store) ListQuarantine(ctx context.Context, f store.QuarantineFilter, p store.PageRequest) (store.Page[store.QuarantineItem], error) {
	var out store.Page[store.QuarantineItem]
	limit, before, err := p.Resolve()
	if err != nil {
		return out, err
	}
	var w where
	if f.Source != "" {
		w.add("q.source = ?", f.Source)
	}
	tail := w.page("q.id", limit, before)
	rows, err := s.rdb.QueryContext(ctx, `SELECT q.id, q.source, q.reason, q.received_at, length(q.raw) FROM quarantine q`+w.String()+tail, w.args...)
	if err != nil {
		return out, unavailable("list quarantine: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			q  store.QuarantineItem
			at int64
		)
		if err := rows.Scan(&q.ID, &q.Source, &q.Reason, &at, &q.Size); err != nil {
			return out, unavailable("scan quarantine: %w", err)
		}
		q.ReceivedAt = fromUS(at)
		out.Items = append(out.Items, q)
	}
	if err := rows.Err(); err != nil {
		return out, unavailable("list quarantine: %w", err)
	}
	if n := len(out.Items); n > 0 {
		out.Next = store.NextCursor(n, limit, out.Items[n-1].ID)
	}
	return out, nil
}

// GetQuarantine implements store.Admin.
func (s *Store) GetQuarantine(ctx context.Context, id int64) (store.QuarantineItem, error) {
	var (
		q  store.QuarantineItem
		at int64
	)
	err := s.rdb.QueryRowContext(ctx, `SELECT id, source, reason, received_at, raw FROM quarantine WHERE id = ?`, id).
		Scan(&q.ID, &q.Source, &q.Reason, &at, &q.Raw)
	if errors.Is(err, sql.ErrNoRows) {
		return q, fmt.Errorf("quarantined payload %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return q, unavailable("get quarantined payload: %w", err)
	}
	if q.Raw == nil {
		q.Raw = []byte{}
	}
	q.ReceivedAt, q.Size = fromUS(at), len(q.Raw)
	return q, nil
}

// DropQuarantine implements store.Admin.
func (s *Store) DropQuarantine(ctx context.Context, id int64) error {
	return s.write(ctx, &op{fn: func(tx *sql.Tx) error {
		r, err := tx.Exec(`DELETE FROM quarantine WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("drop quarantined %d: %w", id, err)
		}
		if n, err := affected(r); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("quarantined payload %d: %w", id, store.ErrNotFound)
		}
		return nil
	}})
}

// Stats implements store.Admin.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) { return s.stats(ctx, true) }

// QueueStats implements store.Admin.
func (s *Store) QueueStats(ctx context.Context) (store.Stats, error) { return s.stats(ctx, false) }

// stats reads Stats in one read transaction; the history totals (every
// alert, every done delivery: full index scans) only when totals is set.
func (s *Store) stats(ctx context.Context, totals bool) (store.Stats, error) {
	var st store.Stats
	tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return st, unavailable("stats: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	now := us(s.now())
	if totals {
		err = tx.QueryRowContext(ctx, `SELECT
	(SELECT COUNT(*) FROM alerts),
	(SELECT COUNT(*) FROM deliveries WHERE state = 'done')`).Scan(&st.Alerts, &st.Done)
	}
	if err == nil {
		err = tx.QueryRowContext(ctx, `SELECT
	(SELECT COUNT(*) FROM alerts WHERE deliveries = 0),
	(SELECT COUNT(*) FROM quarantine)`).Scan(&st.Unrouted, &st.Quarantined)
	}
	if err != nil {
		return st, unavailable("stats: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT backend_type, backend_name,
	SUM(state = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at <= ?1)),
	SUM(state = 'pending' AND IFNULL(lease_expires_at, 0) > ?1),
	SUM(state = 'dead'),
	MIN(CASE WHEN state = 'pending' THEN enqueued_at END)
FROM deliveries WHERE state IN ('pending', 'dead')
GROUP BY backend_type, backend_name ORDER BY backend_type, backend_name`, now)
	if err != nil {
		return st, unavailable("stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			b      store.BackendStats
			oldest sql.NullInt64
		)
		if err := rows.Scan(&b.Backend.Type, &b.Backend.Name, &b.Pending, &b.Leased, &b.Dead, &oldest); err != nil {
			return st, unavailable("stats: %w", err)
		}
		b.OldestEnqueuedAt = fromNullUS(oldest)
		st.Pending += b.Pending
		st.Leased += b.Leased
		st.Dead += b.Dead
		st.Backends = append(st.Backends, b)
	}
	if err := rows.Err(); err != nil {
		return st, unavailable("stats: %w", err)
	}
	return st, nil
}
