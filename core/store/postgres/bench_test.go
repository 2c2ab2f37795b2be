package postgres

import (
	"testing"

	"github.com/itsmbridge/itsmbridge/core/store/pgtest"
	"github.com/itsmbridge/itsmbridge/core/store/storetest"
)

// Run: go test -run '^$' -bench . -benchtime 5000x ./core/store/postgres/
// (benchmarks start the throw-away server with fsync=on).

func BenchmarkIngestSequential(b *testing.B) {
	storetest.BenchIngest(b, openTest(b, pgtest.Start(b), nil), 1)
}

func BenchmarkIngestConcurrent64(b *testing.B) {
	storetest.BenchIngest(b, openTest(b, pgtest.Start(b), nil), 64)
}

func BenchmarkClaimComplete(b *testing.B) {
	storetest.BenchClaimComplete(b, openTest(b, pgtest.Start(b), nil), 8, 16)
}

func BenchmarkIngestConcurrent64TwoBatchers(b *testing.B) {
	s, err := Open(b.Context(), pgtest.Start(b), Options{IngestWorkers: 2})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	storetest.BenchIngest(b, s, 64)
}
