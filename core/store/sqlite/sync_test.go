package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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

// TestFailedWriteSparesItsBatch: when one write of a shared transaction
// fails with a database error, it alone is answered with ErrUnavailable;
// the others are committed in a fresh transaction. (The batch is handed to
// commit directly, as the writer would after draining the queue: the
// writer goroutine is idle meanwhile.)
func TestFailedWriteSparesItsBatch(t *testing.T) {
	var batches []int
	var mu sync.Mutex
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "db"), Options{OnCommit: func(n int, _ time.Duration, err error) {
		if err == nil {
			mu.Lock()
			batches = append(batches, n)
			mu.Unlock()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	var batch []*op
	for _, name := range []string{"a", "b", "bad", "c", "d"} {
		o := &op{ctx: ctx, res: make(chan error, 1), fn: func(tx *sql.Tx) error {
			if name == "bad" {
				_, err := tx.Exec(`INSERT INTO no_such_table VALUES (1)`)
				return err
			}
			in, err := s.prepareIngest(record(name, 100))
			if err != nil {
				return err
			}
			_, err = s.execIngest(in, tx)
			return err
		}}
		batch = append(batch, o)
	}
	s.commit(batch)
	for i, o := range batch {
		err := <-o.res
		if i == 2 {
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("failing write = %v; want ErrUnavailable", err)
			}
		} else if err != nil {
			t.Fatalf("write %d, batched with the failing one, failed too: %v", i, err)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil || st.Alerts != 4 {
		t.Fatalf("Stats = %+v, %v; want the 4 good alerts stored", st, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(batches) != 1 || batches[0] != 4 {
		t.Fatalf("commits carried %v writes; want one transaction with the 4 good ones", batches)
	}
}
