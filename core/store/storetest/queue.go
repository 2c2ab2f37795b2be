package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/store"
)

func testClaimOrder(e *env) {
	d1 := e.one("fire", snow, "K", store.EventFired)
	d2 := e.one("resolve", snow, "K", store.EventResolved)
	d3 := e.one("other", snow, "K2", store.EventFired)

	got := e.claim("w1", snow, 10)
	e.wantIDs("first claim", ids(got), d1, d3)
	for _, d := range got {
		var a alert.Alert
		if err := json.Unmarshal(d.Alert, &a); err != nil || a.DedupKey == "" {
			e.t.Fatalf("claimed delivery %d carries alert %s (%v)", d.ID, d.Alert, err)
		}
		if d.State != store.StateLeased || d.LeaseOwner != "w1" {
			e.t.Fatalf("claimed delivery = %+v, want leased by w1", d)
		}
		e.wantTime("LeaseExpiresAt", d.LeaseExpiresAt, Start.Add(lease))
	}
	// The resolve must wait for the fire of its key, whoever asks.
	e.wantIDs("claim while key K is leased", e.claimIDs("w2", snow, 10))
	e.ok("Complete(d1)", e.s.Complete(ctx(), d1, "w1", store.Outcome{Action: "created"}))
	e.wantIDs("claim after d1 completed", e.claimIDs("w2", snow, 10), d2)
	e.ok("Complete(d3)", e.s.Complete(ctx(), d3, "w1", store.Outcome{Action: "created"}))
	e.ok("Complete(d2)", e.s.Complete(ctx(), d2, "w2", store.Outcome{Action: "resolved"}))
	e.wantIDs("claim when all done", e.claimIDs("w1", snow, 10))

	d := e.delivery(d2)
	if d.State != store.StateDone || d.Outcome != "resolved" || d.Attempts != 1 || d.LeaseOwner != "w2" {
		e.t.Fatalf("completed delivery = %+v", d)
	}
	e.wantTime("FinishedAt", d.FinishedAt, Start)
}

func testClaimBackendLimit(e *env) {
	var want []int64
	for i := 0; i < 5; i++ {
		want = append(want, e.one(fmt.Sprintf("s%d", i), snow, key(i), store.EventFired))
	}
	j := e.one("j", jira, key(0), store.EventFired) // same key, other backend: independent
	e.wantIDs("claim 2", e.claimIDs("w", snow, 2), want[0], want[1])
	e.wantIDs("claim rest", e.claimIDs("w", snow, 10), want[2:]...)
	e.wantIDs("claim jira", e.claimIDs("w", jira, 10), j)
	e.wantIDs("claim unknown backend", e.claimIDs("w", store.BackendID{Type: "cherwell", Name: "x"}, 10))

	cases := []struct {
		name     string
		owner    string
		b        store.BackendID
		limit    int
		leaseFor time.Duration
	}{
		{"no owner", "", snow, 1, lease},
		{"no backend", "w", store.BackendID{}, 1, lease},
		{"zero limit", "w", snow, 0, lease},
		{"zero lease", "w", snow, 1, 0},
	}
	for _, c := range cases {
		_, err := e.s.Claim(ctx(), c.owner, c.b, c.limit, c.leaseFor)
		e.is("Claim "+c.name, err, store.ErrInvalid)
	}
}

func testRetry(e *env) {
	d1 := e.one("fire", snow, "K", store.EventFired)
	d2 := e.one("resolve", snow, "K", store.EventResolved)
	e.wantIDs("claim", e.claimIDs("w1", snow, 10), d1)
	next := Start.Add(time.Minute)
	e.ok("Retry", e.s.Retry(ctx(), d1, "w1", next, "503 Service Unavailable"))

	d := e.delivery(d1)
	if d.State != store.StatePending || d.Attempts != 1 || d.LastError != "503 Service Unavailable" {
		e.t.Fatalf("retried delivery = %+v", d)
	}
	e.wantTime("NextAttemptAt", d.NextAttemptAt, next)
	// Not due yet, and its key's later delivery waits behind it.
	e.wantIDs("claim before due", e.claimIDs("w2", snow, 10))
	e.clock.Advance(59 * time.Second)
	e.wantIDs("claim 1s before due", e.claimIDs("w2", snow, 10))
	e.clock.Advance(time.Second)
	e.wantIDs("claim when due", e.claimIDs("w2", snow, 10), d1)
	e.ok("Retry again", e.s.Retry(ctx(), d1, "w2", e.clock.Now(), "timeout"))
	e.wantIDs("claim after immediate retry", e.claimIDs("w3", snow, 10), d1)
	e.ok("Complete", e.s.Complete(ctx(), d1, "w3", store.Outcome{Action: "created"}))
	if d := e.delivery(d1); d.Attempts != 3 || d.State != store.StateDone {
		e.t.Fatalf("after two retries and a success: %+v, want 3 attempts, done", d)
	}
	e.wantIDs("claim next of key", e.claimIDs("w3", snow, 10), d2)
}

func testTakeover(e *env) {
	d1 := e.one("a", snow, "K", store.EventFired)
	e.wantIDs("w1 claims", e.claimIDs("w1", snow, 1), d1)
	e.clock.Advance(lease - time.Second)
	e.wantIDs("w2 before expiry", e.claimIDs("w2", snow, 1))
	e.clock.Advance(time.Second)
	got := e.claim("w2", snow, 1)
	e.wantIDs("w2 after expiry", ids(got), d1)
	if got[0].LeaseOwner != "w2" || got[0].State != store.StateLeased {
		e.t.Fatalf("taken-over delivery = %+v", got[0])
	}
	// The old owner can no longer touch it.
	e.is("stale Complete", e.s.Complete(ctx(), d1, "w1", store.Outcome{Action: "created"}), store.ErrLeaseLost)
	e.is("stale Renew", e.s.Renew(ctx(), d1, "w1", lease), store.ErrLeaseLost)
	e.is("stale Retry", e.s.Retry(ctx(), d1, "w1", e.clock.Now(), "x"), store.ErrLeaseLost)
	e.is("stale DeadLetter", e.s.DeadLetter(ctx(), d1, "w1", "x"), store.ErrLeaseLost)
	e.is("stale Release", e.s.Release(ctx(), d1, "w1"), store.ErrLeaseLost)
	if d := e.delivery(d1); d.State != store.StateLeased || d.LeaseOwner != "w2" || d.Attempts != 0 {
		e.t.Fatalf("after stale calls: %+v, want untouched lease of w2", d)
	}
	e.ok("new owner completes", e.s.Complete(ctx(), d1, "w2", store.Outcome{Action: "created"}))
}

func testOwnerChecks(e *env) {
	const missing = 1 << 40
	e.is("Complete(missing)", e.s.Complete(ctx(), missing, "w", store.Outcome{}), store.ErrNotFound)
	e.is("Renew(missing)", e.s.Renew(ctx(), missing, "w", lease), store.ErrNotFound)
	e.is("Retry(missing)", e.s.Retry(ctx(), missing, "w", Start, ""), store.ErrNotFound)
	e.is("DeadLetter(missing)", e.s.DeadLetter(ctx(), missing, "w", ""), store.ErrNotFound)
	e.is("Release(missing)", e.s.Release(ctx(), missing, "w"), store.ErrNotFound)

	d1 := e.one("a", snow, "K", store.EventFired)
	e.is("Complete(never claimed)", e.s.Complete(ctx(), d1, "w1", store.Outcome{}), store.ErrLeaseLost)
	e.claim("w1", snow, 1)
	e.is("Complete(other owner)", e.s.Complete(ctx(), d1, "w2", store.Outcome{}), store.ErrLeaseLost)
	e.is("Release(other owner)", e.s.Release(ctx(), d1, "w2"), store.ErrLeaseLost)

	// An expired lease nobody took over still belongs to its owner.
	e.clock.Advance(2 * lease)
	e.ok("Renew(expired, not taken over)", e.s.Renew(ctx(), d1, "w1", lease))
	e.wantIDs("claim after renew", e.claimIDs("w2", snow, 1))
	e.ok("Complete", e.s.Complete(ctx(), d1, "w1", store.Outcome{Action: "created"}))
	e.is("Complete twice", e.s.Complete(ctx(), d1, "w1", store.Outcome{}), store.ErrLeaseLost)
	e.is("Retry(done)", e.s.Retry(ctx(), d1, "w1", Start, ""), store.ErrLeaseLost)
	e.is("Renew(non-positive)", e.s.Renew(ctx(), d1, "w1", 0), store.ErrInvalid)
}

func testRenew(e *env) {
	d1 := e.one("a", snow, "K", store.EventFired)
	e.claim("w1", snow, 1)
	e.clock.Advance(20 * time.Second)
	e.ok("Renew", e.s.Renew(ctx(), d1, "w1", lease))
	e.wantTime("LeaseExpiresAt", e.delivery(d1).LeaseExpiresAt, Start.Add(20*time.Second+lease))
	e.clock.Advance(lease - time.Second) // past the original expiry, before the renewed one
	e.wantIDs("claim before renewed expiry", e.claimIDs("w2", snow, 1))
	e.clock.Advance(time.Second)
	e.wantIDs("claim at renewed expiry", e.claimIDs("w2", snow, 1), d1)
}

func testRelease(e *env) {
	d1 := e.one("a", snow, "K", store.EventFired)
	d2 := e.one("b", snow, "K", store.EventResolved)
	e.claim("w1", snow, 5)
	e.ok("Release", e.s.Release(ctx(), d1, "w1"))
	d := e.delivery(d1)
	if d.State != store.StatePending || d.Attempts != 0 {
		e.t.Fatalf("released delivery = %+v, want pending with 0 attempts", d)
	}
	e.is("Complete after release", e.s.Complete(ctx(), d1, "w1", store.Outcome{}), store.ErrLeaseLost)
	// Released work is claimable at once, and still first in its key.
	e.wantIDs("claim after release", e.claimIDs("w2", snow, 5), d1)
	e.ok("Complete", e.s.Complete(ctx(), d1, "w2", store.Outcome{}))
	e.wantIDs("claim next", e.claimIDs("w2", snow, 5), d2)
}

func testDeadLetters(e *env) {
	d1 := e.one("a", snow, "K", store.EventFired)
	d2 := e.one("b", snow, "K", store.EventResolved)
	d3 := e.one("c", jira, "J", store.EventFired)

	e.claim("w1", snow, 5)
	e.ok("DeadLetter", e.s.DeadLetter(ctx(), d1, "w1", "400 Bad Request: invalid assignment_group"))
	e.claim("w1", jira, 5)
	e.ok("DeadLetter(d3)", e.s.DeadLetter(ctx(), d3, "w1", "401 Unauthorized"))

	page, err := e.s.ListDeadLetters(ctx(), snow, store.PageRequest{})
	e.ok("ListDeadLetters", err)
	e.wantIDs("dead letters of snow", ids(page.Items), d1)
	dl := page.Items[0]
	if dl.State != store.StateDead || dl.DeadReason != "400 Bad Request: invalid assignment_group" ||
		dl.LastError != dl.DeadReason || dl.Attempts != 1 || dl.FinishedAt.IsZero() {
		e.t.Fatalf("dead letter = %+v", dl)
	}
	page, err = e.s.ListDeadLetters(ctx(), store.BackendID{}, store.PageRequest{})
	e.ok("ListDeadLetters(all)", err)
	e.wantIDs("all dead letters", ids(page.Items), d3, d1)

	// A dead letter does not block its key.
	e.wantIDs("claim behind dead letter", e.claimIDs("w2", snow, 5), d2)
	e.ok("ReplayDeadLetter", e.s.ReplayDeadLetter(ctx(), d1))
	d := e.delivery(d1)
	if d.State != store.StatePending || d.Attempts != 0 || d.DeadReason != "" || !d.FinishedAt.IsZero() {
		e.t.Fatalf("replayed delivery = %+v", d)
	}
	e.wantTime("replayed EnqueuedAt", d.EnqueuedAt, Start)
	e.wantTime("replayed NextAttemptAt", d.NextAttemptAt, Start)
	// The replay queues behind its key's unfinished (here: leased) delivery.
	e.wantIDs("claim while d2 leased", e.claimIDs("w3", snow, 5))
	e.ok("Complete(d2)", e.s.Complete(ctx(), d2, "w2", store.Outcome{Action: "recorded"}))
	e.wantIDs("claim replayed", e.claimIDs("w3", snow, 5), d1)
	e.ok("Complete(d1)", e.s.Complete(ctx(), d1, "w3", store.Outcome{Action: "created"}))

	// Only dead letters can be replayed or dropped.
	e.is("ReplayDeadLetter(done)", e.s.ReplayDeadLetter(ctx(), d1), store.ErrNotFound)
	e.is("DropDeadLetter(done)", e.s.DropDeadLetter(ctx(), d1), store.ErrNotFound)
	e.is("ReplayDeadLetter(missing)", e.s.ReplayDeadLetter(ctx(), 1<<40), store.ErrNotFound)
	if st := e.stats(); st.Dead != 1 || st.Done != 2 {
		e.t.Fatalf("stats = %+v, want 1 dead, 2 done", st)
	}
	e.ok("DropDeadLetter", e.s.DropDeadLetter(ctx(), d3))
	_, err = e.s.GetDelivery(ctx(), d3)
	e.is("GetDelivery(dropped)", err, store.ErrNotFound)
	e.is("DropDeadLetter twice", e.s.DropDeadLetter(ctx(), d3), store.ErrNotFound)
	if st := e.stats(); st.Dead != 0 {
		e.t.Fatalf("stats = %+v, want no dead letters", st)
	}
}

// testConcurrentWorkers runs many workers against a queue of several keys
// with several deliveries each and checks that no delivery is handed out
// twice, that a key is never worked by two workers at once and that each
// key's deliveries complete in order.
func testConcurrentWorkers(e *env) {
	runWorkers(e.t, []store.Store{e.s}, 12, 5, 8)
}

// runWorkers ingests keys×perKey deliveries (round-robin over stores) and
// works them with workers goroutines spread over stores, checking
// exclusivity and order per key.
func runWorkers(t *testing.T, stores []store.Store, keys, perKey, workers int) {
	t.Helper()
	e := &env{t: t, s: stores[0]}
	order := map[string][]int64{} // key → delivery ids in ingest order
	for n := 0; n < perKey; n++ {
		for k := 0; k < keys; k++ {
			ev := store.EventFired
			if n%2 == 1 {
				ev = store.EventResolved
			}
			e.s = stores[(n*keys+k)%len(stores)]
			id := e.one(fmt.Sprintf("w-%d-%d", k, n), snow, key(k), ev)
			order[key(k)] = append(order[key(k)], id)
		}
	}
	var (
		mu       sync.Mutex
		inFlight = map[string]int64{}
		done     = map[string][]int64{}
		total    int
		failures []string
		wg       sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%len(stores)]
			owner := fmt.Sprintf("worker-%d", w)
			for idle := 0; idle < 500; {
				mu.Lock()
				finished := total == keys*perKey || len(failures) > 0
				mu.Unlock()
				if finished {
					return
				}
				ds, err := s.Claim(ctx(), owner, snow, 3, lease)
				if err != nil {
					fail("Claim: %v", err)
					return
				}
				if len(ds) == 0 {
					idle++
					time.Sleep(time.Millisecond) // nothing claimable: let others finish
					continue
				}
				idle = 0
				for _, d := range ds {
					mu.Lock()
					if other, busy := inFlight[d.TicketKey]; busy {
						failures = append(failures, fmt.Sprintf("%s got delivery %d of %s while %d is in flight", owner, d.ID, d.TicketKey, other))
					}
					// Every earlier delivery of the key must have been completed
					// (done is appended before Complete is called).
					pos := slices.Index(order[d.TicketKey], d.ID)
					if pos < 0 || !slices.Equal(done[d.TicketKey], order[d.TicketKey][:pos]) {
						failures = append(failures, fmt.Sprintf("%s got delivery %d of %s after %v completed; order is %v", owner, d.ID, d.TicketKey, done[d.TicketKey], order[d.TicketKey]))
					}
					inFlight[d.TicketKey] = d.ID
					mu.Unlock()
				}
				for _, d := range ds {
					mu.Lock()
					delete(inFlight, d.TicketKey)
					done[d.TicketKey] = append(done[d.TicketKey], d.ID)
					total++
					mu.Unlock()
					if err := s.Complete(ctx(), d.ID, owner, store.Outcome{Action: "ok"}); err != nil {
						fail("Complete(%d): %v", d.ID, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	if t.Failed() {
		return
	}
	for k, want := range order {
		e.wantIDs("completion order of "+k, done[k], want...)
	}
	e.s = stores[len(stores)-1]
	if st := e.stats(); st.Done != int64(keys*perKey) || st.Pending+st.Leased != 0 {
		t.Fatalf("stats = %+v, want all %d done", st, keys*perKey)
	}
}
