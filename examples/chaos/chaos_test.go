package chaos

import (
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/itsmbridge/itsmbridge/plugins/servicenow/emulator"
)

// everyThird gives a third of the alerts a resolve.
func everyThird(i int) bool { return i%3 == 0 }

// vendorLatency slows every ServiceNow call a little, so that plugin calls
// are in flight whenever something is killed.
var vendorLatency = emulator.Fault{LatencyMS: 40}

// TestChaosHostKilled: the host is SIGKILLed while alerts stream in and
// incidents are being created, then restarted on the same database; Azure
// re-sends what was not acknowledged (DESIGN §8.1, §8.6).
func TestChaosHostKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{maxConcurrency: 8})
	e.snow.InjectFault(vendorLatency)
	e.startHost()
	oldPlugin := e.pluginPID(0, 0)

	const n = 150
	l := newLedger(n, everyThird)
	streamed := make(chan struct{})
	go func() { defer close(streamed); e.stream(l, 8, rate.NewLimiter(150, 1)) }()

	// Kill in the middle of both ingestion and dispatch.
	e.waitFor("a third of the alerts acknowledged and incidents being created", 30*time.Second, func() bool {
		select {
		case <-streamed:
			t.Fatalf("the stream ended before the kill point (%d acknowledged, %d incidents)", l.ackedFired(), e.incidents())
		default:
		}
		return l.ackedFired() >= n/3 && e.incidents() >= 10
	})
	e.killHost()
	acked, created := l.ackedFired(), e.incidents()
	<-streamed
	t.Logf("SIGKILLed the host with %d/%d fires acknowledged and %d incidents created", acked, n, created)
	if acked == n {
		t.Fatalf("every alert was acknowledged before the kill; the stream was not interrupted")
	}
	// The plugin must not outlive its host (Pdeathsig / parent watch).
	e.waitFor(fmt.Sprintf("plugin pid %d gone after its host was killed", oldPlugin), 10*time.Second, func() bool {
		return !alive(oldPlugin)
	})

	e.startHost()
	e.deliverAll(l)
	if sum := e.verify(l); sum.recreated == 0 {
		t.Errorf("no create was attempted twice: the kill interrupted no delivery, so the scenario proved nothing")
	}
}

// TestChaosPluginKilled: the plugin process is SIGKILLed twice while
// incidents are being created; the host's supervisor restarts it and the
// interrupted deliveries are retried without a second incident (DESIGN §8.6).
func TestChaosPluginKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{maxConcurrency: 4})
	e.snow.InjectFault(vendorLatency)
	e.startHost()
	pid := e.pluginPID(0, 0)

	const n = 120
	l := newLedger(n, everyThird)
	streamed := make(chan struct{})
	go func() { defer close(streamed); e.stream(l, 8, rate.NewLimiter(100, 1)) }()

	for k, at := range []int{n / 5, n / 2} {
		e.waitFor(fmt.Sprintf("%d incidents before kill %d", at, k+1), 30*time.Second, func() bool { return e.incidents() >= at })
		if got := e.incidents(); got >= n {
			t.Fatalf("every incident existed before kill %d; the kill hit no work", k+1)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("SIGKILL plugin pid %d: %v", pid, err)
		}
		t.Logf("SIGKILLed plugin pid %d with %d incidents created", pid, e.incidents())
		pid = e.pluginPID(pid, int64(k+1))
	}
	<-streamed
	e.deliverAll(l)
	sum := e.verify(l)
	if sum.retried == 0 || sum.recreated == 0 {
		t.Errorf("%d deliveries retried, %d creates attempted twice: the kills interrupted no create, so the scenario proved nothing", sum.retried, sum.recreated)
	}
}

// TestChaosVendorErrors: for a while ServiceNow answers 30% of calls with 503
// and some with 429 and Retry-After; deliveries back off and retry (the
// backend's max_age is long) and, once it recovers, every alert has its one
// incident (DESIGN §8.5).
func TestChaosVendorErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{maxConcurrency: 8, maxAge: "1h"})
	e.startHost()
	// pickFault takes the first matching fault: 30% get 503, then 10% of the
	// rest get 429 with Retry-After.
	e.snow.InjectFault(emulator.Fault{Status: http.StatusServiceUnavailable, Rate: 0.3})
	e.snow.InjectFault(emulator.Fault{Status: http.StatusTooManyRequests, Rate: 0.1, RetryAfterSeconds: 1})

	const n = 100
	l := newLedger(n, everyThird)
	e.stream(l, 8, rate.NewLimiter(100, 1))
	e.deliverAll(l)

	faulted := func() (n503, n429 int) {
		for _, c := range e.snow.Calls() {
			switch c.Status {
			case http.StatusServiceUnavailable:
				n503++
			case http.StatusTooManyRequests:
				n429++
			}
		}
		return
	}
	e.waitFor("the faults to have hit creates for a while", 60*time.Second, func() bool {
		n503, n429 := faulted()
		return n503 >= 40 && n429 >= 8 && e.incidents() >= n/2
	})
	e.snow.ClearFaults()
	n503, n429 := faulted()
	t.Logf("ServiceNow answered %d calls with 503 and %d with 429 before recovering (%d incidents by then)", n503, n429, e.incidents())

	sum := e.verify(l)
	if sum.retried == 0 {
		t.Errorf("no delivery needed a second attempt despite %d 503s and %d 429s", n503, n429)
	}

	// Retry-After is a floor on the next attempt: after a 429 on a create's
	// lookup, the same delivery's next lookup arrives at least 1 s later.
	// (A lower bound only: a slow machine cannot make it fail.)
	rejected := map[string]time.Time{}
	checked := 0
	for _, c := range e.snow.Calls() {
		key := lookupKey(c)
		if key == "" {
			continue
		}
		if at, ok := rejected[key]; ok {
			checked++
			if gap := c.Time.Sub(at); gap < time.Second {
				t.Errorf("ticket key %s: retried %s after a 429 with Retry-After: 1 (DESIGN §8.5)", key, gap)
			}
			delete(rejected, key)
		}
		if c.Status == http.StatusTooManyRequests {
			rejected[key] = c.Time
		}
	}
	if checked == 0 {
		t.Errorf("no lookup was retried after a 429; Retry-After went unchecked")
	}
	t.Logf("%d retries after a 429 respected Retry-After", checked)
}

// TestChaosConcurrentDuplicates: every payload (fire, then resolve) is posted
// five times at once, as Azure does when several action groups or retries
// overlap; each is stored once, answered 202 once and 200 "duplicate" the
// other times, and yields one incident (DESIGN §8.2).
func TestChaosConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{maxConcurrency: 8})
	e.startHost()

	const n, copies = 80, 5
	resolves := func(i int) bool { return i%2 == 0 }
	l := newLedger(n, resolves)

	// burst posts one payload copies times in parallel. A copy refused with
	// 503 (store busy) is retried, as Azure would; it returns the answers.
	burst := func(i int, resolved bool) []answer {
		body := e.payload(i, resolved)
		out := make([]answer, copies)
		var wg sync.WaitGroup
		for c := range copies {
			wg.Go(func() {
				for try := 0; ; try++ {
					a, err := e.post(body)
					if err == nil && a.Code != http.StatusServiceUnavailable {
						out[c] = a
						return
					}
					if try == 10 {
						out[c] = a
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		return out
	}
	check := func(i int, resolved bool, answers []answer) {
		accepted, dup := 0, 0
		ids := map[int64]bool{}
		for _, a := range answers {
			switch {
			case a.Code == http.StatusAccepted && a.Status == "accepted":
				accepted++
			case a.Code == http.StatusOK && a.Status == "duplicate":
				dup++
			}
			if a.AlertID != 0 {
				ids[a.AlertID] = true
			}
		}
		if accepted != 1 || dup != copies-1 || len(ids) != 1 {
			t.Errorf("alert %d (resolved=%v): %d concurrent copies answered %+v; want one 202 accepted, %d × 200 duplicate, all naming the same stored alert", i, resolved, copies, answers, copies-1)
			return
		}
		l.ack(i, resolved)
	}

	sem := make(chan struct{}, 8) // eight alerts at a time, 40 posts in flight
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			check(i, false, burst(i, false))
			if resolves(i) && l.isAcked(i, false) {
				check(i, true, burst(i, true))
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	e.verify(l)
}
