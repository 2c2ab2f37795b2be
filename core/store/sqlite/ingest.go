package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// Ingest implements store.Ingester.
func (s *Store) Ingest(ctx context.Context, rec store.IngestRecord) (store.IngestResult, error) {
	ins, err := s.prepareIngest(rec)
	if err != nil {
		return store.IngestResult{}, err
	}
	var res store.IngestResult
	o := &op{}
	o.fn = func(tx *sql.Tx) error {
		var err error
		res, err = s.execIngest(ins, tx)
		if err == nil && !res.Duplicate {
			o.wake = ins.backends
		}
		return err
	}
	if err := s.write(ctx, o); err != nil {
		return store.IngestResult{}, fmt.Errorf("ingest %s: %w", rec.Alert.DedupKey, err)
	}
	return res, nil
}

// ReplayQuarantine implements store.Ingester.
func (s *Store) ReplayQuarantine(ctx context.Context, id int64, rec store.IngestRecord) (store.IngestResult, error) {
	ins, err := s.prepareIngest(rec)
	if err != nil {
		return store.IngestResult{}, err
	}
	var res store.IngestResult
	o := &op{}
	o.fn = func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRow(`SELECT COUNT(*) FROM quarantine WHERE id = ?`, id).Scan(&n); err != nil {
			return fmt.Errorf("find quarantined %d: %w", id, err)
		}
		if n == 0 {
			return fmt.Errorf("quarantined payload %d: %w", id, store.ErrNotFound)
		}
		if _, err := tx.Exec(`DELETE FROM quarantine WHERE id = ?`, id); err != nil {
			return fmt.Errorf("delete quarantined %d: %w", id, err)
		}
		var err error
		res, err = s.execIngest(ins, tx)
		if err == nil && !res.Duplicate {
			o.wake = ins.backends
		}
		return err
	}
	if err := s.write(ctx, o); err != nil {
		return store.IngestResult{}, fmt.Errorf("replay quarantined %d: %w", id, err)
	}
	return res, nil
}

// Quarantine implements store.Ingester.
func (s *Store) Quarantine(ctx context.Context, rec store.QuarantineRecord) (int64, error) {
	at := rec.ReceivedAt
	if at.IsZero() {
		at = s.now()
	}
	raw := rec.Raw
	if raw == nil {
		raw = []byte{}
	}
	var id int64
	o := &op{fn: func(tx *sql.Tx) error {
		return tx.QueryRow(`INSERT INTO quarantine (source, reason, received_at, raw) VALUES (?, ?, ?, ?) RETURNING id`,
			rec.Source, rec.Reason, us(at), raw).Scan(&id)
	}}
	if err := s.write(ctx, o); err != nil {
		return 0, fmt.Errorf("quarantine: %w", err)
	}
	return id, nil
}

// Hot statements, prepared at Open.
const (
	insertAlertSQL = `
INSERT INTO alerts (dedup_key, alert_id, source, schema_name, status, severity, rule, subscription,
                    resource_name, received_at, deliveries, normalized, raw, payload)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', x'', ?)
ON CONFLICT (dedup_key) DO NOTHING`
	dupAlertSQL       = `SELECT id FROM alerts WHERE dedup_key = ?`
	insertDeliverySQL = `
INSERT INTO deliveries (seq, alert_id, route, backend_type, backend_name, ticket_key, event, ticket, options,
                        state, next_attempt_at, enqueued_at, created_at, updated_at)
VALUES ((SELECT IFNULL(MAX(seq), 0) + 1 FROM deliveries), ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?)`
)

// ingest is an IngestRecord validated and encoded outside the writer, so
// the writer only executes statements.
type ingest struct {
	rec      store.IngestRecord
	payload  []byte // see payload.go
	at       int64  // received_at
	now      int64  // queue timestamps
	backends []store.BackendID
	tickets  []string
	options  []string
}

func (s *Store) prepareIngest(rec store.IngestRecord) (*ingest, error) {
	if err := rec.Validate(); err != nil {
		return nil, err
	}
	head, alertCtx, tail, err := encodeAlert(&rec.Alert)
	if err != nil {
		return nil, fmt.Errorf("%w: encode alert: %v", store.ErrInvalid, err)
	}
	at := rec.ReceivedAt
	if at.IsZero() {
		at = s.now()
	}
	in := &ingest{rec: rec, payload: encodePayload(head, alertCtx, tail, rec.Raw), at: us(at), now: us(s.now())}
	seen := map[store.BackendID]bool{}
	for _, d := range rec.Deliveries {
		if !seen[d.Backend] {
			seen[d.Backend] = true
			in.backends = append(in.backends, d.Backend)
		}
		in.tickets = append(in.tickets, jsonText(d.Ticket))
		in.options = append(in.options, jsonText(d.Options))
	}
	return in, nil
}

func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	return string(raw)
}

// exec inserts the alert and its deliveries, or finds the duplicate.
func (s *Store) execIngest(in *ingest, tx *sql.Tx) (store.IngestResult, error) {
	a := in.rec.Alert
	// Plain INSERTs and last_insert_rowid rather than RETURNING: SQLite
	// implements RETURNING with an ephemeral table per statement, a
	// measurable share of the writer's time.
	r, err := s.exec(tx, insertAlertSQL,
		a.DedupKey, a.ID, in.rec.Source, a.Schema, a.Status, a.Severity, a.Rule, a.Subscription,
		a.ResourceName, in.at, len(in.rec.Deliveries), in.payload)
	if err != nil {
		return store.IngestResult{}, fmt.Errorf("insert alert: %w", err)
	}
	n, err := affected(r)
	if err != nil {
		return store.IngestResult{}, err
	}
	var alertID int64
	if n == 0 {
		// The unique dedup_key made the insert a no-op: a duplicate.
		if err := s.queryRow(tx, dupAlertSQL, a.DedupKey).Scan(&alertID); err != nil {
			return store.IngestResult{}, fmt.Errorf("read duplicate: %w", err)
		}
		return store.IngestResult{AlertID: alertID, Duplicate: true}, nil
	}
	if alertID, err = r.LastInsertId(); err != nil {
		return store.IngestResult{}, fmt.Errorf("insert alert: %w", err)
	}
	res := store.IngestResult{AlertID: alertID, Deliveries: make([]int64, 0, len(in.rec.Deliveries))}
	for i, d := range in.rec.Deliveries {
		r, err := s.exec(tx, insertDeliverySQL,
			alertID, d.Route, d.Backend.Type, d.Backend.Name, d.TicketKey, string(d.Event), in.tickets[i], in.options[i],
			in.now, in.now, in.now, in.now)
		if err != nil {
			return store.IngestResult{}, fmt.Errorf("insert delivery: %w", err)
		}
		id, err := r.LastInsertId()
		if err != nil {
			return store.IngestResult{}, fmt.Errorf("insert delivery: %w", err)
		}
		res.Deliveries = append(res.Deliveries, id)
	}
	return res, nil
}
