package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/internal/groupcommit"
)

// ingestSQL inserts one alert and its deliveries in one statement; a
// duplicate dedup key inserts nothing and returns a NULL id.
const ingestSQL = `
WITH a AS (
	INSERT INTO alerts (dedup_key, alert_id, source, schema_name, status, severity, rule, subscription,
	                    resource_name, received_at, deliveries, normalized, raw)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
	ON CONFLICT (dedup_key) DO NOTHING
	RETURNING id
), d AS (
	INSERT INTO deliveries (alert_id, route, backend_type, backend_name, ticket_key, event, ticket, options,
	                        state, next_attempt_at, enqueued_at, created_at, updated_at)
	SELECT a.id, x.route, x.btype, x.bname, x.tkey, x.event, x.ticket, x.options, 'pending', $14, $14, $14, $14
	FROM a, unnest($15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[])
	        WITH ORDINALITY AS x (route, btype, bname, tkey, event, ticket, options, ord)
	ORDER BY x.ord
	RETURNING id
)
SELECT (SELECT id FROM a), ARRAY(SELECT id FROM d ORDER BY id)`

// batchSQL inserts a whole batch of alerts and their deliveries in one
// statement. Alerts come in as parallel arrays ($1..$13, sorted by dedup
// key so concurrent batches lock keys in the same order), deliveries as
// parallel arrays tagged with their alert's dedup key ($15..$22), $14 is
// now. Alerts whose dedup key exists are skipped (ON CONFLICT DO NOTHING),
// and so are their deliveries. Returns ('a', alert id, dedup key) per
// inserted alert and ('d', delivery id, alert id) per delivery.
const batchSQL = `
WITH a AS (
	INSERT INTO alerts (dedup_key, alert_id, source, schema_name, status, severity, rule, subscription,
	                    resource_name, received_at, deliveries, normalized, raw)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[], $7::text[],
	                     $8::text[], $9::text[], $10::timestamptz[], $11::integer[], $12::text[], $13::bytea[])
	ORDER BY 1 -- dedup key: every batch locks keys in the same order
	ON CONFLICT (dedup_key) DO NOTHING
	RETURNING id, dedup_key
), d AS (
	INSERT INTO deliveries (alert_id, route, backend_type, backend_name, ticket_key, event, ticket, options,
	                        state, next_attempt_at, enqueued_at, created_at, updated_at)
	SELECT a.id, x.route, x.btype, x.bname, x.tkey, x.event, x.ticket, x.options, 'pending', $14, $14, $14, $14
	FROM unnest($15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[])
	        WITH ORDINALITY AS x (dedup_key, route, btype, bname, tkey, event, ticket, options, ord)
	JOIN a ON a.dedup_key = x.dedup_key
	ORDER BY x.ord
	RETURNING id, alert_id
)
SELECT 'a', id, dedup_key FROM a
UNION ALL
SELECT 'd', id, alert_id::text FROM d`

// ingestReq is one Ingest call waiting for a batch.
type ingestReq struct {
	ctx      context.Context
	dedup    string
	args     []any // for ingestSQL; batchSQL takes the same values column-wise
	backends []store.BackendID
	res      store.IngestResult
	done     chan error
}

func (s *Store) prepareIngest(rec store.IngestRecord) (*ingestReq, error) {
	if err := rec.Validate(); err != nil {
		return nil, err
	}
	norm, err := json.Marshal(rec.Alert)
	if err != nil {
		return nil, fmt.Errorf("%w: encode alert: %v", store.ErrInvalid, err)
	}
	now := s.now()
	at := rec.ReceivedAt
	if at.IsZero() {
		at = now
	}
	raw := rec.Raw
	if raw == nil {
		raw = []byte{}
	}
	n := len(rec.Deliveries)
	route, btype, bname, tkey, event, ticket, options :=
		make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	var backends []store.BackendID
	for i, d := range rec.Deliveries {
		route[i], btype[i], bname[i], tkey[i], event[i] = d.Route, d.Backend.Type, d.Backend.Name, d.TicketKey, string(d.Event)
		ticket[i], options[i] = jsonText(d.Ticket), jsonText(d.Options)
		if !slices.Contains(backends, d.Backend) {
			backends = append(backends, d.Backend)
		}
	}
	a := rec.Alert
	return &ingestReq{
		dedup: a.DedupKey,
		args: []any{a.DedupKey, a.ID, rec.Source, a.Schema, a.Status, a.Severity, a.Rule, a.Subscription,
			a.ResourceName, at, n, string(norm), raw, now, route, btype, bname, tkey, event, ticket, options},
		backends: backends,
		done:     make(chan error, 1),
	}, nil
}

func jsonText(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "null"
	}
	return string(raw)
}

// Ingest implements store.Ingester.
func (s *Store) Ingest(ctx context.Context, rec store.IngestRecord) (store.IngestResult, error) {
	req, err := s.prepareIngest(rec)
	if err != nil {
		return store.IngestResult{}, err
	}
	req.ctx = ctx
	select {
	case s.ingests <- req:
	case <-s.closing:
		return store.IngestResult{}, unavailable("ingest %s: store closed", req.dedup)
	case <-ctx.Done():
		return store.IngestResult{}, ctx.Err()
	}
	if err := <-req.done; err != nil {
		return store.IngestResult{}, fmt.Errorf("ingest %s: %w", req.dedup, err)
	}
	return req.res, nil
}

// batcher collects waiting ingests into batches and commits them.
func (s *Store) batcher() {
	defer s.bg.Done()
	groupcommit.Collect(s.ingests, s.closing, s.maxBatch, s.batchWait, s.commitBatch)
}

// commitBatch commits a batch, retrying it on deadlock or serialization
// failure; if it keeps failing, each ingest is tried on its own so one bad
// record cannot fail its neighbours.
func (s *Store) commitBatch(batch []*ingestReq) {
	live := batch[:0:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// Same lock order in every batch: no deadlocks between batches.
	slices.SortFunc(live, func(a, b *ingestReq) int { return strings.Compare(a.dedup, b.dedup) })
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = s.execBatch(live); err == nil || !retryable(err) {
			break
		}
	}
	if err == nil {
		s.answer(live)
		return
	}
	if len(live) == 1 {
		s.log.Error("ingest failed", "dedup_key", live[0].dedup, "error", err)
		live[0].done <- unavailable("%w", err)
		return
	}
	for _, r := range live {
		if err := s.execBatch([]*ingestReq{r}); err != nil {
			s.log.Error("ingest failed", "dedup_key", r.dedup, "error", err)
			r.done <- unavailable("%w", err)
			continue
		}
		s.answer([]*ingestReq{r})
	}
}

func (s *Store) answer(rs []*ingestReq) {
	for _, r := range rs {
		if !r.res.Duplicate {
			for _, b := range r.backends {
				s.hub.Signal(b.String())
			}
		}
		r.done <- nil
	}
}

// retryable reports PostgreSQL errors that a retry of the same transaction
// can cure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001")
}

// execBatch runs the batch in one transaction and one statement and fills
// each request's result. rs is sorted by dedup key.
func (s *Store) execBatch(rs []*ingestReq) (err error) {
	if s.onCommit != nil {
		start := time.Now()
		defer func() { s.onCommit(len(rs), time.Since(start), err) }()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Column-wise arguments. A dedup key repeated within the batch is sent
	// once; its other requests are duplicates of the first.
	var (
		cols   [13][]any
		dcols  [8][]any
		first  = map[string]*ingestReq{}
		notify []string
	)
	for _, r := range rs {
		if _, dup := first[r.dedup]; dup {
			continue
		}
		first[r.dedup] = r
		for i := 0; i < 13; i++ {
			cols[i] = append(cols[i], r.args[i])
		}
		routes := r.args[14].([]string)
		for j := range routes {
			dcols[0] = append(dcols[0], r.dedup)
			for k := 0; k < 7; k++ {
				dcols[k+1] = append(dcols[k+1], r.args[14+k].([]string)[j])
			}
		}
		for _, b := range r.backends {
			if !slices.Contains(notify, b.String()) {
				notify = append(notify, b.String())
			}
		}
	}
	args := []any{
		typed[string](cols[0]), typed[string](cols[1]), typed[string](cols[2]), typed[string](cols[3]),
		typed[string](cols[4]), typed[int](cols[5]), typed[string](cols[6]), typed[string](cols[7]),
		typed[string](cols[8]), typed[time.Time](cols[9]), typed[int](cols[10]), typed[string](cols[11]),
		typed[[]byte](cols[12]), s.now(),
	}
	for k := 0; k < 8; k++ {
		args = append(args, typed[string](dcols[k]))
	}

	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // no-op after commit
	rows, err := tx.Query(ctx, batchSQL, args...)
	if err != nil {
		return fmt.Errorf("insert batch: %w", err)
	}
	alertIDs := map[string]int64{}
	deliveries := map[int64][]int64{}
	for rows.Next() {
		var (
			kind, ref string
			id        int64
		)
		if err := rows.Scan(&kind, &id, &ref); err != nil {
			rows.Close()
			return fmt.Errorf("insert batch: %w", err)
		}
		if kind == "a" {
			alertIDs[ref] = id
			continue
		}
		aid, err := strconv.ParseInt(ref, 10, 64)
		if err != nil {
			rows.Close()
			return fmt.Errorf("insert batch: alert id %q: %w", ref, err)
		}
		deliveries[aid] = append(deliveries[aid], id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("insert batch: %w", err)
	}
	for _, n := range notify {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, n); err != nil {
			return fmt.Errorf("notify: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}

	var dups []string
	for _, r := range rs {
		id, inserted := alertIDs[r.dedup]
		if inserted && first[r.dedup] == r {
			ds := deliveries[id]
			slices.Sort(ds) // ids were assigned in input order
			if ds == nil {
				ds = []int64{}
			}
			r.res = store.IngestResult{AlertID: id, Deliveries: ds}
			continue
		}
		r.res = store.IngestResult{AlertID: id, Duplicate: true}
		if !inserted {
			dups = append(dups, r.dedup)
		}
	}
	if len(dups) > 0 {
		// The first copy committed before ON CONFLICT let us pass, so it is
		// visible now. Best effort: a duplicate is answered even if this fails.
		rows, err := s.pool.Query(ctx, `SELECT dedup_key, id FROM alerts WHERE dedup_key = ANY($1)`, dups)
		if err == nil {
			found := map[string]int64{}
			for rows.Next() {
				var (
					k  string
					id int64
				)
				if rows.Scan(&k, &id) == nil {
					found[k] = id
				}
			}
			rows.Close()
			for _, r := range rs {
				if r.res.Duplicate && r.res.AlertID == 0 {
					r.res.AlertID = found[r.dedup]
				}
			}
		}
	}
	return nil
}

// typed converts a column of values to a typed slice for pgx.
func typed[T any](col []any) []T {
	out := make([]T, len(col))
	for i, v := range col {
		out[i] = v.(T)
	}
	return out
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
	err := s.pool.QueryRow(ctx, `INSERT INTO quarantine (source, reason, received_at, raw) VALUES ($1, $2, $3, $4) RETURNING id`,
		rec.Source, rec.Reason, at, raw).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("quarantine: %w", classify(err))
	}
	return id, nil
}

// ReplayQuarantine implements store.Ingester.
func (s *Store) ReplayQuarantine(ctx context.Context, id int64, rec store.IngestRecord) (store.IngestResult, error) {
	req, err := s.prepareIngest(rec)
	if err != nil {
		return store.IngestResult{}, err
	}
	var res store.IngestResult
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM quarantine WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("delete quarantined %d: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("quarantined payload %d: %w", id, store.ErrNotFound)
		}
		var aid *int64
		var ids []int64
		if err := tx.QueryRow(ctx, ingestSQL, req.args...).Scan(&aid, &ids); err != nil {
			return fmt.Errorf("insert alert: %w", err)
		}
		if aid == nil {
			res = store.IngestResult{Duplicate: true}
			return tx.QueryRow(ctx, `SELECT id FROM alerts WHERE dedup_key = $1`, req.dedup).Scan(&res.AlertID)
		}
		res = store.IngestResult{AlertID: *aid, Deliveries: ids}
		for _, b := range req.backends {
			if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, notifyChannel, b.String()); err != nil {
				return fmt.Errorf("notify: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return store.IngestResult{}, fmt.Errorf("replay quarantined %d: %w", id, err)
	}
	if !res.Duplicate {
		for _, b := range req.backends {
			s.hub.Signal(b.String())
		}
	}
	return res, nil
}
