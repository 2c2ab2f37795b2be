package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/internal/groupcommit"
)

// Lease-checked queue updates (Renew, Complete, Retry, DeadLetter) are group
// committed like ingests: the updates that queue up while a batch commits
// form the next batch, which runs as one set-based statement per kind of
// update (arrays in, unnest, UPDATE … FROM) in one implicit transaction,
// sent in one round trip (a pgx batch) and made durable by one commit. Each
// update still gets its own answer: a row whose lease check fails is simply
// not updated (ErrLeaseLost or ErrNotFound for that update alone), and a
// batch that fails as a whole (a database error) is retried update by update
// so one bad update cannot fail its neighbours.

// updKind is the kind of a queued update.
type updKind int

const (
	updRenew updKind = iota
	updComplete
	updRetry
	updDead
	nUpdKinds
)

// update is one queued lease-checked update.
type update struct {
	ctx    context.Context
	kind   updKind
	id     int64
	owner  string
	at     time.Time     // renew: the new expiry; retry: the next attempt
	text   string        // complete: the action; retry: the error; dead: the reason
	ticket *store.Ticket // complete: the ticket to upsert (no CI bindings), or nil

	backend store.BackendID // the delivery's backend, on success
	done    chan error
}

// leased picks, from the updates in x (built from arrays: x.id, x.owner, …),
// those whose delivery is unfinished and leased to x.owner (expired or not:
// nobody claimed it since), and locks the deliveries. The LATERAL probe per
// id keeps the lookups on the primary key: the plain join was planned as a
// scan of every pending delivery.
func leased(xcols, arrays string) string {
	return `WITH x AS (SELECT * FROM unnest(` + arrays + `) AS x (` + xcols + `)),
c AS (
	SELECT x.* FROM x CROSS JOIN LATERAL (
		SELECT FROM deliveries d
		WHERE d.id = x.id AND d.state = 'pending' AND d.lease_owner = x.owner AND d.lease_expires_at IS NOT NULL
		FOR UPDATE OF d) l
)`
}

// ofLeased restricts an UPDATE … FROM c to the locked deliveries, by primary key.
const ofLeased = `d.id = ANY (ARRAY(SELECT id FROM c)) AND d.id = c.id`

// updateSQL[kind] updates the deliveries of the batch ($1 now, then arrays)
// and returns (id, backend type, backend name) of each one updated.
var updateSQL = [nUpdKinds]string{
	updRenew: leased("id, owner, until", "$2::bigint[], $3::text[], $4::timestamptz[]") + `
UPDATE deliveries d SET lease_expires_at = c.until, updated_at = $1
FROM c WHERE ` + ofLeased + `
RETURNING d.id, d.backend_type, d.backend_name`,

	// Tickets of the completed deliveries are upserted in the same
	// statement, joined to the deliveries whose lease check passed (a
	// data-modifying CTE runs whether or not the outer query reads it).
	updComplete: leased("id, owner, action", "$2::bigint[], $3::text[], $4::text[]") + `,
u AS (
	UPDATE deliveries d
	SET state = 'done', attempts = d.attempts + 1, outcome = c.action, finished_at = $1, updated_at = $1,
	    lease_expires_at = NULL
	FROM c WHERE ` + ofLeased + `
	RETURNING d.id, d.backend_type, d.backend_name
), t AS (
	INSERT INTO tickets (backend_type, backend_name, ticket_key, generation, ref_id, ref_number, ref_url, ref_state,
	                     state, created_at, resolved_at, updated_at, reopens, last_delivery_id)
	SELECT y.btype, y.bname, y.tkey, y.gen, y.ref_id, y.ref_number, y.ref_url, y.ref_state,
	       y.state, coalesce(y.created, $1), y.resolved, $1, y.reopens, y.last
	FROM unnest($5::bigint[], $6::text[], $7::text[], $8::text[], $9::integer[], $10::text[], $11::text[], $12::text[],
	            $13::text[], $14::text[], $15::timestamptz[], $16::timestamptz[], $17::integer[], $18::bigint[])
	        AS y (did, btype, bname, tkey, gen, ref_id, ref_number, ref_url, ref_state, state, created, resolved, reopens, last)
	JOIN u ON u.id = y.did
	ORDER BY y.btype, y.bname, y.tkey, y.gen -- the same lock order in every batch
	ON CONFLICT (backend_type, backend_name, ticket_key, generation) DO UPDATE SET
		ref_id = excluded.ref_id, ref_number = excluded.ref_number, ref_url = excluded.ref_url,
		ref_state = excluded.ref_state, state = excluded.state, resolved_at = excluded.resolved_at,
		updated_at = excluded.updated_at, reopens = excluded.reopens, last_delivery_id = excluded.last_delivery_id
)
SELECT id, backend_type, backend_name FROM u`,

	updRetry: leased("id, owner, err, next", "$2::bigint[], $3::text[], $4::text[], $5::timestamptz[]") + `
UPDATE deliveries d
SET attempts = d.attempts + 1, last_error = c.err, next_attempt_at = c.next, updated_at = $1, lease_expires_at = NULL
FROM c WHERE ` + ofLeased + `
RETURNING d.id, d.backend_type, d.backend_name`,

	updDead: leased("id, owner, reason", "$2::bigint[], $3::text[], $4::text[]") + `
UPDATE deliveries d
SET state = 'dead', attempts = d.attempts + 1, dead_reason = c.reason, last_error = c.reason, finished_at = $1,
    updated_at = $1, lease_expires_at = NULL
FROM c WHERE ` + ofLeased + `
RETURNING d.id, d.backend_type, d.backend_name`,
}

// submit queues u for the next batch and waits for its answer.
func (s *Store) submit(ctx context.Context, u *update) error {
	u.ctx, u.done = ctx, make(chan error, 1)
	select {
	case s.updates <- u:
	case <-s.closing:
		return unavailable("store closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-u.done
}

// updater collects queued updates into batches and commits them.
func (s *Store) updater() {
	defer s.bg.Done()
	groupcommit.Collect(s.updates, s.closing, s.maxBatch, 0, s.commitUpdates)
}

// commitUpdates commits a batch of updates and answers each one.
func (s *Store) commitUpdates(batch []*update) {
	live := batch[:0:0]
	for _, u := range batch {
		if err := u.ctx.Err(); err != nil {
			u.done <- err
			continue
		}
		live = append(live, u)
	}
	// One statement updates a row at most once: an update of a delivery (or
	// ticket) already in this batch waits for the next round.
	for len(live) > 0 {
		var now, later []*update
		ids := map[int64]bool{}
		tickets := map[ticketIdent]bool{}
		for _, u := range live {
			var ti ticketIdent
			if u.ticket != nil {
				ti = identOf(*u.ticket)
			}
			if ids[u.id] || (u.ticket != nil && tickets[ti]) {
				later = append(later, u)
				continue
			}
			ids[u.id] = true
			if u.ticket != nil {
				tickets[ti] = true
			}
			now = append(now, u)
		}
		s.commitUpdateRound(now)
		live = later
	}
}

type ticketIdent struct {
	backend store.BackendID
	key     string
	gen     int
}

func identOf(t store.Ticket) ticketIdent { return ticketIdent{t.Backend, t.Key, t.Generation} }

// commitUpdateRound runs updates (distinct deliveries and tickets) as one
// transaction, retrying it on deadlock or serialization failure; if it keeps
// failing, each update is tried on its own.
func (s *Store) commitUpdateRound(us []*update) {
	var (
		updated map[int64]store.BackendID
		err     error
	)
	for attempt := 0; attempt < 3; attempt++ {
		if updated, err = s.execUpdates(us); err == nil || !retryable(err) {
			break
		}
	}
	if err == nil {
		s.answerUpdates(us, updated)
		return
	}
	if len(us) == 1 {
		us[0].done <- classify(fmt.Errorf("update delivery %d: %w", us[0].id, err))
		return
	}
	for _, u := range us {
		s.commitUpdateRound([]*update{u})
	}
}

// answerUpdates answers each update of a committed batch: updated, or why
// not (the delivery is gone, or its lease is not the caller's).
func (s *Store) answerUpdates(us []*update, updated map[int64]store.BackendID) {
	var missed []int64
	for _, u := range us {
		if _, ok := updated[u.id]; !ok {
			missed = append(missed, u.id)
		}
	}
	exists := map[int64]bool{}
	var lookupErr error
	if len(missed) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		rows, err := s.pool.Query(ctx, `SELECT id FROM deliveries WHERE id = ANY($1)`, missed)
		if err == nil {
			var ids []int64
			ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
			for _, id := range ids {
				exists[id] = true
			}
		}
		cancel()
		lookupErr = err
	}
	for _, u := range us {
		b, ok := updated[u.id]
		switch {
		case ok:
			u.backend = b
			u.done <- nil
		case lookupErr != nil:
			u.done <- classify(fmt.Errorf("find delivery %d: %w", u.id, lookupErr))
		case !exists[u.id]:
			u.done <- fmt.Errorf("delivery %d: %w", u.id, store.ErrNotFound)
		default:
			u.done <- fmt.Errorf("delivery %d: %w", u.id, store.ErrLeaseLost)
		}
	}
}

// execUpdates runs the batch: one statement per kind present, all in one
// implicit transaction sent in one round trip, committed (durably) when
// the batch ends. It returns the backend of each delivery updated.
func (s *Store) execUpdates(us []*update) (updated map[int64]store.BackendID, err error) {
	if s.onCommit != nil {
		start := time.Now()
		defer func() { s.onCommit(len(us), time.Since(start), err) }()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var byKind [nUpdKinds][]*update
	for _, u := range us {
		byKind[u.kind] = append(byKind[u.kind], u)
	}
	now := s.now()
	b := &pgx.Batch{}
	for kind, group := range byKind {
		if len(group) == 0 {
			continue
		}
		// Rows in id order: concurrent batches lock them in the same order.
		slices.SortFunc(group, func(a, b *update) int { return cmp.Compare(a.id, b.id) })
		b.Queue(updateSQL[kind], updateArgs(updKind(kind), group, now)...)
	}
	br := s.pool.SendBatch(ctx, b)
	updated = make(map[int64]store.BackendID, len(us))
	for range b.Len() {
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return nil, err
		}
		for rows.Next() {
			var (
				id int64
				bk store.BackendID
			)
			if err := rows.Scan(&id, &bk.Type, &bk.Name); err != nil {
				rows.Close()
				br.Close()
				return nil, err
			}
			updated[id] = bk
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			br.Close()
			return nil, err
		}
	}
	// Closing the batch ends the implicit transaction: its error is the
	// commit's.
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return updated, nil
}

// updateArgs are updateSQL[kind]'s arguments for group.
func updateArgs(kind updKind, group []*update, now time.Time) []any {
	n := len(group)
	ids, owners, texts, times := make([]int64, n), make([]string, n), make([]string, n), make([]time.Time, n)
	for i, u := range group {
		ids[i], owners[i], texts[i], times[i] = u.id, u.owner, u.text, u.at
	}
	switch kind {
	case updRenew:
		return []any{now, ids, owners, times}
	case updRetry:
		return []any{now, ids, owners, texts, times}
	case updDead:
		return []any{now, ids, owners, texts}
	}
	var (
		did                                                           []int64
		btype, bname, tkey, refID, refNumber, refURL, refState, state []string
		gen, reopens                                                  []int32
		created, resolved                                             []*time.Time
		last                                                          []int64
	)
	for _, u := range group {
		if u.ticket == nil {
			continue
		}
		t := u.ticket
		did = append(did, u.id)
		btype, bname, tkey = append(btype, t.Backend.Type), append(bname, t.Backend.Name), append(tkey, t.Key)
		gen, reopens = append(gen, int32(t.Generation)), append(reopens, int32(t.Reopens))
		refID, refNumber, refURL, refState = append(refID, t.Ref.ID), append(refNumber, t.Ref.Number), append(refURL, t.Ref.URL), append(refState, t.Ref.State)
		state = append(state, string(t.State))
		created, resolved = append(created, nullTime(t.CreatedAt)), append(resolved, nullTime(t.ResolvedAt))
		l := t.LastDeliveryID
		if l == 0 {
			l = u.id
		}
		last = append(last, l)
	}
	return []any{now, ids, owners, texts, did, btype, bname, tkey, gen, refID, refNumber, refURL, refState,
		state, created, resolved, reopens, last}
}
