package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// ReplicaFactory opens n stores on one fresh, empty database (replicas, or
// processes sharing a file), all reading the clock now, and arranges for
// them to be closed when t ends.
type ReplicaFactory func(t *testing.T, now func() time.Time, n int) []store.Store

// RunReplicas runs the multi-instance suite: what holds for one store must
// hold across instances sharing a database.
func RunReplicas(t *testing.T, f ReplicaFactory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c *Clock, ss []store.Store)
	}{
		{"DuplicatesCollapseAcrossReplicas", testReplicaDuplicates},
		{"WorkersAcrossReplicasKeepKeyOrder", func(t *testing.T, _ *Clock, ss []store.Store) { runWorkers(t, ss, 10, 4, 6) }},
		{"TakeoverAcrossReplicas", testReplicaTakeover},
		{"DeadLetterReplayAcrossReplicas", testReplicaDeadLetter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClock(Start)
			tc.fn(t, c, f(t, c.Now, 3))
		})
	}
}

// testReplicaDuplicates sends every alert to all replicas at once.
func testReplicaDuplicates(t *testing.T, _ *Clock, ss []store.Store) {
	const alerts = 30
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		start = make(chan struct{})
		fresh = map[string]int{}
		ids   = map[string]map[int64]bool{}
	)
	for i := 0; i < alerts; i++ {
		k := fmt.Sprintf("everywhere-%d", i)
		ids[k] = map[int64]bool{}
		for r, s := range ss {
			for copy := 0; copy < 2; copy++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					res, err := s.Ingest(ctx(), rec(k, del(snow, k, store.EventFired)))
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Errorf("replica %d: Ingest(%s): %v", r, k, err)
						return
					}
					if !res.Duplicate {
						fresh[k]++
					}
					ids[k][res.AlertID] = true
				}()
			}
		}
	}
	close(start)
	wg.Wait()
	for i := 0; i < alerts; i++ {
		k := fmt.Sprintf("everywhere-%d", i)
		if fresh[k] != 1 || len(ids[k]) != 1 || ids[k][0] {
			t.Errorf("%s: stored %d times, alert ids %v; want once, one id", k, fresh[k], ids[k])
		}
	}
	st, err := ss[0].Stats(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if st.Alerts != alerts || st.Pending != alerts {
		t.Fatalf("stats = %+v, want %d alerts with one delivery each", st, alerts)
	}
}

// testReplicaTakeover: replica 0 claims and dies (stops renewing); after the
// lease expires replica 1 takes over, and replica 0's late Complete fails.
func testReplicaTakeover(t *testing.T, c *Clock, ss []store.Store) {
	e := &env{t: t, s: ss[0], clock: c}
	d1 := e.one("t1", snow, "K", store.EventFired)
	d2 := e.one("t2", snow, "K", store.EventResolved)
	e.wantIDs("replica 0 claims", e.claimIDs("r0", snow, 5), d1)
	e.s = ss[1]
	e.wantIDs("replica 1 before expiry", e.claimIDs("r1", snow, 5))
	c.Advance(lease)
	e.wantIDs("replica 1 after expiry", e.claimIDs("r1", snow, 5), d1)
	e.is("late Complete by dead replica", ss[0].Complete(ctx(), d1, "r0", store.Outcome{Action: "created"}), store.ErrLeaseLost)
	e.s = ss[2]
	e.wantIDs("replica 2 while replica 1 works the key", e.claimIDs("r2", snow, 5))
	e.ok("replica 1 completes", ss[1].Complete(ctx(), d1, "r1", store.Outcome{Action: "created"}))
	e.wantIDs("replica 2 gets the next of the key", e.claimIDs("r2", snow, 5), d2)
}

// testReplicaDeadLetter: a dead letter made on one replica is replayed on
// another and worked on a third.
func testReplicaDeadLetter(t *testing.T, c *Clock, ss []store.Store) {
	e := &env{t: t, s: ss[0], clock: c}
	d := e.one("dl", snow, "K", store.EventFired)
	e.claim("r0", snow, 1)
	e.ok("DeadLetter", ss[0].DeadLetter(ctx(), d, "r0", "400"))
	e.ok("Replay on replica 1", ss[1].ReplayDeadLetter(ctx(), d))
	e.s = ss[2]
	e.wantIDs("replica 2 claims the replay", e.claimIDs("r2", snow, 1), d)
}
