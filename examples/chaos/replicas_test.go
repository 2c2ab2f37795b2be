package chaos

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/time/rate"

	"github.com/itsmbridge/itsmbridge/core/store/pgtest"
)

// TestReplicasPostgres: three replicas of the bridge on one PostgreSQL
// database share the work (DESIGN §8.7). Alerts are sprayed across them
// round-robin; a quarter of the fires and half of the resolves are posted to two
// replicas at the same moment; resolves go to another replica than their
// fire, once the fire was acknowledged. Replica 2 is SIGKILLed mid-stream
// while it holds leases; what it left unacknowledged is re-sent to the
// survivors, as Azure retries, and its leases expire and are taken over.
//
// Asserted: every acknowledged alert has exactly one incident, resolved
// when its resolve was acknowledged, and the bridge agrees (env.verify);
// copies posted at once to different replicas got one 202 and 200
// duplicate otherwise; per ticket key, ServiceNow saw the create complete
// before anything touched the incident and the create's delivery finished
// before the resolve's began (§8.4); the killed replica's leases were taken
// over by survivors, and no survivor worked those deliveries before the
// lease expired; both survivors completed deliveries.
func TestReplicasPostgres(t *testing.T) {
	t.Parallel()
	const replicas, victim = 3, 2
	c := newCluster(t, replicas, envOptions{maxConcurrency: 4})
	c.reps[0].snow.InjectFault(vendorLatency) // work is in flight whenever the kill comes
	c.start()
	admin := c.reps[0] // a survivor: its admin API shows the shared store

	const n = 120
	resolves := func(i int) bool { return i%2 == 0 }
	dupFire := func(i int) bool { return i%4 == 1 }
	dupResolve := func(i int) bool { return i%4 == 0 }
	l := newLedger(n, resolves)
	s := newSprayer(c, l)

	// The stream: fire to replica i%3 (and i+1 for duplicates); once it is
	// acknowledged, the resolve to replica i+1 (and i+2).
	streamed := make(chan struct{})
	go func() {
		defer close(streamed)
		lim := rate.NewLimiter(100, 1)
		next := make(chan int)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for i := range next {
					_ = lim.Wait(context.Background())
					to := []int{i % replicas}
					if dupFire(i) {
						to = append(to, (i+1)%replicas)
					}
					s.post(payloadID{i, false}, to)
					if !resolves(i) || !l.isAcked(i, false) {
						continue
					}
					_ = lim.Wait(context.Background())
					to = []int{(i + 1) % replicas}
					if dupResolve(i) {
						to = append(to, (i+2)%replicas)
					}
					s.post(payloadID{i, true}, to)
				}
			})
		}
		for i := range n {
			next <- i
		}
		close(next)
		wg.Wait()
	}()

	// Kill the victim once a third of the fires are in and it holds leases.
	victimLeases := func() []leaseRec {
		var out []leaseRec
		for _, d := range listAll[leaseRec](admin, "/api/v1/deliveries", url.Values{"state": {"leased"}}) {
			if c.replicaOf(d.LeaseOwner) == victim {
				out = append(out, d)
			}
		}
		return out
	}
	admin.waitFor(fmt.Sprintf("a third of the fires acknowledged and replica %d holding leases", victim), 30*time.Second, func() bool {
		select {
		case <-streamed:
			t.Fatalf("the stream ended before the kill point (%d fires acknowledged)", l.ackedFired())
		default:
		}
		return l.ackedFired() >= n/3 && len(victimLeases()) > 0
	})
	c.reps[victim].killHost()
	// A dead replica cannot complete anything once PostgreSQL has closed its
	// sessions (a batch sent just before the kill may still commit until
	// then): what it still leases are orphans.
	c.waitDisconnected(victim)
	orphans := victimLeases()
	acked, created := l.ackedFired(), admin.incidents()
	<-streamed
	t.Logf("SIGKILLed replica %d with %d/%d fires acknowledged, %d incidents created, %d deliveries leased by it",
		victim, acked, n, created, len(orphans))
	if len(orphans) == 0 {
		t.Fatalf("replica %d held no lease once killed: nothing for the survivors to take over", victim)
	}
	if acked == n {
		t.Fatalf("every fire was acknowledged before the kill; the stream was not interrupted")
	}

	// Azure retries what was not acknowledged; only the survivors answer.
	survivors := []int{0, 1}
	for pass := 0; ; pass++ {
		var missing []int
		for i := range n {
			if !l.complete(i) {
				missing = append(missing, i)
			}
		}
		if len(missing) == 0 {
			break
		}
		if pass == 20 {
			t.Fatalf("alerts %v still unacknowledged after 20 passes; refusals seen: %s", missing, l.refusals())
		}
		if pass > 0 {
			time.Sleep(250 * time.Millisecond) // Azure's retries are spaced too
		}
		for _, i := range missing {
			if !l.isAcked(i, false) {
				s.post(payloadID{i, false}, []int{survivors[i%len(survivors)]})
			}
			if resolves(i) && l.isAcked(i, false) && !l.isAcked(i, true) {
				s.post(payloadID{i, true}, []int{survivors[(i+1)%len(survivors)]})
			}
		}
	}
	t.Logf("posts refused or failed on the way (then re-sent): %s", l.refusals())

	// Exactly one incident per acknowledged alert, resolved when its resolve
	// was, and the bridge's view agrees.
	sum := admin.verify(l)
	for _, r := range c.reps[1:] {
		if strings.Contains(r.logTail(1<<20), "panic") {
			t.Errorf("%s or its plugin logged a panic", r.name)
		}
	}

	whole, torn := s.checkAnswers(victim)
	t.Logf("%d volleys of copies posted to two replicas at once checked whole, %d lost a copy", whole, torn)
	if whole < 10 {
		t.Errorf("only %d volleys of simultaneous copies were answered in full; the duplicate check proved little", whole)
	}

	// Who did the work, from the store's leases.
	deliveries := listAll[leaseRec](admin, "/api/v1/deliveries", nil)
	byID := map[int64]leaseRec{}
	done := make([]int, replicas)
	for _, d := range deliveries {
		byID[d.ID] = d
		if d.State != "done" {
			continue
		}
		r := c.replicaOf(d.LeaseOwner)
		if r < 0 {
			t.Errorf("delivery %d was completed under lease owner %q, none of the replicas", d.ID, d.LeaseOwner)
			continue
		}
		done[r]++
	}
	t.Logf("deliveries completed per replica: %v", done)
	for _, r := range survivors {
		if done[r] == 0 {
			t.Errorf("replica %d completed no delivery (per replica: %v); the replicas did not share the work (DESIGN §8.7)", r, done)
		}
	}

	// Per ticket key, in the order ServiceNow saw the calls.
	keyOf := map[string]string{}
	for _, rec := range admin.snow.Records("incident", "") {
		keyOf[rec["sys_id"]] = rec["correlation_id"]
	}
	calls := callsByKey(admin.snow.Calls(), keyOf)
	index := map[string]int{} // Azure alert id → alert
	for i := range n {
		index[admin.alertID(i)] = i
	}
	stored := map[int64]int{} // stored alert → alert
	for _, a := range listAll[alertRec](admin, "/api/v1/alerts", nil) {
		if i, ok := index[a.AlertID]; ok {
			stored[a.ID] = i
		}
	}
	keys := map[string]int{} // ticket key → alert
	for _, d := range deliveries {
		if i, ok := stored[d.AlertID]; ok && d.Event == "fired" {
			keys[d.TicketKey] = i
		}
	}
	if len(keys) != sum.alerts {
		t.Errorf("%d ticket keys with a fired delivery for %d acknowledged alerts", len(keys), sum.alerts)
	}
	for key, i := range keys {
		if p := orderProblem(calls[key], l.isAcked(i, true)); p != "" {
			t.Errorf("alert %d, ticket key %s: %s (DESIGN §8.4)", i, key, p)
		}
	}

	// The orphans: taken over by a survivor, never before the lease expired.
	begun := 0 // the killed replica's calls for its orphans: interrupted work
	for _, o := range orphans {
		d, ok := byID[o.ID]
		switch {
		case !ok:
			t.Errorf("orphaned delivery %d (ticket key %s) is gone from the store", o.ID, o.TicketKey)
			continue
		case d.State != "done" || c.replicaOf(d.LeaseOwner) == victim || c.replicaOf(d.LeaseOwner) < 0:
			t.Errorf("delivery %d leased by the killed replica is %s under owner %q, want done by a survivor", d.ID, d.State, d.LeaseOwner)
			continue
		}
		kinds := []string{callLookup, callCreate}
		if o.Event == "resolved" {
			kinds = []string{callRead, callUpdate}
		}
		checked := 0
		for _, kc := range calls[o.TicketKey] {
			if !slices.Contains(kinds, kc.kind) {
				continue
			}
			if kc.call.User == replicaUser(victim) {
				begun++
				continue
			}
			checked++
			if kc.call.Time.Before(o.LeaseExpiresAt) {
				t.Errorf("delivery %d (%s, key %s): %s called ServiceNow (%s) at %s, before replica %d's lease expired at %s (DESIGN §8.7: one replica at a time)",
					o.ID, o.Event, o.TicketKey, kc.call.User, kc.kind, kc.call.Time.Format(time.RFC3339Nano), victim, o.LeaseExpiresAt.Format(time.RFC3339Nano))
			}
		}
		if checked == 0 {
			t.Errorf("delivery %d (%s, key %s), taken over from replica %d, shows no survivor's call in ServiceNow: %s", o.ID, o.Event, o.TicketKey, victim, describeCalls(calls[o.TicketKey]))
		}
	}
	t.Logf("%d alerts, %d resolves, %d incidents; %d orphaned deliveries taken over (replica %d had made %d ServiceNow calls for them); %d creates were looked up again",
		sum.alerts, sum.resolves, sum.incidents, len(orphans), victim, begun, sum.recreated)
}

// BenchmarkReplicasEndToEnd measures deliveries per second through two
// replicas on one PostgreSQL database (durable: pgtest runs fsync=on under
// -test.bench): b.N signed fires posted round-robin across the replicas by
// 64 concurrent senders, each acknowledged, stored, claimed by either
// replica and created as a ticket by the backend's plugin. The clock stops
// when the store counts b.N deliveries done; then exactly b.N tickets must
// exist. Run with a fixed count, e.g. -benchtime=4000x: every round starts
// its own replicas.
//
//   - noop: the no-op plugin (examples/chaos/noopplugin), the issue's
//     measure: the bridge and its store alone. Tickets are counted in the
//     store.
//   - servicenow: the real ServiceNow plugin against the emulator (which
//     adds no latency): lookup + POST per incident. Incidents are counted
//     in the emulator.
//
// Besides deliveries/s it reports the CPU seconds per 1000 deliveries of
// PostgreSQL (all backends), the two replicas (with their plugins) and the
// benchmark process (senders, Entra stand-in, emulator).
func BenchmarkReplicasEndToEnd(b *testing.B) {
	b.Run("noop", func(b *testing.B) { benchReplicas(b, true) })
	b.Run("servicenow", func(b *testing.B) { benchReplicas(b, false) })
	b.Run("noop-drain", func(b *testing.B) { benchReplicasDrain(b, 32) })
	b.Run("noop-drain-concurrency-128", func(b *testing.B) { benchReplicasDrain(b, 128) })
}

// doneDeliveries is the number of deliveries done, from the admin API of
// replica e; a dead letter fails the benchmark.
func doneDeliveries(b *testing.B, e *env) int64 {
	b.Helper()
	var st struct{ Done, Dead int64 }
	e.getJSON("/api/v1/stats", &st)
	if st.Dead > 0 {
		b.Fatalf("%d deliveries dead-lettered", st.Dead)
	}
	return st.Done
}

// benchReplicasDrain is the dispatch half of the noop case alone: b.N
// fires are stored (normalized and routed as the ingress would) before the
// two replicas start, and the clock runs from both being ready until every
// delivery is done. It tells how fast the replicas work a queue when they
// do not also share the two vCPUs with HTTP ingest and the load generator.
// maxConcurrency is each replica's max_concurrency: a drain is bound by the
// claim and commit round trips, so more deliveries in flight make larger
// batches.
func benchReplicasDrain(b *testing.B, maxConcurrency int) {
	c := newCluster(b, 2, envOptions{maxConcurrency: maxConcurrency, noop: true})
	c.prefill(b.N)
	admin := c.reps[0]
	done := func() int64 { return doneDeliveries(b, admin) }
	b.ResetTimer()
	c.start()
	start, done0 := time.Now(), done()
	admin.waitFor(fmt.Sprintf("%d deliveries done", b.N), 5*time.Minute, func() bool {
		time.Sleep(50 * time.Millisecond) // stats are a query: poll gently
		return done() >= int64(b.N)
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(int64(b.N)-done0)/elapsed.Seconds(), "deliveries/s")
	if tickets, keys := storeTickets(b, c.dsn); tickets != b.N || keys != b.N {
		b.Errorf("%d tickets for %d ticket keys in the store, want %d of each", tickets, keys, b.N)
	}
	b.Logf("%d deliveries drained in %s (%d already done when both replicas were ready)", int64(b.N)-done0, elapsed.Round(time.Millisecond), done0)
}

func benchReplicas(b *testing.B, noop bool) {
	c := newCluster(b, 2, envOptions{maxConcurrency: 32, noop: noop})
	tr := &http.Transport{MaxIdleConnsPerHost: 128}
	b.Cleanup(tr.CloseIdleConnections)
	for _, r := range c.reps {
		r.client = &http.Client{Transport: tr, Timeout: 15 * time.Second}
	}
	c.start()
	admin := c.reps[0]
	bodies := make([][]byte, b.N)
	for i := range bodies {
		bodies[i] = admin.payload(i, false)
	}
	done := func() int64 { return doneDeliveries(b, admin) }
	cpu := func() (pg, hosts, self time.Duration) {
		for _, r := range c.reps {
			hosts += pgtest.TreeCPU(r.host.pid())
		}
		return pgtest.ServerCPU(), hosts, pgtest.OwnCPU()
	}
	b.ResetTimer()
	pg0, hosts0, self0 := cpu()
	start := time.Now()
	next := make(chan int)
	var wg sync.WaitGroup
	var failed sync.Map
	for range 64 {
		wg.Go(func() {
			for i := range next {
				for try := 0; ; try++ {
					a, err := c.reps[i%len(c.reps)].post(bodies[i])
					if err == nil && a.acked() {
						break
					}
					if try == 10 {
						failed.Store(i, fmt.Sprintf("%+v %v", a, err))
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		})
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	failed.Range(func(k, v any) bool { b.Fatalf("alert %d never acknowledged: %s", k, v); return false })
	ingested, doneAtIngest := time.Since(start), done()
	admin.waitFor(fmt.Sprintf("%d deliveries done", b.N), 5*time.Minute, func() bool {
		time.Sleep(100 * time.Millisecond) // stats are a query: poll gently
		return done() >= int64(b.N)
	})
	elapsed := time.Since(start)
	pg1, hosts1, self1 := cpu()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
	per1k := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
	b.ReportMetric(per1k(pg1-pg0), "pg-cpu-s/1k")
	b.ReportMetric(per1k(hosts1-hosts0), "replicas-cpu-s/1k")
	b.ReportMetric(per1k(self1-self0), "bench-cpu-s/1k")

	if noop {
		tickets, keys := storeTickets(b, c.dsn)
		if tickets != b.N || keys != b.N {
			b.Errorf("%d tickets for %d ticket keys in the store, want %d of each", tickets, keys, b.N)
		}
		b.Logf("%d deliveries in %s; all acknowledged after %s, %d done by then",
			b.N, elapsed.Round(time.Millisecond), ingested.Round(time.Millisecond), doneAtIngest)
		return
	}
	if got := admin.incidents(); got != b.N {
		b.Errorf("%d incidents for %d alerts", got, b.N)
	}
	var perReplica [2]int
	for _, call := range admin.snow.Calls() {
		if call.Method == http.MethodPost && call.Path == incidentPath {
			for r := range perReplica {
				if call.User == replicaUser(r) {
					perReplica[r]++
				}
			}
		}
	}
	b.Logf("%d deliveries in %s; all acknowledged after %s, %d done by then; incidents created per replica: %v",
		b.N, elapsed.Round(time.Millisecond), ingested.Round(time.Millisecond), doneAtIngest, perReplica)
}

// storeTickets counts the tickets in the cluster's database, and the
// distinct ticket keys they belong to.
func storeTickets(t testing.TB, dsn string) (tickets, keys int) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect to the store: %v", err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT (backend_type, backend_name, ticket_key)) FROM tickets`).Scan(&tickets, &keys); err != nil {
		t.Fatalf("count tickets: %v", err)
	}
	return tickets, keys
}
