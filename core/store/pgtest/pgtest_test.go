package pgtest

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestStartGivesSeparateDatabases(t *testing.T) {
	ctx := context.Background()
	a, b := Start(t), Start(t)
	if a == b {
		t.Fatalf("two Start calls returned the same DSN %s", a)
	}
	ca, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(ctx)
	cb, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(ctx)
	if _, err := ca.Exec(ctx, `CREATE TABLE only_in_a (x int)`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := cb.QueryRow(ctx, `SELECT COUNT(*) FROM pg_tables WHERE tablename = 'only_in_a'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("table of database a visible in b: %d, %v", n, err)
	}
	var v string
	if err := ca.QueryRow(ctx, `SHOW server_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL %s from %s", v, srv.bindir)
}

func TestBinDirFromEnv(t *testing.T) {
	t.Setenv("ITSMBRIDGE_PG_BINDIR", t.TempDir()) // empty: not a bindir, falls through
	d, err := BinDir()
	if err != nil {
		t.Skipf("no PostgreSQL installed: %v", err)
	}
	if d == os.Getenv("ITSMBRIDGE_PG_BINDIR") {
		t.Fatalf("BinDir accepted a directory without the binaries: %s", d)
	}
}
