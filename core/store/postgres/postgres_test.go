package postgres

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/pgtest"
	"github.com/itsmbridge/itsmbridge/core/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openTest(t testing.TB, dsn string, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, Options{Now: now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T, now func() time.Time) store.Store {
		return openTest(t, pgtest.Start(t), now)
	})
}

func TestReplicas(t *testing.T) {
	storetest.RunReplicas(t, func(t *testing.T, now func() time.Time, n int) []store.Store {
		dsn := pgtest.Start(t)
		var ss []store.Store
		for i := 0; i < n; i++ {
			ss = append(ss, openTest(t, dsn, now))
		}
		return ss
	})
}
