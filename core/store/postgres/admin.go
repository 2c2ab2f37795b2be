package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// where builds a conjunction of conditions; each "?" in a condition becomes
// the next positional parameter.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	var b strings.Builder
	for _, r := range cond {
		if r == '?' {
			w.args = append(w.args, nil) // reserve the position
			b.WriteString("$" + strconv.Itoa(len(w.args)))
			continue
		}
		b.WriteRune(r)
	}
	copy(w.args[len(w.args)-len(args):], args)
	w.conds = append(w.conds, b.String())
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

func scanAlert(r pgx.Row, extra ...any) (store.AlertRecord, error) {
	var a store.AlertRecord
	dest := append([]any{&a.ID, &a.DedupKey, &a.AlertID, &a.Source, &a.Schema, &a.Status, &a.Severity, &a.Rule,
		&a.Subscription, &a.ResourceName, &a.ReceivedAt, &a.Deliveries}, extra...)
	if err := r.Scan(dest...); err != nil {
		return a, err
	}
	a.ReceivedAt = a.ReceivedAt.UTC()
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
		w.add("a.severity = ANY(?)", f.Severity)
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
		w.add("a.received_at >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		w.add("a.received_at < ?", f.Until)
	}
	if f.Unrouted {
		w.add("a.deliveries = 0")
	}
	tail := w.page("a.id", limit, before)
	rows, err := s.pool.Query(ctx, `SELECT `+alertCols+` FROM alerts a`+w.String()+tail, w.args...)
	if err != nil {
		return out, classify(fmt.Errorf("list alerts: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return out, classify(fmt.Errorf("scan alert: %w", err))
		}
		out.Items = append(out.Items, a)
	}
	if err := rows.Err(); err != nil {
		return out, classify(fmt.Errorf("list alerts: %w", err))
	}
	if n := len(out.Items); n > 0 {
		out.Next = store.NextCursor(n, limit, out.Items[n-1].ID)
	}
	return out, nil
}

// GetAlert implements store.Admin.
func (s *Store) GetAlert(ctx context.Context, id int64) (store.AlertRecord, []store.Delivery, error) {
	var (
		a  store.AlertRecord
		ds []store.Delivery
	)
	// One repeatable-read snapshot for the alert and its deliveries.
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return a, nil, classify(fmt.Errorf("get alert: %w", err))
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // read-only
	var norm string
	var raw []byte
	a, err = scanAlert(tx.QueryRow(ctx, `SELECT `+alertCols+`, a.normalized, a.raw FROM alerts a WHERE a.id = $1`, id), &norm, &raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, nil, fmt.Errorf("alert %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return a, nil, classify(fmt.Errorf("get alert: %w", err))
	}
	a.Normalized = []byte(norm)
	if raw == nil {
		raw = []byte{}
	}
	a.Raw = raw
	rows, err := tx.Query(ctx, `SELECT `+deliveryCols+` FROM deliveries d WHERE d.alert_id = $1 ORDER BY d.id`, id)
	if err != nil {
		return a, nil, classify(fmt.Errorf("get alert deliveries: %w", err))
	}
	ds, err = scanDeliveries(rows, false, s.now())
	if err != nil {
		return a, nil, classify(fmt.Errorf("get alert deliveries: %w", err))
	}
	return a, ds, nil
}

// GetDelivery implements store.Admin.
func (s *Store) GetDelivery(ctx context.Context, id int64) (store.Delivery, error) {
	d, err := scanDelivery(s.pool.QueryRow(ctx, `SELECT `+deliveryCols+`, a.normalized
FROM deliveries d JOIN alerts a ON a.id = d.alert_id WHERE d.id = $1`, id), true, s.now())
	if errors.Is(err, pgx.ErrNoRows) {
		return d, fmt.Errorf("delivery %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return d, classify(fmt.Errorf("get delivery: %w", err))
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
		w.add("d.state = 'pending' AND (d.lease_expires_at IS NULL OR d.lease_expires_at <= ?)", now)
	case store.StateLeased:
		w.add("d.state = 'pending' AND d.lease_expires_at > ?", now)
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
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryCols+` FROM deliveries d`+w.String()+tail, w.args...)
	if err != nil {
		return out, classify(fmt.Errorf("list deliveries: %w", err))
	}
	out.Items, err = scanDeliveries(rows, false, now)
	if err != nil {
		return out, classify(fmt.Errorf("list deliveries: %w", err))
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
	out.Items, err = readTickets(ctx, s.pool, `SELECT `+ticketCols+` FROM tickets t`+w.String()+tail, w.args...)
	if err != nil {
		return out, classify(fmt.Errorf("list tickets: %w", err))
	}
	if n := len(out.Items); n > 0 {
		out.Next = store.NextCursor(n, limit, out.Items[n-1].ID)
	} else {
		out.Items = nil
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
	rows, err := s.pool.Query(ctx, `SELECT q.id, q.source, q.reason, q.received_at, length(q.raw) FROM quarantine q`+w.String()+tail, w.args...)
	if err != nil {
		return out, classify(fmt.Errorf("list quarantine: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var q store.QuarantineItem
		if err := rows.Scan(&q.ID, &q.Source, &q.Reason, &q.ReceivedAt, &q.Size); err != nil {
			return out, classify(fmt.Errorf("scan quarantine: %w", err))
		}
		q.ReceivedAt = q.ReceivedAt.UTC()
		out.Items = append(out.Items, q)
	}
	if err := rows.Err(); err != nil {
		return out, classify(fmt.Errorf("list quarantine: %w", err))
	}
	if n := len(out.Items); n > 0 {
		out.Next = store.NextCursor(n, limit, out.Items[n-1].ID)
	}
	return out, nil
}

// GetQuarantine implements store.Admin.
func (s *Store) GetQuarantine(ctx context.Context, id int64) (store.QuarantineItem, error) {
	var q store.QuarantineItem
	err := s.pool.QueryRow(ctx, `SELECT id, source, reason, received_at, raw FROM quarantine WHERE id = $1`, id).
		Scan(&q.ID, &q.Source, &q.Reason, &q.ReceivedAt, &q.Raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return q, fmt.Errorf("quarantined payload %d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return q, classify(fmt.Errorf("get quarantined payload: %w", err))
	}
	if q.Raw == nil {
		q.Raw = []byte{}
	}
	q.ReceivedAt, q.Size = q.ReceivedAt.UTC(), len(q.Raw)
	return q, nil
}

// DropQuarantine implements store.Admin.
func (s *Store) DropQuarantine(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM quarantine WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("drop quarantined %d: %w", id, classify(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("quarantined payload %d: %w", id, store.ErrNotFound)
	}
	return nil
}

// Stats implements store.Admin.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) { return s.stats(ctx, true) }

// QueueStats implements store.Admin.
func (s *Store) QueueStats(ctx context.Context) (store.Stats, error) { return s.stats(ctx, false) }

// stats reads Stats in one snapshot; the history totals (every alert,
// every done delivery: full scans) only when totals is set.
func (s *Store) stats(ctx context.Context, totals bool) (store.Stats, error) {
	var st store.Stats
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return st, classify(fmt.Errorf("stats: %w", err))
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // read-only
	now := s.now()
	if totals {
		err = tx.QueryRow(ctx, `SELECT
	(SELECT COUNT(*) FROM alerts),
	(SELECT COUNT(*) FROM deliveries WHERE state = 'done')`).Scan(&st.Alerts, &st.Done)
	}
	if err == nil {
		err = tx.QueryRow(ctx, `SELECT
	(SELECT COUNT(*) FROM alerts WHERE deliveries = 0),
	(SELECT COUNT(*) FROM quarantine)`).Scan(&st.Unrouted, &st.Quarantined)
	}
	if err != nil {
		return st, classify(fmt.Errorf("stats: %w", err))
	}
	rows, err := tx.Query(ctx, `SELECT backend_type, backend_name,
	COUNT(*) FILTER (WHERE state = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at <= $1)),
	COUNT(*) FILTER (WHERE state = 'pending' AND lease_expires_at > $1),
	COUNT(*) FILTER (WHERE state = 'dead'),
	MIN(enqueued_at) FILTER (WHERE state = 'pending')
FROM deliveries WHERE state IN ('pending', 'dead')
GROUP BY backend_type, backend_name ORDER BY backend_type, backend_name`, now)
	if err != nil {
		return st, classify(fmt.Errorf("stats: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var (
			b      store.BackendStats
			oldest *time.Time
		)
		if err := rows.Scan(&b.Backend.Type, &b.Backend.Name, &b.Pending, &b.Leased, &b.Dead, &oldest); err != nil {
			return st, classify(fmt.Errorf("stats: %w", err))
		}
		b.OldestEnqueuedAt = fromNull(oldest)
		st.Pending += b.Pending
		st.Leased += b.Leased
		st.Dead += b.Dead
		st.Backends = append(st.Backends, b)
	}
	if err := rows.Err(); err != nil {
		return st, classify(fmt.Errorf("stats: %w", err))
	}
	return st, nil
}
