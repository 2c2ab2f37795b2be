package storetest

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/store"
)

func testIngest(e *env) {
	r := rec("a1", del(snow, "k1", store.EventFired), del(jira, "k1", store.EventFired))
	r.Deliveries[1].Route = "default"
	r.Deliveries[1].Options = nil
	res := e.ingest(r)
	if res.AlertID <= 0 || res.Deliveries[0] == res.Deliveries[1] {
		e.t.Fatalf("result %+v: want an alert id and two distinct delivery ids", res)
	}

	a, ds, err := e.s.GetAlert(ctx(), res.AlertID)
	e.ok("GetAlert", err)
	if a.ID != res.AlertID || a.DedupKey != "a1" || a.AlertID != r.Alert.ID || a.Source != "prod" ||
		a.Schema != alert.SchemaCommon || a.Status != "fired" || a.Severity != 1 || a.Rule != "cpu-high" ||
		a.Subscription != "sub1" || a.ResourceName != "vm1" || a.Deliveries != 2 || a.Unrouted() {
		e.t.Fatalf("GetAlert = %+v", a)
	}
	e.wantTime("ReceivedAt", a.ReceivedAt, Start)
	if string(a.Raw) != string(r.Raw) {
		e.t.Fatalf("Raw = %q, want %q", a.Raw, r.Raw)
	}
	var back alert.Alert
	if err := json.Unmarshal(a.Normalized, &back); err != nil || back.DedupKey != "a1" || back.ResourceName != "vm1" ||
		back.Custom["team"] != "ops" || !jsonEqual(back.Context, r.Alert.Context) {
		e.t.Fatalf("Normalized = %s (%v)", a.Normalized, err)
	}

	e.wantIDs("alert deliveries", ids(ds), res.Deliveries...)
	for i, d := range ds {
		want := r.Deliveries[i]
		if d.AlertID != res.AlertID || d.Route != want.Route || d.Backend != want.Backend || d.TicketKey != "k1" ||
			d.Event != store.EventFired || d.State != store.StatePending || d.Attempts != 0 || d.LeaseOwner != "" ||
			d.Alert != nil {
			e.t.Fatalf("delivery %d = %+v", i, d)
		}
		e.wantJSON("Ticket", d.Ticket, want.Ticket)
		wantOpts := []byte(want.Options)
		if wantOpts == nil {
			wantOpts = []byte("null")
		}
		e.wantJSON("Options", d.Options, wantOpts)
		e.wantTime("NextAttemptAt", d.NextAttemptAt, Start)
		e.wantTime("EnqueuedAt", d.EnqueuedAt, Start)
		e.wantTime("CreatedAt", d.CreatedAt, Start)
		if !d.FinishedAt.IsZero() || !d.LeaseExpiresAt.IsZero() {
			e.t.Fatalf("fresh delivery has finish/lease times: %+v", d)
		}
	}
	d := e.delivery(res.Deliveries[0])
	if !jsonEqual(d.Alert, a.Normalized) {
		e.t.Fatalf("GetDelivery Alert = %s, want the normalized alert", d.Alert)
	}
	_, _, err = e.s.GetAlert(ctx(), res.AlertID+1000)
	e.is("GetAlert(missing)", err, store.ErrNotFound)
	_, err = e.s.GetDelivery(ctx(), res.Deliveries[1]+1000)
	e.is("GetDelivery(missing)", err, store.ErrNotFound)

	// An explicit receive time is kept.
	r2 := rec("a2")
	r2.ReceivedAt = Start.Add(-3600e9)
	res2 := e.ingest(r2)
	a2, ds2, err := e.s.GetAlert(ctx(), res2.AlertID)
	e.ok("GetAlert(a2)", err)
	e.wantTime("ReceivedAt", a2.ReceivedAt, r2.ReceivedAt)
	if !a2.Unrouted() || len(ds2) != 0 {
		e.t.Fatalf("alert without deliveries: %+v, %d deliveries; want unrouted", a2, len(ds2))
	}
}

func testIngestInvalid(e *env) {
	bad := func(mut func(*store.IngestRecord)) store.IngestRecord {
		r := rec("bad", del(snow, "k", store.EventFired))
		mut(&r)
		return r
	}
	cases := []struct {
		name string
		rec  store.IngestRecord
	}{
		{"no dedup key", bad(func(r *store.IngestRecord) { r.Alert.DedupKey = "" })},
		{"no backend type", bad(func(r *store.IngestRecord) { r.Deliveries[0].Backend.Type = "" })},
		{"no backend name", bad(func(r *store.IngestRecord) { r.Deliveries[0].Backend.Name = "" })},
		{"no ticket key", bad(func(r *store.IngestRecord) { r.Deliveries[0].TicketKey = "" })},
		{"bad event", bad(func(r *store.IngestRecord) { r.Deliveries[0].Event = "acknowledged" })},
		{"ticket not JSON", bad(func(r *store.IngestRecord) { r.Deliveries[0].Ticket = []byte("{") })},
		{"options not JSON", bad(func(r *store.IngestRecord) { r.Deliveries[0].Options = []byte("nope") })},
	}
	for _, c := range cases {
		_, err := e.s.Ingest(ctx(), c.rec)
		e.is(c.name, err, store.ErrInvalid)
	}
	if st := e.stats(); st.Alerts != 0 || st.Pending != 0 {
		e.t.Fatalf("after invalid ingests: %+v, want nothing stored", st)
	}
}

func testDuplicateSequential(e *env) {
	first := e.ingest(rec("dup", del(snow, "k", store.EventFired), del(jira, "k", store.EventFired)))
	for i := 0; i < 3; i++ {
		// A duplicate may even be routed differently: it still adds nothing.
		res, err := e.s.Ingest(ctx(), rec("dup", del(snow, "other", store.EventFired)))
		e.ok("Ingest(duplicate)", err)
		if !res.Duplicate || res.AlertID != first.AlertID || len(res.Deliveries) != 0 {
			e.t.Fatalf("duplicate result = %+v, want Duplicate of alert %d without deliveries", res, first.AlertID)
		}
	}
	if got := len(e.allDeliveries(store.DeliveryFilter{})); got != 2 {
		e.t.Fatalf("%d deliveries, want 2", got)
	}
	if st := e.stats(); st.Alerts != 1 {
		e.t.Fatalf("%d alerts, want 1", st.Alerts)
	}
}

func testDuplicateConcurrent(e *env) {
	const n = 50
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]store.IngestResult, n)
		errs    = make([]error, n)
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = e.s.Ingest(ctx(), rec("storm", del(snow, "k", store.EventFired), del(jira, "k", store.EventFired)))
		}()
	}
	close(start)
	wg.Wait()
	fresh := 0
	var alertID int64
	for i := range results {
		e.ok(fmt.Sprintf("Ingest #%d", i), errs[i])
		if !results[i].Duplicate {
			fresh++
			alertID = results[i].AlertID
		}
	}
	if fresh != 1 {
		e.t.Fatalf("%d of %d concurrent identical ingests were new, want exactly 1", fresh, n)
	}
	for i, r := range results {
		if r.Duplicate && (r.AlertID != alertID || len(r.Deliveries) != 0) {
			e.t.Fatalf("duplicate #%d = %+v, want alert %d and no deliveries", i, r, alertID)
		}
	}
	if got := len(e.allDeliveries(store.DeliveryFilter{})); got != 2 {
		e.t.Fatalf("%d deliveries, want 2 (one set)", got)
	}
	if st := e.stats(); st.Alerts != 1 {
		e.t.Fatalf("%d alerts, want 1", st.Alerts)
	}
}

// testGroupCommit ingests many distinct alerts concurrently (so they share
// transactions) and checks that every caller got its own, correct result.
func testGroupCommit(e *env) {
	const n = 120
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]store.IngestResult, n)
		errs    = make([]error, n)
	)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var ds []store.NewDelivery
			for j := 0; j < i%3; j++ {
				d := del(snow, key(i), store.EventFired)
				d.Route = fmt.Sprintf("route-%d-%d", i, j)
				ds = append(ds, d)
			}
			results[i], errs[i] = e.s.Ingest(ctx(), rec(fmt.Sprintf("gc-%d", i), ds...))
		}()
	}
	close(start)
	wg.Wait()
	seenAlert := map[int64]bool{}
	seenDelivery := map[int64]bool{}
	unrouted := 0
	for i, res := range results {
		e.ok(fmt.Sprintf("Ingest #%d", i), errs[i])
		if res.Duplicate || seenAlert[res.AlertID] || len(res.Deliveries) != i%3 {
			e.t.Fatalf("result #%d = %+v", i, res)
		}
		seenAlert[res.AlertID] = true
		if i%3 == 0 {
			unrouted++
		}
		a, ds, err := e.s.GetAlert(ctx(), res.AlertID)
		e.ok("GetAlert", err)
		if a.DedupKey != fmt.Sprintf("gc-%d", i) {
			e.t.Fatalf("result #%d points at alert %q", i, a.DedupKey)
		}
		e.wantIDs(fmt.Sprintf("deliveries of #%d", i), ids(ds), res.Deliveries...)
		for j, d := range ds {
			if seenDelivery[d.ID] || d.Route != fmt.Sprintf("route-%d-%d", i, j) || d.TicketKey != key(i) {
				e.t.Fatalf("delivery %d of #%d = %+v", j, i, d)
			}
			seenDelivery[d.ID] = true
		}
	}
	if st := e.stats(); st.Alerts != n || st.Unrouted != int64(unrouted) || st.Pending != int64(len(seenDelivery)) {
		e.t.Fatalf("stats = %+v, want %d alerts, %d unrouted, %d pending", st, n, unrouted, len(seenDelivery))
	}
}
