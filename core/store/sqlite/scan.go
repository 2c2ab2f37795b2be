package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// deliveryCols are the columns scanDelivery reads, for table alias d.
const deliveryCols = `d.id, d.alert_id, d.route, d.backend_type, d.backend_name, d.ticket_key, d.event, d.ticket,
d.options, d.state, d.attempts, d.next_attempt_at, d.enqueued_at, d.created_at, d.updated_at, d.finished_at,
d.lease_owner, d.lease_expires_at, d.last_error, d.dead_reason, d.outcome`

type scanner interface{ Scan(dest ...any) error }

// scanDelivery reads deliveryCols (plus a.normalized and a.payload, the
// alert JSON, when withAlert) and reports a pending delivery under a live
// lease (at now) as leased.
func scanDelivery(r scanner, withAlert bool, now time.Time) (store.Delivery, error) {
	var (
		d                      store.Delivery
		ticket, options, state string
		event                  string
		next, enq, cre, upd    int64
		fin, lease             sql.NullInt64
		alertJSON              string
		payload                []byte
	)
	dest := []any{&d.ID, &d.AlertID, &d.Route, &d.Backend.Type, &d.Backend.Name, &d.TicketKey, &event, &ticket,
		&options, &state, &d.Attempts, &next, &enq, &cre, &upd, &fin,
		&d.LeaseOwner, &lease, &d.LastError, &d.DeadReason, &d.Outcome}
	if withAlert {
		dest = append(dest, &alertJSON, &payload)
	}
	if err := r.Scan(dest...); err != nil {
		return d, fmt.Errorf("scan delivery: %w", err)
	}
	d.Event = store.Event(event)
	d.Ticket = json.RawMessage(ticket)
	d.Options = json.RawMessage(options)
	d.State = store.DeliveryState(state)
	d.NextAttemptAt, d.EnqueuedAt, d.CreatedAt, d.UpdatedAt = fromUS(next), fromUS(enq), fromUS(cre), fromUS(upd)
	d.FinishedAt = fromNullUS(fin)
	d.LeaseExpiresAt = fromNullUS(lease)
	if d.State == store.StatePending && lease.Valid && lease.Int64 > us(now) {
		d.State = store.StateLeased
	}
	if withAlert {
		norm, _, err := storedAlert(payload, alertJSON, nil)
		if err != nil {
			return d, fmt.Errorf("delivery %d: %w", d.ID, err)
		}
		d.Alert = norm
	}
	return d, nil
}

func scanDeliveries(rows *sql.Rows, withAlert bool, now time.Time) ([]store.Delivery, error) {
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows, withAlert, now)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read deliveries: %w", err)
	}
	return out, nil
}
