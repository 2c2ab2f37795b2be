package retention

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/sqlite"
	"github.com/itsmbridge/itsmbridge/core/store/storetest"
)

type counts struct {
	mu    sync.Mutex
	calls int
	sum   store.PurgeResult
	seen  chan struct{}
}

func (c *counts) Purged(a, d, t int64) {
	c.mu.Lock()
	c.calls++
	c.sum.Alerts += a
	c.sum.Deliveries += d
	c.sum.Tickets += t
	c.mu.Unlock()
	if a > 0 && c.seen != nil {
		select {
		case c.seen <- struct{}{}:
		default:
		}
	}
}

func open(t *testing.T, clock *storetest.Clock) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"), sqlite.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// ingest stores n alerts; routed ones get one pending delivery.
func ingest(t *testing.T, s store.Store, prefix string, n int, routed bool) {
	t.Helper()
	for i := range n {
		key := fmt.Sprintf("%s-%d", prefix, i)
		rec := store.IngestRecord{Source: "prod", Raw: []byte(`{}`),
			Alert: alert.Alert{ID: key, Status: alert.StatusFired, DedupKey: key, Context: json.RawMessage(`{}`)}}
		if routed {
			rec.Deliveries = []store.NewDelivery{{Route: "r", Backend: store.BackendID{Type: "fake", Name: "x"}, TicketKey: key, Event: store.EventFired}}
		}
		if _, err := s.Ingest(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPassDeletesInBatches: a pass deletes all old finished history in
// batches of Batch, counts it, and leaves unfinished work and recent alerts.
func TestPassDeletesInBatches(t *testing.T) {
	clock := storetest.NewClock(storetest.Start)
	s := open(t, clock)
	ingest(t, s, "old", 250, false)
	ingest(t, s, "work", 1, true) // pending: kept however old
	clock.Advance(48 * time.Hour)
	ingest(t, s, "new", 3, false)

	var c counts
	got := Pass(context.Background(), s, Options{Keep: 24 * time.Hour, Batch: 100, Pause: time.Millisecond, Now: clock.Now, Record: &c})
	if got != (store.PurgeResult{Alerts: 250}) {
		t.Fatalf("Pass = %+v, want 250 alerts", got)
	}
	if c.calls != 3 || c.sum != got {
		t.Fatalf("recorded %d calls summing %+v; want 3 batches summing %+v", c.calls, c.sum, got)
	}
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Alerts != 4 || st.Pending != 1 {
		t.Fatalf("after the pass: %d alerts, %d pending; want the pending one and the 3 recent ones", st.Alerts, st.Pending)
	}
	if again := Pass(context.Background(), s, Options{Keep: 24 * time.Hour, Now: clock.Now}); again != (store.PurgeResult{}) {
		t.Fatalf("second pass = %+v, want nothing", again)
	}
}

type failing struct{ calls int }

func (f *failing) Purge(context.Context, time.Time, int) (store.PurgeResult, error) {
	f.calls++
	return store.PurgeResult{}, fmt.Errorf("purge: %w", store.ErrUnavailable)
}

// TestPassStopsOnError: a store error ends the pass without retrying in a
// loop; the next scheduled pass tries again.
func TestPassStopsOnError(t *testing.T) {
	f := &failing{}
	if got := Pass(context.Background(), f, Options{Keep: time.Hour}); got != (store.PurgeResult{}) || f.calls != 1 {
		t.Fatalf("Pass on a failing store = %+v after %d calls; want nothing after 1", got, f.calls)
	}
}

// TestRunOnSchedule: Run purges after Delay and then every Every, until
// its context ends.
func TestRunOnSchedule(t *testing.T) {
	clock := storetest.NewClock(storetest.Start)
	s := open(t, clock)
	ingest(t, s, "a", 2, false)
	clock.Advance(48 * time.Hour)
	c := &counts{seen: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, s, Options{Keep: time.Hour, Delay: time.Millisecond, Every: 10 * time.Millisecond, Now: clock.Now, Record: c})
		close(done)
	}()
	wait := func(what string) {
		select {
		case <-c.seen:
		case <-time.After(10 * time.Second):
			t.Fatalf("no purge %s", what)
		}
	}
	wait("after the first delay")
	ingest(t, s, "b", 2, false)
	clock.Advance(48 * time.Hour)
	wait("at the next interval")
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sum.Alerts != 4 {
		t.Fatalf("purged %d alerts over two passes, want 4", c.sum.Alerts)
	}
}
