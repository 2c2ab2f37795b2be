package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMigrateV1Deliveries opens a database left at schema version 1 with a
// queued delivery: the rebuild of the deliveries table (migration 2) keeps
// the row and its indexes, and the state CHECK still refuses other states.
func TestMigrateV1Deliveries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version (version) VALUES (1)`,
		migrations[0],
		`INSERT INTO alerts (id, dedup_key, alert_id, source, schema_name, status, severity, rule, subscription,
			resource_name, received_at, deliveries, normalized, raw)
		 VALUES (7, 'k', 'a', 'prod', 's', 'fired', 1, 'r', 'sub', 'vm', 1, 1, '{}', x'')`,
		`INSERT INTO deliveries (id, seq, alert_id, route, backend_type, backend_name, ticket_key, event, ticket,
			options, state, next_attempt_at, enqueued_at, created_at, updated_at)
		 VALUES (42, 5, 7, 'r', 'fake', 'one', 'key', 'fired', '{}', '{}', 'pending', 1, 1, 1, 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s := openTest(t, path, nil)
	var v int
	if err := s.rdb.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != len(migrations) {
		t.Fatalf("schema_version = %d, %v; want %d", v, err, len(migrations))
	}
	var id, seq int64
	var state string
	if err := s.rdb.QueryRow(`SELECT id, seq, state FROM deliveries WHERE backend_type = 'fake' AND ticket_key = 'key'`).Scan(&id, &seq, &state); err != nil {
		t.Fatalf("migrated delivery: %v", err)
	}
	if id != 42 || seq != 5 || state != "pending" {
		t.Fatalf("migrated delivery = id %d seq %d state %q; want 42 5 pending", id, seq, state)
	}
	var n int
	if err := s.rdb.QueryRow(`SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'deliveries' AND name LIKE 'deliveries_%'`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("deliveries indexes = %d, %v; want 5", n, err)
	}
	_, err = s.wdb.ExecContext(context.Background(), `UPDATE deliveries SET state = 'lost' WHERE id = 42`)
	if err == nil {
		t.Fatal("state 'lost' accepted; want the CHECK constraint to refuse it")
	}
}

// TestMigratedAlertsReadable: an alert stored before schema version 3 keeps
// its plain normalized and raw columns (payload NULL); GetAlert and Claim
// still return them after the migration, next to a compressed new alert.
func TestMigratedAlertsReadable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE schema_version (version INTEGER NOT NULL)`,
		`INSERT INTO schema_version (version) VALUES (2)`,
		migrations[0],
		migrations[1],
		`INSERT INTO alerts (id, dedup_key, alert_id, source, schema_name, status, severity, rule, subscription,
			resource_name, received_at, deliveries, normalized, raw)
		 VALUES (7, 'old', 'a', 'prod', 's', 'fired', 1, 'r', 'sub', 'vm', 1, 1, '{"id":"old-alert"}', '{"raw":true}')`,
		`INSERT INTO deliveries (id, seq, alert_id, route, backend_type, backend_name, ticket_key, event, ticket,
			options, state, next_attempt_at, enqueued_at, created_at, updated_at)
		 VALUES (42, 1, 7, 'r', 'servicenow', 'prod', 'key', 'fired', '{}', '{}', 'pending', 1, 1, 1, 1)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s := openTest(t, path, nil)
	ctx := context.Background()
	a, _, err := s.GetAlert(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Normalized) != `{"id":"old-alert"}` || string(a.Raw) != `{"raw":true}` {
		t.Fatalf("migrated alert = %s / %s; want the stored plain columns", a.Normalized, a.Raw)
	}
	res, err := s.Ingest(ctx, record("new", 3000))
	if err != nil {
		t.Fatal(err)
	}
	na, _, err := s.GetAlert(ctx, res.AlertID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(na.Raw), `"dedup":"new"`) || !strings.Contains(string(na.Normalized), `"dedup_key":"new"`) {
		t.Fatalf("new alert = %s / %.40s…; want its normalized JSON and raw body back", na.Normalized, na.Raw)
	}
	ds, err := s.Claim(ctx, "w", snow, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || string(ds[0].Alert) != `{"id":"old-alert"}` || !strings.Contains(string(ds[1].Alert), `"dedup_key":"new"`) {
		t.Fatalf("claimed %d deliveries; want the migrated one with its plain alert, then the new one", len(ds))
	}
}
