package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/itsmbridge/itsmbridge/core/store/storetest"
)

// Run: go test -run '^$' -bench . -benchtime 5000x ./core/store/sqlite/

func BenchmarkIngestSequential(b *testing.B) {
	storetest.BenchIngest(b, openTest(b, filepath.Join(b.TempDir(), "db"), nil), 1)
}

func BenchmarkIngestConcurrent64(b *testing.B) {
	storetest.BenchIngest(b, openTest(b, filepath.Join(b.TempDir(), "db"), nil), 64)
}

func BenchmarkClaimComplete(b *testing.B) {
	storetest.BenchClaimComplete(b, openTest(b, filepath.Join(b.TempDir(), "db"), nil), 8, 16)
}
