package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lockClass is the first key of every advisory lock the store takes, so its
// locks do not collide with other applications' on the same database.
const lockClass int32 = 0x17b1d9e // "itsmbridge"

// migrations[i] brings the schema from version i to i+1. Never edit a
// released migration: append a new one.
var migrations = []string{
	// 1: initial schema.
	`
CREATE TABLE alerts (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	dedup_key     text        NOT NULL UNIQUE,
	alert_id      text        NOT NULL,
	source        text        NOT NULL,
	schema_name   text        NOT NULL,
	status        text        NOT NULL,
	severity      integer     NOT NULL,
	rule          text        NOT NULL,
	subscription  text        NOT NULL,
	resource_name text        NOT NULL,
	received_at   timestamptz NOT NULL,
	deliveries    integer     NOT NULL,
	normalized    text        NOT NULL,
	raw           bytea       NOT NULL
);
CREATE INDEX alerts_received ON alerts (received_at);
CREATE INDEX alerts_alert_id ON alerts (alert_id);
CREATE INDEX alerts_unrouted ON alerts (id) WHERE deliveries = 0;

CREATE SEQUENCE deliveries_seq;
CREATE TABLE deliveries (
	id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	seq              bigint      NOT NULL DEFAULT nextval('deliveries_seq'),
	alert_id         bigint      NOT NULL REFERENCES alerts (id),
	route            text        NOT NULL,
	backend_type     text        NOT NULL,
	backend_name     text        NOT NULL,
	ticket_key       text        NOT NULL,
	event            text        NOT NULL,
	ticket           text        NOT NULL,
	options          text        NOT NULL,
	state            text        NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
	attempts         integer     NOT NULL DEFAULT 0,
	next_attempt_at  timestamptz NOT NULL,
	enqueued_at      timestamptz NOT NULL,
	created_at       timestamptz NOT NULL,
	updated_at       timestamptz NOT NULL,
	finished_at      timestamptz,
	lease_owner      text        NOT NULL DEFAULT '',
	lease_expires_at timestamptz,
	last_error       text        NOT NULL DEFAULT '',
	dead_reason      text        NOT NULL DEFAULT '',
	outcome          text        NOT NULL DEFAULT ''
);
CREATE INDEX deliveries_queue ON deliveries (backend_type, backend_name, seq) WHERE state = 'pending';
CREATE INDEX deliveries_key ON deliveries (backend_type, backend_name, ticket_key, seq) WHERE state = 'pending';
CREATE INDEX deliveries_alert ON deliveries (alert_id);
CREATE INDEX deliveries_state ON deliveries (state, backend_type, backend_name);

CREATE TABLE tickets (
	id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	backend_type     text        NOT NULL,
	backend_name     text        NOT NULL,
	ticket_key       text        NOT NULL,
	generation       integer     NOT NULL,
	ref_id           text        NOT NULL,
	ref_number       text        NOT NULL,
	ref_url          text        NOT NULL,
	ref_state        text        NOT NULL,
	state            text        NOT NULL,
	created_at       timestamptz NOT NULL,
	resolved_at      timestamptz,
	updated_at       timestamptz NOT NULL,
	reopens          integer     NOT NULL,
	last_delivery_id bigint      NOT NULL,
	UNIQUE (backend_type, backend_name, ticket_key, generation)
);

CREATE TABLE ticket_cis (
	ticket_id  bigint      NOT NULL REFERENCES tickets (id),
	item       text        NOT NULL,
	ci_id      text        NOT NULL,
	ci_name    text        NOT NULL,
	ci_class   text        NOT NULL,
	ci_created boolean     NOT NULL,
	bound_at   timestamptz NOT NULL,
	PRIMARY KEY (ticket_id, item)
);

CREATE TABLE quarantine (
	id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	source      text        NOT NULL,
	reason      text        NOT NULL,
	received_at timestamptz NOT NULL,
	raw         bytea       NOT NULL
);
`,
	// 2: queue speed.
	//  - The claim's per-key probes (claimable's NOT EXISTS) must use
	//    deliveries_key whatever the statistics say. Without statistics (a
	//    young table) the planner rated the smaller queue index and the state
	//    index just as good and scanned a backend's whole queue per
	//    candidate. The queue index now names next_attempt_at in its
	//    predicate, which the claim's scan implies and the probes do not;
	//    pending deliveries leave the state index (every pending row also
	//    paid for its upkeep).
	//  - Heap pages keep room, so leasing a delivery (no indexed column
	//    changes) is a HOT update that adds no index entries.
	`
DROP INDEX deliveries_queue;
CREATE INDEX deliveries_due ON deliveries (backend_type, backend_name, seq)
	WHERE state = 'pending' AND next_attempt_at IS NOT NULL;
DROP INDEX deliveries_state;
CREATE INDEX deliveries_finished ON deliveries (state, backend_type, backend_name) WHERE state <> 'pending';
ALTER TABLE deliveries SET (fillfactor = 80);
`,
}

// migrate brings the schema up to date. A session advisory lock makes
// replicas that start together take turns; the second finds the work done.
func migrate(ctx context.Context, pool *pgxpool.Pool) (from, to int, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("acquire connection: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, 0)`, lockClass); err != nil {
		return 0, 0, fmt.Errorf("migration lock: %w", err)
	}
	defer func() {
		// Unlock on a fresh context: ctx may be the reason we are leaving.
		if _, uerr := conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1, 0)`, lockClass); uerr != nil {
			conn.Conn().Close(context.Background()) // closing the session drops the lock
		}
	}()

	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)`); err != nil {
		return 0, 0, fmt.Errorf("create schema_version: %w", err)
	}
	var version int
	err = tx.QueryRow(ctx, `SELECT version FROM schema_version`).Scan(&version)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return 0, 0, fmt.Errorf("init schema_version: %w", err)
		}
	case err != nil:
		return 0, 0, fmt.Errorf("read schema_version: %w", err)
	}
	if version > len(migrations) {
		return version, version, fmt.Errorf("database schema version %d is newer than this binary supports (%d): upgrade itsmbridge", version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.Exec(ctx, migrations[v]); err != nil {
			return version, v, fmt.Errorf("migration %d: %w", v+1, err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE schema_version SET version = $1`, len(migrations)); err != nil {
		return version, version, fmt.Errorf("update schema_version: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return version, version, fmt.Errorf("commit migration: %w", err)
	}
	return version, len(migrations), nil
}
