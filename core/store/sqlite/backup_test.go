package sqlite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// TestBackupWhileWriting: a backup taken while ingests commit is a
// consistent database (every alert with all its deliveries, nothing
// half-written) holding at least what was committed before it started, and
// it opens as a store.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, filepath.Join(dir, "db.sqlite"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 300 {
		if _, err := s.Ingest(ctx, record(fmt.Sprintf("before-%d", i), 2000)); err != nil {
			t.Fatal(err)
		}
	}

	// Writers keep committing during the backup.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var during atomic.Int64
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.Ingest(ctx, record(fmt.Sprintf("during-%d-%d", w, i), 2000)); err != nil {
					t.Error(err)
					return
				}
				during.Add(1)
			}
		}()
	}
	for during.Load() < 50 { // the writers are under way
		time.Sleep(time.Millisecond)
	}
	dest := filepath.Join(dir, "backup.sqlite")
	info, err := s.Backup(ctx, dest)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if info.Alerts < 300 || info.Deliveries != 2*info.Alerts || info.SchemaVersion != len(migrations) || info.Bytes == 0 {
		t.Fatalf("backup info = %+v; want ≥ 300 alerts with 2 deliveries each, schema %d", info, len(migrations))
	}
	keys := checkConsistent(t, dest)
	for i := range 300 {
		if !keys[fmt.Sprintf("before-%d", i)] {
			t.Fatalf("alert before-%d, committed before the backup, is not in it", i)
		}
	}
	if int64(len(keys)) != info.Alerts {
		t.Errorf("backup info counts %d alerts, the copy holds %d", info.Alerts, len(keys))
	}

	// The copy is a working store (restore = put it in place of the database).
	r, err := Open(ctx, dest, Options{})
	if err != nil {
		t.Fatalf("open the backup as a store: %v", err)
	}
	defer r.Close()
	page, err := r.ListAlerts(ctx, store.AlertFilter{}, store.PageRequest{Limit: 1})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("ListAlerts on the backup = %+v, %v", page, err)
	}
}

// TestBackupRefusesExistingFiles: a backup never overwrites a file, the
// database least of all.
func TestBackupRefusesExistingFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "db.sqlite")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	existing := filepath.Join(dir, "old-backup.sqlite")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dest := range []string{existing, path} {
		if _, err := s.Backup(ctx, dest); err == nil || !strings.Contains(err.Error(), dest) {
			t.Errorf("Backup(%s) = %v; want an error naming the file", dest, err)
		}
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("the existing file was changed: %q", b)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("the store after refused backups: %v", err)
	}
}
