package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/pgtest"
	"github.com/itsmbridge/itsmbridge/sdk"
)

var snow = store.BackendID{Type: "servicenow", Name: "prod"}

func record(dedup, key string) store.IngestRecord {
	return store.IngestRecord{
		Source: "prod",
		Alert:  alert.Alert{ID: "id-" + dedup, Status: alert.StatusFired, DedupKey: dedup},
		Raw:    []byte(`{}`),
		Deliveries: []store.NewDelivery{
			{Route: "r", Backend: snow, TicketKey: key, Event: store.EventFired},
		},
	}
}

// TestMigrationRace starts several replicas at once on an empty database.
func TestMigrationRace(t *testing.T) {
	dsn := pgtest.Start(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), dsn, Options{DisableListen: true})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Open: %v", i, err)
		}
	}
	s := openTest(t, dsn, nil)
	var v int
	if err := s.pool.QueryRow(context.Background(), `SELECT version FROM schema_version`).Scan(&v); err != nil || v != len(migrations) {
		t.Fatalf("schema_version = %d, %v; want %d", v, err, len(migrations))
	}
	if _, err := s.pool.Exec(context.Background(), `UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), dsn, Options{})
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("Open(newer schema) = %v, want a clear refusal", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "postgres://%zz", Options{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Open(bad dsn) = %v, want ErrInvalid", err)
	}
	// Nothing listens on port 1.
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := Open(c, "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=5", Options{}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open(unreachable) = %v, want ErrUnavailable", err)
	}
}

// TestDatabaseGone: when the database disappears under a running store,
// every operation reports ErrUnavailable (ingress answers 503).
func TestDatabaseGone(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Start(t)
	s := openTest(t, dsn, nil)
	if _, err := s.Ingest(ctx, record("before", "K")); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE "+db+" WITH (FORCE)"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Ingest(ctx, record("after", "K"))
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ingest = %v, want ErrUnavailable", err)
	}
	if _, err := s.Quarantine(ctx, store.QuarantineRecord{Raw: []byte(`{}`)}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Quarantine = %v, want ErrUnavailable", err)
	}
	if _, err := s.Claim(ctx, "w", snow, 1, time.Minute); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Claim = %v, want ErrUnavailable", err)
	}
	if _, err := s.ListAlerts(ctx, store.AlertFilter{}, store.PageRequest{}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("ListAlerts = %v, want ErrUnavailable", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Ping = %v, want ErrUnavailable", err)
	}
}

// outOfOrderIngests opens two replicas a and b of one fresh database and
// makes two ingests of ticket key K commit out of queue order: a's "slow"
// ingest takes its queue position (seq) first but stays uncommitted in
// slow (rolled back at the end of the test unless committed), then b's
// "fast" ingest commits.
func outOfOrderIngests(t *testing.T) (a, b *Store, slow pgx.Tx, slowDeliveries []int64, fast store.IngestResult) {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.Start(t)
	a, b = openTest(t, dsn, nil), openTest(t, dsn, nil)
	slow, err := a.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slow.Rollback(ctx) })
	req, err := a.prepareIngest(record("slow", "K"))
	if err != nil {
		t.Fatal(err)
	}
	var slowID *int64
	if err := slow.QueryRow(ctx, ingestSQL, req.args...).Scan(&slowID, &slowDeliveries); err != nil {
		t.Fatal(err)
	}
	if fast, err = b.Ingest(ctx, record("fast", "K")); err != nil {
		t.Fatal(err)
	}
	return a, b, slow, slowDeliveries, fast
}

// TestOutOfOrderCommitKeepsKeyExclusive: two ingests of one ticket key
// commit in the opposite order of their queue positions. The later one may
// be claimed first (the earlier was invisible), but then the earlier one
// must wait: never two deliveries of a key in flight.
func TestOutOfOrderCommitKeepsKeyExclusive(t *testing.T) {
	ctx := context.Background()
	a, b, slow, slowDeliveries, fast := outOfOrderIngests(t)
	got, err := b.Claim(ctx, "b", snow, 10, time.Minute)
	if err != nil || len(got) != 1 || got[0].ID != fast.Deliveries[0] {
		t.Fatalf("claim with the slow ingest uncommitted = %v, %v; want the fast delivery", got, err)
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Store{a, b} {
		got, err := s.Claim(ctx, "other", snow, 10, time.Minute)
		if err != nil || len(got) != 0 {
			t.Fatalf("claim while the key is leased = %v, %v; want nothing", got, err)
		}
	}
	if err := b.Complete(ctx, fast.Deliveries[0], "b", store.Outcome{}); err != nil {
		t.Fatal(err)
	}
	got, err = a.Claim(ctx, "a", snow, 10, time.Minute)
	if err != nil || len(got) != 1 || got[0].ID != slowDeliveries[0] {
		t.Fatalf("claim after completion = %v, %v; want the slow delivery", got, err)
	}
}

// TestWatchAcrossReplicas: an ingest on one replica wakes the other's
// workers through NOTIFY.
func TestWatchAcrossReplicas(t *testing.T) {
	dsn := pgtest.Start(t)
	a, b := openTest(t, dsn, nil), openTest(t, dsn, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := b.Watch(ctx, snow)
	// The listener connects in the background; keep ingesting until b hears.
	deadline := time.After(20 * time.Second) // a hang guard, not a timing assertion
	for i := 0; ; i++ {
		if _, err := a.Ingest(context.Background(), record(fmt.Sprintf("n%d", i), fmt.Sprintf("K%d", i))); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ch:
			return
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("replica b was never notified of work ingested on replica a")
		}
	}
}

// TestConcurrentClaimsSeeEachOther: a claim made while another replica's
// claim of the same ticket key is uncommitted must not lease anything of
// that key, nor after that claim commits. Here the first claim leased the
// later delivery of key K (the earlier one committed out of order, after
// the first claim's snapshot); the earlier one must wait while the later is
// in flight.
func TestConcurrentClaimsSeeEachOther(t *testing.T) {
	ctx := context.Background()
	a, b, slow, _, fast := outOfOrderIngests(t)

	// Replica a's claim, held open after it leased the fast delivery.
	first, err := a.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(ctx)
	now := a.now()
	if _, err := first.Exec(ctx, claimPickSQL, snow.Type, snow.Name, now, 10, lockClass); err != nil {
		t.Fatal(err)
	}
	rows, err := first.Query(ctx, claimLeaseSQL, "a", now.Add(time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := scanDeliveries(rows, true, now)
	if err != nil || len(got) != 1 || got[0].ID != fast.Deliveries[0] {
		t.Fatalf("first claim = %v, %v; want the fast delivery", got, err)
	}
	if err := slow.Commit(ctx); err != nil { // the earlier delivery of K appears
		t.Fatal(err)
	}
	if got, err := b.Claim(ctx, "b", snow, 10, time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("claim while the first is uncommitted = %v, %v; want nothing", got, err)
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Claim(ctx, "b", snow, 10, time.Minute); err != nil || len(got) != 0 {
		t.Fatalf("claim after the first committed = %v, %v; want nothing: key K's later delivery is in flight", got, err)
	}
}

// TestClaimWithTickets: the tickets read with a claim are what GetTicket
// returns for the claimed keys (highest generation, with CI bindings), and
// keys without a ticket are absent.
func TestClaimWithTickets(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, pgtest.Start(t), nil)
	for _, k := range []string{"A", "B", "C"} {
		if _, err := s.Ingest(ctx, record("d-"+k, k)); err != nil {
			t.Fatal(err)
		}
	}
	for gen := 1; gen <= 2; gen++ {
		if _, err := s.PutTicket(ctx, store.Ticket{Backend: snow, Key: "A", Generation: gen, State: store.TicketOpen,
			Ref: sdk.TicketRef{ID: fmt.Sprint("sys-", gen), Number: fmt.Sprint("INC", gen)}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddCIBinding(ctx, snow, "A", 2, store.CIBinding{Item: "vm1", Ref: sdk.CIRef{ID: "ci1", Name: "vm1", Class: "vm"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutTicket(ctx, store.Ticket{Backend: snow, Key: "C", Generation: 1, State: store.TicketResolved,
		Ref: sdk.TicketRef{ID: "sys-c", Number: "INC-C"}}); err != nil {
		t.Fatal(err)
	}
	ds, tickets, err := s.ClaimWithTickets(ctx, "w", snow, 10, time.Minute)
	if err != nil || len(ds) != 3 {
		t.Fatalf("ClaimWithTickets = %d deliveries, %v; want 3", len(ds), err)
	}
	if _, ok := tickets["B"]; ok || len(tickets) != 2 {
		t.Fatalf("tickets for keys %v; want A and C", slices.Collect(maps.Keys(tickets)))
	}
	for _, k := range []string{"A", "C"} {
		want, err := s.GetTicket(ctx, snow, k)
		if err != nil {
			t.Fatal(err)
		}
		if got := tickets[k]; !reflect.DeepEqual(got, want) {
			t.Errorf("ticket of %s read with the claim = %+v, GetTicket = %+v", k, got, want)
		}
	}
	if got := tickets["A"]; got.Generation != 2 || len(got.CIBindings) != 1 {
		t.Errorf("ticket of A = generation %d with %d bindings; want generation 2 with its binding", got.Generation, len(got.CIBindings))
	}
}
