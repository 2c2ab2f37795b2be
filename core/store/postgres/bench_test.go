package postgres

import (
	"testing"

	"github.com/itsmbridge/itsmbridge/core/store/pgtest"
	"github.com/itsmbridge/itsmbridge/core/store/storetest"
)

// Run: go test -run '^$' -bench . -benchtime 5000x ./core/store/postgres/
// (benchmarks start the throw-away server with fsync=on). Each also reports
// the CPU the PostgreSQL server spent per operation (pg-cpu-µs/op, all its
// processes, from /proc): the database's share of the work.

// withServerCPU runs bench and reports the server's CPU per b.N.
func withServerCPU(b *testing.B, bench func()) {
	before := pgtest.ServerCPU()
	bench()
	if used := pgtest.ServerCPU() - before; used > 0 {
		b.ReportMetric(float64(used.Microseconds())/float64(b.N), "pg-cpu-µs/op")
	}
}

func BenchmarkIngestSequential(b *testing.B) {
	s := openTest(b, pgtest.Start(b), nil)
	withServerCPU(b, func() { storetest.BenchIngest(b, s, 1) })
}

func BenchmarkIngestConcurrent64(b *testing.B) {
	s := openTest(b, pgtest.Start(b), nil)
	withServerCPU(b, func() { storetest.BenchIngest(b, s, 64) })
}

func BenchmarkClaimComplete(b *testing.B) {
	s := openTest(b, pgtest.Start(b), nil)
	withServerCPU(b, func() { storetest.BenchClaimComplete(b, s, 8, 16) })
}

func BenchmarkIngestConcurrent64TwoBatchers(b *testing.B) {
	s, err := Open(b.Context(), pgtest.Start(b), Options{IngestWorkers: 2})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	withServerCPU(b, func() { storetest.BenchIngest(b, s, 64) })
}
