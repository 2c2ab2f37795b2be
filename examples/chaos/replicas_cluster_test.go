package chaos

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"

	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/core/ingest"
	"github.com/itsmbridge/itsmbridge/core/normalize"
	"github.com/itsmbridge/itsmbridge/core/route"
	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/pgtest"
	"github.com/itsmbridge/itsmbridge/core/store/postgres"
)

// cluster is several replicas of one bridge (DESIGN §8.7): real
// `itsmbridge serve` processes on one PostgreSQL database, each with its own
// ports, config and log, all in front of one ServiceNow emulator. Replica i
// logs in to ServiceNow as replicaUser(i), so the emulator's call log (and
// each incident's sys_created_by) tells which replica made a call.
type cluster struct {
	t    testing.TB
	dsn  string // the shared database
	reps []*env
}

func replicaUser(i int) string { return fmt.Sprintf("replica-%d", i) }

// newCluster configures n replicas on a fresh database of the package's
// throw-away PostgreSQL server (pgtest: skips when PostgreSQL is not
// installed, fails under CI=true). o applies to every replica.
func newCluster(t testing.TB, n int, o envOptions) *cluster {
	t.Helper()
	dsn := pgtest.Start(t) // first: its database is dropped after the hosts stop
	o.snowUsers = nil
	for i := range n {
		o.snowUsers = append(o.snowUsers, replicaUser(i))
	}
	c := &cluster{t: t, dsn: dsn}
	for i := range n {
		// Each replica's connections carry its name (see waitDisconnected).
		o.store = fmt.Sprintf("store \"postgres\" {\n  dsn = %q\n}", dsn+"&application_name="+replicaUser(i))
		o.name, o.snowUser = fmt.Sprintf("replica %d", i), replicaUser(i)
		if i == 0 {
			c.reps = append(c.reps, newEnv(t, o))
		} else {
			c.reps = append(c.reps, c.reps[0].replica(o))
		}
	}
	return c
}

// prefill stores n fires (alert i as payload(i)) in the cluster's database
// before the replicas start, as the ingress would: normalized, routed with
// replica 0's configuration, one delivery per matching backend.
func (c *cluster) prefill(n int) {
	c.t.Helper()
	ctx := context.Background()
	e := c.reps[0]
	cfg, diags := config.Load(e.cfgPath, config.Options{})
	if diags.HasErrors() {
		c.t.Fatalf("load %s: %s", e.cfgPath, diags.Error())
	}
	router, err := route.New(cfg, hclog.NewNullLogger())
	if err != nil {
		c.t.Fatal(err)
	}
	st, err := postgres.Open(ctx, c.dsn, postgres.Options{})
	if err != nil {
		c.t.Fatal(err)
	}
	defer st.Close()
	next := make(chan int)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range 32 { // concurrent ingests share commits
		wg.Go(func() {
			for i := range next {
				raw := e.payload(i, false)
				a, err := normalize.Normalize(raw)
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				a.Source = cfg.Sources[0].Name
				routed, _ := router.Route(a)
				rec := store.IngestRecord{Source: a.Source, Alert: *a, Raw: raw}
				for _, d := range routed {
					nd, err := ingest.NewDelivery(a, d)
					if err == nil {
						rec.Deliveries = append(rec.Deliveries, nd)
					}
				}
				if _, err := st.Ingest(ctx, rec); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		c.t.Fatalf("prefill: %v", err)
	default:
	}
}

// waitDisconnected waits until PostgreSQL has no session of replica i left
// (after a SIGKILL: a statement batch the replica sent just before it died
// may still commit while its session lives; once the sessions are gone,
// nothing more of the replica's can).
func (c *cluster) waitDisconnected(i int) {
	c.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		c.t.Fatalf("connect to the store: %v", err)
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(30 * time.Second) // a hang guard, not a timing assertion
	for {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, replicaUser(i)).Scan(&n); err != nil {
			c.t.Fatalf("pg_stat_activity: %v", err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("replica %d still has %d PostgreSQL sessions 30 s after it was killed", i, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// start launches every replica at once — they migrate the empty database
// together — and waits until each is ready.
func (c *cluster) start() {
	c.t.Helper()
	for _, r := range c.reps {
		r.launchHost()
	}
	for _, r := range c.reps {
		r.waitReady()
	}
}

// replicaOf returns the index of the replica holding lease owner (the
// dispatcher's owner is host/pid/random), or -1.
func (c *cluster) replicaOf(owner string) int {
	parts := strings.Split(owner, "/")
	if len(parts) < 3 {
		return -1
	}
	pid, err := strconv.Atoi(parts[len(parts)-2])
	if err != nil {
		return -1
	}
	for i, r := range c.reps {
		if r.host != nil && r.host.pid() == pid {
			return i
		}
	}
	return -1
}

// leaseRec is a delivery as the admin API lists it, with its lease.
type leaseRec struct {
	ID             int64
	AlertID        int64
	TicketKey      string
	Event          string
	State          string
	Attempts       int
	Outcome        string
	LastError      string
	LeaseOwner     string
	LeaseExpiresAt time.Time
}

// ---- spraying alerts across replicas ----

// payloadID names one payload: alert i's fire or its resolve.
type payloadID struct {
	i        int
	resolved bool
}

func (p payloadID) String() string {
	if p.resolved {
		return fmt.Sprintf("alert %d (resolve)", p.i)
	}
	return fmt.Sprintf("alert %d (fire)", p.i)
}

// shot is one post of a payload to one replica.
type shot struct {
	replica int
	ans     answer
	err     error
}

func (s shot) String() string {
	if s.err != nil {
		return fmt.Sprintf("replica %d: %v", s.replica, s.err)
	}
	return fmt.Sprintf("replica %d: %d %s%s (alert_id %d)", s.replica, s.ans.Code, s.ans.Status, s.ans.Error, s.ans.AlertID)
}

// volley is the posts of one payload sent to several replicas at once.
type volley struct {
	p     payloadID
	shots []shot
}

// sprayer posts payloads to chosen replicas, acknowledges them in the
// ledger, and keeps every answer for the duplicate checks.
type sprayer struct {
	c *cluster
	l *ledger

	mu      sync.Mutex
	shots   map[payloadID][]shot
	volleys []volley
}

func newSprayer(c *cluster, l *ledger) *sprayer {
	return &sprayer{c: c, l: l, shots: map[payloadID][]shot{}}
}

// post sends payload p to every replica in to at the same moment (the
// posting goroutines wait at one gate), records the answers and
// acknowledges p when any copy was acknowledged.
func (s *sprayer) post(p payloadID, to []int) {
	body := s.c.reps[0].payload(p.i, p.resolved)
	shots := make([]shot, len(to))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for k, r := range to {
		wg.Go(func() {
			<-gate
			a, err := s.c.reps[r].post(body)
			shots[k] = shot{replica: r, ans: a, err: err}
		})
	}
	close(gate)
	wg.Wait()

	s.mu.Lock()
	s.shots[p] = append(s.shots[p], shots...)
	if len(to) > 1 {
		s.volleys = append(s.volleys, volley{p: p, shots: shots})
	}
	s.mu.Unlock()
	for _, sh := range shots {
		switch {
		case sh.err != nil:
			s.l.refuse(fmt.Sprintf("error from replica %d", sh.replica))
		case sh.ans.acked():
			s.l.ack(p.i, p.resolved)
		default:
			s.l.refuse(fmt.Sprintf("%d %s%s", sh.ans.Code, sh.ans.Status, sh.ans.Error))
		}
	}
}

// checkAnswers checks every answer the replicas gave:
//   - a post failed (no HTTP answer) only when it went to the killed replica;
//   - every answer is 202 accepted, 200 duplicate, or 503 (store busy, re-sent);
//   - per payload, across all replicas and re-sends, at most one 202, and
//     every answer names the same stored alert (DESIGN §8.2);
//   - each volley of copies sent to different replicas at once that all
//     got an answer has exactly one 202 and 200 duplicate for the rest.
//
// It returns how many volleys were checked whole and how many lost a copy
// (to the kill, or to a 503).
func (s *sprayer) checkAnswers(victim int) (whole, torn int) {
	t := s.c.t
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, shots := range s.shots {
		accepted := 0
		ids := map[int64]bool{}
		for _, sh := range shots {
			switch {
			case sh.err != nil:
				if sh.replica != victim {
					t.Errorf("%v: post to surviving replica %d failed: %v", p, sh.replica, sh.err)
				}
				continue
			case sh.ans.Code == http.StatusAccepted && sh.ans.Status == "accepted":
				accepted++
			case sh.ans.Code == http.StatusOK && sh.ans.Status == "duplicate":
			case sh.ans.Code == http.StatusServiceUnavailable:
				continue
			default:
				t.Errorf("%v: unexpected answer %v", p, sh)
				continue
			}
			ids[sh.ans.AlertID] = true
		}
		if accepted > 1 {
			t.Errorf("%v was accepted (202) %d times across replicas, want at most once (DESIGN §8.2): %v", p, accepted, shots)
		}
		if len(ids) > 1 {
			t.Errorf("%v: the replicas' answers name %d different stored alerts, want one: %v", p, len(ids), shots)
		}
	}
	for _, v := range s.volleys {
		answered, accepted, dup := 0, 0, 0
		ids := map[int64]bool{}
		for _, sh := range v.shots {
			if sh.err != nil || sh.ans.Code == http.StatusServiceUnavailable {
				continue
			}
			answered++
			ids[sh.ans.AlertID] = true
			switch {
			case sh.ans.Code == http.StatusAccepted && sh.ans.Status == "accepted":
				accepted++
			case sh.ans.Code == http.StatusOK && sh.ans.Status == "duplicate":
				dup++
			}
		}
		if answered < len(v.shots) {
			torn++
			continue
		}
		whole++
		if accepted != 1 || dup != len(v.shots)-1 || len(ids) != 1 {
			t.Errorf("%v posted to %d replicas at once: answers %v; want one 202 accepted and 200 duplicate for the rest, all naming one stored alert (DESIGN §8.2)", v.p, len(v.shots), v.shots)
		}
	}
	return whole, torn
}

// recorder is a testing.TB that collects Errorf messages instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestCheckAnswers: the duplicate checks of TestReplicasPostgres flag each
// kind of wrong answer (and nothing in good ones).
func TestCheckAnswers(t *testing.T) {
	const victim = 2
	accepted := func(r int, id int64) shot {
		return shot{replica: r, ans: answer{Code: http.StatusAccepted, Status: "accepted", AlertID: id}}
	}
	dup := func(r int, id int64) shot {
		return shot{replica: r, ans: answer{Code: http.StatusOK, Status: "duplicate", AlertID: id}}
	}
	lost := func(r int) shot { return shot{replica: r, err: fmt.Errorf("connection refused")} }
	busy := func(r int) shot {
		return shot{replica: r, ans: answer{Code: http.StatusServiceUnavailable, Status: "unavailable"}}
	}
	p := payloadID{i: 7}

	tests := []struct {
		name        string
		volleys     [][]shot // posted to several replicas at once
		singles     []shot   // posted alone (re-sends)
		want        []string // substrings of the expected errors, one each
		whole, torn int
	}{
		{name: "one accepted, one duplicate", volleys: [][]shot{{accepted(0, 1), dup(1, 1)}}, whole: 1},
		{name: "copy to the killed replica lost, re-sent", volleys: [][]shot{{lost(victim), accepted(0, 1)}}, singles: []shot{dup(1, 1)}, torn: 1},
		{name: "killed replica stored it unanswered", volleys: [][]shot{{lost(victim), dup(0, 1)}}, torn: 1},
		{name: "store busy, re-sent", volleys: [][]shot{{busy(0), accepted(1, 1)}}, singles: []shot{dup(0, 1)}, torn: 1},
		{name: "both accepted", volleys: [][]shot{{accepted(0, 1), accepted(1, 1)}}, want: []string{"accepted (202) 2 times", "want one 202"}, whole: 1},
		{name: "both duplicate", volleys: [][]shot{{dup(0, 1), dup(1, 1)}}, want: []string{"want one 202"}, whole: 1},
		{name: "different stored alerts", volleys: [][]shot{{accepted(0, 1), dup(1, 2)}}, want: []string{"2 different stored alerts", "want one 202"}, whole: 1},
		{name: "accepted again on re-send", volleys: [][]shot{{lost(victim), accepted(0, 1)}}, singles: []shot{accepted(1, 1)}, want: []string{"accepted (202) 2 times"}, torn: 1},
		{name: "survivor failed", singles: []shot{lost(0), accepted(1, 1)}, want: []string{"post to surviving replica 0 failed"}},
		{name: "unexpected answer", singles: []shot{{replica: 0, ans: answer{Code: http.StatusBadRequest, Status: "rejected"}}, accepted(1, 1)}, want: []string{"unexpected answer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			s := newSprayer(&cluster{t: rec}, nil)
			for _, v := range tt.volleys {
				s.shots[p] = append(s.shots[p], v...)
				s.volleys = append(s.volleys, volley{p: p, shots: v})
			}
			s.shots[p] = append(s.shots[p], tt.singles...)
			whole, torn := s.checkAnswers(victim)
			if whole != tt.whole || torn != tt.torn {
				t.Errorf("checkAnswers counted %d whole and %d torn volleys, want %d and %d", whole, torn, tt.whole, tt.torn)
			}
			ok := len(rec.errs) == len(tt.want)
			for _, w := range tt.want {
				ok = ok && slices.ContainsFunc(rec.errs, func(e string) bool { return strings.Contains(e, w) })
			}
			if !ok {
				t.Errorf("errors %q, want one containing each of %q", rec.errs, tt.want)
			}
		})
	}
}
