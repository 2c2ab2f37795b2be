package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/storetest"
)

func openTest(t testing.TB, path string, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, Options{Now: now})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openTest(t, filepath.Join(t.TempDir(), "itsmbridge.db"), now)
	})
}

func TestReplicas(t *testing.T) {
	storetest.RunReplicas(t, func(t *testing.T, now func() time.Time, n int) []store.Store {
		path := filepath.Join(t.TempDir(), "itsmbridge.db")
		var ss []store.Store
		for i := 0; i < n; i++ {
			ss = append(ss, openTest(t, path, now))
		}
		return ss
	})
}
