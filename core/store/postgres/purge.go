package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/itsmbridge/itsmbridge/core/store"
)

var _ store.Purger = (*Store)(nil)

// Purge implements store.Purger in one transaction. Replicas may purge at
// the same time: FOR UPDATE SKIP LOCKED makes each take different rows.
func (s *Store) Purge(ctx context.Context, cutoff time.Time, limit int) (store.PurgeResult, error) {
	if limit <= 0 {
		return store.PurgeResult{}, fmt.Errorf("%w: purge: limit must be positive", store.ErrInvalid)
	}
	var res store.PurgeResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = store.PurgeResult{}
		// Deliveries are only ever inserted with their alert, and a done
		// delivery never changes state again, so an alert whose deliveries
		// are all done in this snapshot stays a candidate; the row lock
		// only keeps two replicas from deleting the same alerts.
		err := tx.QueryRow(ctx, `
WITH a AS (
	SELECT a.id FROM alerts a
	WHERE a.received_at < $1
	  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = a.id AND d.state <> 'done')
	ORDER BY a.id LIMIT $2
	FOR UPDATE OF a SKIP LOCKED
), d AS (
	DELETE FROM deliveries WHERE alert_id IN (SELECT id FROM a) RETURNING 1
), gone AS (
	DELETE FROM alerts WHERE id IN (SELECT id FROM a) RETURNING 1
)
SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM d)`, cutoff, limit).Scan(&res.Alerts, &res.Deliveries)
		if err != nil {
			return fmt.Errorf("purge alerts: %w", err)
		}
		err = tx.QueryRow(ctx, `
WITH t AS (
	SELECT id FROM tickets
	WHERE state = 'resolved' AND resolved_at < $1
	ORDER BY id LIMIT $2
	FOR UPDATE SKIP LOCKED
), c AS (
	DELETE FROM ticket_cis WHERE ticket_id IN (SELECT id FROM t) RETURNING 1
), gone AS (
	DELETE FROM tickets WHERE id IN (SELECT id FROM t) RETURNING 1
)
SELECT count(*) FROM gone`, cutoff, limit).Scan(&res.Tickets)
		if err != nil {
			return fmt.Errorf("purge tickets: %w", err)
		}
		return nil
	})
	if err != nil {
		return store.PurgeResult{}, fmt.Errorf("purge: %w", err)
	}
	return res, nil
}
