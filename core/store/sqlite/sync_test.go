package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// TestFsyncFailureStopsWrites: a write is answered only after the WAL
// fsync; when that fsync fails the write is refused with ErrUnavailable
// (the ingress answers 503, so Azure retries), and the store refuses every
// later write and fails Ping, since the kernel may have dropped the pages
// it could not write.
func TestFsyncFailureStopsWrites(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "db"), nil)
	var fail atomic.Bool
	var syncs atomic.Int64
	s.fsync = func(f *os.File) error {
		syncs.Add(1)
		if fail.Load() {
			return syscall.EIO
		}
		return f.Sync()
	}
	ctx := context.Background()
	if _, err := s.Ingest(ctx, record("before", 100)); err != nil {
		t.Fatalf("Ingest before the failure: %v", err)
	}
	if syncs.Load() == 0 {
		t.Fatal("Ingest answered without an fsync of the WAL")
	}

	fail.Store(true)
	_, err := s.Ingest(ctx, record("during", 100))
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Ingest when fsync fails = %v; want ErrUnavailable wrapping EIO", err)
	}

	fail.Store(false) // a later fsync that "succeeds" must not be trusted
	if _, err := s.Ingest(ctx, record("after", 100)); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ingest after a failed fsync = %v; want ErrUnavailable", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ping after a failed fsync = %v; want ErrUnavailable", err)
	}
}
