package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migrations are applied in order; migrations[i] brings the schema from
// version i to i+1. Never edit a released migration: append a new one.
var migrations = []string{
	// 1: initial schema. Times are Unix microseconds (UTC).
	`
CREATE TABLE alerts (
	id           INTEGER PRIMARY KEY,
	dedup_key    TEXT    NOT NULL UNIQUE,
	alert_id     TEXT    NOT NULL,
	source       TEXT    NOT NULL,
	schema_name  TEXT    NOT NULL,
	status       TEXT    NOT NULL,
	severity     INTEGER NOT NULL,
	rule         TEXT    NOT NULL,
	subscription TEXT    NOT NULL,
	resource_name TEXT   NOT NULL,
	received_at  INTEGER NOT NULL,
	deliveries   INTEGER NOT NULL,
	normalized   TEXT    NOT NULL,
	raw          BLOB    NOT NULL
);
CREATE INDEX alerts_received ON alerts (received_at);
CREATE INDEX alerts_alert_id ON alerts (alert_id);
CREATE INDEX alerts_unrouted ON alerts (id) WHERE deliveries = 0;

CREATE TABLE deliveries (
	id               INTEGER PRIMARY KEY,
	seq              INTEGER NOT NULL,
	alert_id         INTEGER NOT NULL REFERENCES alerts (id),
	route            TEXT    NOT NULL,
	backend_type     TEXT    NOT NULL,
	backend_name     TEXT    NOT NULL,
	ticket_key       TEXT    NOT NULL,
	event            TEXT    NOT NULL,
	ticket           TEXT    NOT NULL,
	options          TEXT    NOT NULL,
	state            TEXT    NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  INTEGER NOT NULL,
	enqueued_at      INTEGER NOT NULL,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL,
	finished_at      INTEGER,
	lease_owner      TEXT    NOT NULL DEFAULT '',
	lease_expires_at INTEGER,
	last_error       TEXT    NOT NULL DEFAULT '',
	dead_reason      TEXT    NOT NULL DEFAULT '',
	outcome          TEXT    NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX deliveries_seq ON deliveries (seq);
-- the queue of a backend in order, and the unfinished deliveries of a key
CREATE INDEX deliveries_queue ON deliveries (backend_type, backend_name, seq) WHERE state = 'pending';
CREATE INDEX deliveries_key ON deliveries (backend_type, backend_name, ticket_key, seq) WHERE state = 'pending';
CREATE INDEX deliveries_alert ON deliveries (alert_id);
CREATE INDEX deliveries_state ON deliveries (state, backend_type, backend_name);

CREATE TABLE tickets (
	id               INTEGER PRIMARY KEY,
	backend_type     TEXT    NOT NULL,
	backend_name     TEXT    NOT NULL,
	ticket_key       TEXT    NOT NULL,
	generation       INTEGER NOT NULL,
	ref_id           TEXT    NOT NULL,
	ref_number       TEXT    NOT NULL,
	ref_url          TEXT    NOT NULL,
	ref_state        TEXT    NOT NULL,
	state            TEXT    NOT NULL,
	created_at       INTEGER NOT NULL,
	resolved_at      INTEGER,
	updated_at       INTEGER NOT NULL,
	reopens          INTEGER NOT NULL,
	last_delivery_id INTEGER NOT NULL,
	UNIQUE (backend_type, backend_name, ticket_key, generation)
);

CREATE TABLE ticket_cis (
	ticket_id  INTEGER NOT NULL REFERENCES tickets (id),
	item       TEXT    NOT NULL,
	ci_id      TEXT    NOT NULL,
	ci_name    TEXT    NOT NULL,
	ci_class   TEXT    NOT NULL,
	ci_created INTEGER NOT NULL,
	bound_at   INTEGER NOT NULL,
	PRIMARY KEY (ticket_id, item)
);

CREATE TABLE quarantine (
	id          INTEGER PRIMARY KEY,
	source      TEXT    NOT NULL,
	reason      TEXT    NOT NULL,
	received_at INTEGER NOT NULL,
	raw         BLOB    NOT NULL
);
`,
	// 2: the same deliveries table with its state CHECK written as
	// comparisons. SQLite evaluates a three-value IN list with an ephemeral
	// table, built again on every insert and update of a delivery: a tenth
	// of the writer's time. SQLite cannot alter a CHECK, so the table is
	// rebuilt (nothing references it).
	`
CREATE TABLE deliveries_v2 (
	id               INTEGER PRIMARY KEY,
	seq              INTEGER NOT NULL,
	alert_id         INTEGER NOT NULL REFERENCES alerts (id),
	route            TEXT    NOT NULL,
	backend_type     TEXT    NOT NULL,
	backend_name     TEXT    NOT NULL,
	ticket_key       TEXT    NOT NULL,
	event            TEXT    NOT NULL,
	ticket           TEXT    NOT NULL,
	options          TEXT    NOT NULL,
	state            TEXT    NOT NULL CHECK (state = 'pending' OR state = 'done' OR state = 'dead'),
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  INTEGER NOT NULL,
	enqueued_at      INTEGER NOT NULL,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL,
	finished_at      INTEGER,
	lease_owner      TEXT    NOT NULL DEFAULT '',
	lease_expires_at INTEGER,
	last_error       TEXT    NOT NULL DEFAULT '',
	dead_reason      TEXT    NOT NULL DEFAULT '',
	outcome          TEXT    NOT NULL DEFAULT ''
);
INSERT INTO deliveries_v2 SELECT * FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v2 RENAME TO deliveries;
CREATE UNIQUE INDEX deliveries_seq ON deliveries (seq);
CREATE INDEX deliveries_queue ON deliveries (backend_type, backend_name, seq) WHERE state = 'pending';
CREATE INDEX deliveries_key ON deliveries (backend_type, backend_name, ticket_key, seq) WHERE state = 'pending';
CREATE INDEX deliveries_alert ON deliveries (alert_id);
CREATE INDEX deliveries_state ON deliveries (state, backend_type, backend_name);
`,
	// 3: alerts written from now on keep their normalized JSON and raw body
	// compressed together in payload (see payload.go), and leave normalized
	// and raw empty. Older rows keep payload NULL.
	`ALTER TABLE alerts ADD COLUMN payload BLOB;`,
}

// migrate brings the schema to the latest version in one transaction.
// BEGIN IMMEDIATE (the writer's transaction mode) serialises concurrent
// migrations by several processes.
func migrate(ctx context.Context, db *sql.DB) (from, to int, err error) {
	// Read first: a current schema needs no write, so a database that is
	// read-only opens (and its writes then fail with ErrUnavailable).
	var current int
	if err := db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&current); err == nil && current == len(migrations) {
		return current, current, nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after commit

	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return 0, 0, fmt.Errorf("create schema_version: %w", err)
	}
	var version int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return 0, 0, fmt.Errorf("init schema_version: %w", err)
		}
	case err != nil:
		return 0, 0, fmt.Errorf("read schema_version: %w", err)
	}
	if version > len(migrations) {
		return version, version, fmt.Errorf("database schema version %d is newer than this binary supports (%d): upgrade itsmbridge", version, len(migrations))
	}
	if version == len(migrations) {
		return version, version, tx.Commit()
	}
	for v := version; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return version, v, fmt.Errorf("migration %d: %w", v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
		return version, version, fmt.Errorf("update schema_version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return version, version, fmt.Errorf("commit migration: %w", err)
	}
	return version, len(migrations), nil
}
