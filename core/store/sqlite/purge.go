package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
)

var _ store.Purger = (*Store)(nil)

// Purge implements store.Purger, as one write of the writer goroutine: the
// batch size bounds how long other writes wait behind it.
func (s *Store) Purge(ctx context.Context, cutoff time.Time, limit int) (store.PurgeResult, error) {
	if limit <= 0 {
		return store.PurgeResult{}, fmt.Errorf("%w: purge: limit must be positive", store.ErrInvalid)
	}
	var res store.PurgeResult
	before := us(cutoff)
	o := &op{fn: func(tx *sql.Tx) error {
		res = store.PurgeResult{}
		ids, err := purgeIDs(tx, `SELECT a.id FROM alerts a
WHERE a.received_at < ?1
  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.alert_id = a.id AND d.state <> 'done')
ORDER BY a.id LIMIT ?2`, before, limit)
		if err != nil {
			return fmt.Errorf("purge: find alerts: %w", err)
		}
		if len(ids) > 0 {
			r, err := tx.Exec(`DELETE FROM deliveries WHERE alert_id IN (SELECT value FROM json_each(?))`, ids)
			if err != nil {
				return fmt.Errorf("purge: delete deliveries: %w", err)
			}
			if res.Deliveries, err = affected(r); err != nil {
				return err
			}
			if r, err = tx.Exec(`DELETE FROM alerts WHERE id IN (SELECT value FROM json_each(?))`, ids); err != nil {
				return fmt.Errorf("purge: delete alerts: %w", err)
			}
			if res.Alerts, err = affected(r); err != nil {
				return err
			}
		}
		tids, err := purgeIDs(tx, `SELECT id FROM tickets
WHERE state = 'resolved' AND resolved_at < ?1 ORDER BY id LIMIT ?2`, before, limit)
		if err != nil {
			return fmt.Errorf("purge: find tickets: %w", err)
		}
		if len(tids) > 0 {
			if _, err := tx.Exec(`DELETE FROM ticket_cis WHERE ticket_id IN (SELECT value FROM json_each(?))`, tids); err != nil {
				return fmt.Errorf("purge: delete CI bindings: %w", err)
			}
			r, err := tx.Exec(`DELETE FROM tickets WHERE id IN (SELECT value FROM json_each(?))`, tids)
			if err != nil {
				return fmt.Errorf("purge: delete tickets: %w", err)
			}
			if res.Tickets, err = affected(r); err != nil {
				return err
			}
		}
		return nil
	}}
	if err := s.write(ctx, o); err != nil {
		return store.PurgeResult{}, fmt.Errorf("purge: %w", err)
	}
	return res, nil
}

// purgeIDs runs a query returning ids and returns them as a JSON array for
// json_each, or "" when there are none.
func purgeIDs(tx *sql.Tx, query string, args ...any) (string, error) {
	rows, err := tx.Query(query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return "", err
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return "", err
	}
	list, err := json.Marshal(ids)
	return string(list), err
}
