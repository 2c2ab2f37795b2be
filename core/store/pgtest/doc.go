// Package pgtest gives tests a throw-away PostgreSQL server started from the
// installed binaries: initdb into a temporary directory, a free port on
// 127.0.0.1, the unix socket in the same directory, pg_ctl start/stop. One
// server serves a whole test binary; every Start call gets a fresh database.
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestX(t *testing.T) {
//		dsn := pgtest.Start(t) // skips when PostgreSQL is not installed
//		...
//	}
//
// Binaries are found through $ITSMBRIDGE_PG_BINDIR, `pg_config --bindir`,
// $PATH, then /usr/lib/postgresql/*/bin (newest version first). Without them
// tests skip, unless $CI=true or $ITSMBRIDGE_REQUIRE_POSTGRES=1, where they
// fail. Running as root (initdb refuses to), the server runs as the
// "postgres" (else "nobody") account.
//
// The server runs with fsync=off for speed, except when benchmarks were
// requested (-test.bench) or $ITSMBRIDGE_PG_FSYNC=on: figures must come from
// a durable server. $ITSMBRIDGE_PG_OPTS adds server options (e.g.
// "-c shared_preload_libraries=pg_stat_statements" to profile a benchmark).
// ServerCPU and TreeCPU account CPU time per process for benchmarks.
package pgtest
