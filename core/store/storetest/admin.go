package storetest

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
)

func testQuarantine(e *env) {
	var qids []int64
	for i, src := range []string{"prod", "prod", "dev"} {
		id, err := e.s.Quarantine(ctx(), store.QuarantineRecord{
			Source: src, Raw: []byte(fmt.Sprintf(`{"unknown":%d}`, i)), Reason: "no parser for schemaId \"x\"",
		})
		e.ok("Quarantine", err)
		qids = append(qids, id)
	}
	page, err := e.s.ListQuarantine(ctx(), store.QuarantineFilter{}, store.PageRequest{Limit: 2})
	e.ok("ListQuarantine", err)
	if len(page.Items) != 2 || page.Items[0].ID != qids[2] || page.Items[1].ID != qids[1] || page.Next == "" {
		e.t.Fatalf("first page = %+v, want the two newest and a cursor", page)
	}
	if it := page.Items[0]; it.Raw != nil || it.Size != len(`{"unknown":2}`) || it.Source != "dev" ||
		it.Reason == "" || !it.ReceivedAt.Equal(Start) {
		e.t.Fatalf("listed item = %+v", it)
	}
	page, err = e.s.ListQuarantine(ctx(), store.QuarantineFilter{}, store.PageRequest{Limit: 2, Cursor: page.Next})
	e.ok("ListQuarantine(page 2)", err)
	if len(page.Items) != 1 || page.Items[0].ID != qids[0] || page.Next != "" {
		e.t.Fatalf("second page = %+v", page)
	}
	page, err = e.s.ListQuarantine(ctx(), store.QuarantineFilter{Source: "prod"}, store.PageRequest{})
	e.ok("ListQuarantine(prod)", err)
	if len(page.Items) != 2 {
		e.t.Fatalf("prod quarantine = %+v", page.Items)
	}
	q, err := e.s.GetQuarantine(ctx(), qids[1])
	e.ok("GetQuarantine", err)
	if string(q.Raw) != `{"unknown":1}` || q.Source != "prod" {
		e.t.Fatalf("GetQuarantine = %+v", q)
	}
	if st := e.stats(); st.Quarantined != 3 {
		e.t.Fatalf("quarantined = %d, want 3", st.Quarantined)
	}

	e.ok("DropQuarantine", e.s.DropQuarantine(ctx(), qids[0]))
	_, err = e.s.GetQuarantine(ctx(), qids[0])
	e.is("GetQuarantine(dropped)", err, store.ErrNotFound)
	e.is("DropQuarantine twice", e.s.DropQuarantine(ctx(), qids[0]), store.ErrNotFound)

	// Replay: ingest the re-parsed payload and remove it from quarantine at once.
	res, err := e.s.ReplayQuarantine(ctx(), qids[1], rec("from-quarantine", del(snow, "Q", store.EventFired)))
	e.ok("ReplayQuarantine", err)
	if res.Duplicate || len(res.Deliveries) != 1 {
		e.t.Fatalf("ReplayQuarantine = %+v", res)
	}
	_, err = e.s.GetQuarantine(ctx(), qids[1])
	e.is("GetQuarantine(replayed)", err, store.ErrNotFound)
	_, err = e.s.ReplayQuarantine(ctx(), qids[1], rec("again", del(snow, "Q", store.EventFired)))
	e.is("ReplayQuarantine(gone)", err, store.ErrNotFound)
	if st := e.stats(); st.Quarantined != 1 || st.Alerts != 1 {
		e.t.Fatalf("stats = %+v, want 1 quarantined and 1 alert", st)
	}
}

func testListAlerts(e *env) {
	type meta struct {
		id                 int64
		source, status     string
		sev                int
		rule, sub, alertID string
		at                 time.Time
		unrouted           bool
	}
	var all []meta
	for i := 0; i < 25; i++ {
		r := rec(fmt.Sprintf("list-%d", i))
		r.Source = fmt.Sprintf("src%d", i%2)
		if i%3 == 0 {
			r.Alert.Status = "resolved"
		}
		r.Alert.Severity = i % 5
		r.Alert.Rule = fmt.Sprintf("rule%d", i%4)
		r.Alert.Subscription = fmt.Sprintf("sub%d", i%3)
		r.Alert.ID = fmt.Sprintf("alert-%d", i/2)
		r.ReceivedAt = Start.Add(time.Duration(i) * time.Minute)
		if i%5 != 0 {
			r.Deliveries = []store.NewDelivery{del(snow, key(i), store.EventFired)}
		}
		res := e.ingest(r)
		all = append(all, meta{res.AlertID, r.Source, r.Alert.Status, r.Alert.Severity, r.Alert.Rule,
			r.Alert.Subscription, r.Alert.ID, r.ReceivedAt, i%5 == 0})
	}
	cases := []struct {
		name  string
		f     store.AlertFilter
		match func(m meta) bool
	}{
		{"all", store.AlertFilter{}, func(meta) bool { return true }},
		{"source", store.AlertFilter{Source: "src1"}, func(m meta) bool { return m.source == "src1" }},
		{"status", store.AlertFilter{Status: "resolved"}, func(m meta) bool { return m.status == "resolved" }},
		{"severity", store.AlertFilter{Severity: []int{0, 1}}, func(m meta) bool { return m.sev <= 1 }},
		{"rule", store.AlertFilter{Rule: "rule2"}, func(m meta) bool { return m.rule == "rule2" }},
		{"subscription", store.AlertFilter{Subscription: "sub0"}, func(m meta) bool { return m.sub == "sub0" }},
		{"alert id", store.AlertFilter{AlertID: "alert-3"}, func(m meta) bool { return m.alertID == "alert-3" }},
		{"since", store.AlertFilter{Since: Start.Add(20 * time.Minute)}, func(m meta) bool { return !m.at.Before(Start.Add(20 * time.Minute)) }},
		{"until", store.AlertFilter{Until: Start.Add(5 * time.Minute)}, func(m meta) bool { return m.at.Before(Start.Add(5 * time.Minute)) }},
		{"unrouted", store.AlertFilter{Unrouted: true}, func(m meta) bool { return m.unrouted }},
		{"combined", store.AlertFilter{Source: "src0", Status: "fired", Severity: []int{2, 3, 4}}, func(m meta) bool {
			return m.source == "src0" && m.status == "fired" && m.sev >= 2
		}},
		{"nothing", store.AlertFilter{Source: "nope"}, func(meta) bool { return false }},
	}
	for _, c := range cases {
		want := []int64{}
		for i := len(all) - 1; i >= 0; i-- {
			if c.match(all[i]) {
				want = append(want, all[i].id)
			}
		}
		for _, limit := range []int{4, 100} {
			got := []int64{}
			p := store.PageRequest{Limit: limit}
			for pages := 0; ; pages++ {
				page, err := e.s.ListAlerts(ctx(), c.f, p)
				e.ok("ListAlerts "+c.name, err)
				if len(page.Items) > limit || pages > 30 {
					e.t.Fatalf("ListAlerts %s: page of %d (limit %d), page %d", c.name, len(page.Items), limit, pages)
				}
				for _, a := range page.Items {
					if a.Normalized != nil || a.Raw != nil {
						e.t.Fatalf("listing carries payloads: %+v", a)
					}
					got = append(got, a.ID)
				}
				if page.Next == "" {
					break
				}
				p.Cursor = page.Next
			}
			e.wantIDs(fmt.Sprintf("ListAlerts %s (limit %d)", c.name, limit), got, want...)
		}
	}
	for _, bad := range []string{"x", "-1", "0"} {
		_, err := e.s.ListAlerts(ctx(), store.AlertFilter{}, store.PageRequest{Cursor: bad})
		e.is("ListAlerts(cursor "+bad+")", err, store.ErrInvalid)
	}
	page, err := e.s.ListAlerts(ctx(), store.AlertFilter{}, store.PageRequest{})
	e.ok("ListAlerts(default limit)", err)
	if len(page.Items) != 25 || page.Next != "" {
		e.t.Fatalf("default page: %d items, next %q", len(page.Items), page.Next)
	}
}

func testListDeliveries(e *env) {
	pending := e.one("p", snow, "P", store.EventFired)
	leased := e.one("l", snow, "L", store.EventFired)
	doneID := e.one("d", jira, "D", store.EventFired)
	dead := e.one("x", jira, "X", store.EventFired)
	later := e.one("p2", snow, "P", store.EventResolved) // behind pending

	e.wantIDs("claim snow", e.claimIDs("w", snow, 3), pending, leased) // later waits behind pending
	e.ok("Release pending", e.s.Release(ctx(), pending, "w"))
	e.claim("w", jira, 2)
	e.ok("Complete", e.s.Complete(ctx(), doneID, "w", store.Outcome{Action: "created"}))
	e.ok("DeadLetter", e.s.DeadLetter(ctx(), dead, "w", "permanent"))

	cases := []struct {
		f    store.DeliveryFilter
		want []int64
	}{
		{store.DeliveryFilter{}, []int64{later, dead, doneID, leased, pending}},
		{store.DeliveryFilter{State: store.StatePending}, []int64{later, pending}},
		{store.DeliveryFilter{State: store.StateLeased}, []int64{leased}},
		{store.DeliveryFilter{State: store.StateDone}, []int64{doneID}},
		{store.DeliveryFilter{State: store.StateDead}, []int64{dead}},
		{store.DeliveryFilter{Backend: jira}, []int64{dead, doneID}},
		{store.DeliveryFilter{TicketKey: "P"}, []int64{later, pending}},
		{store.DeliveryFilter{Route: "critical", State: store.StateDone}, []int64{doneID}},
		{store.DeliveryFilter{Route: "nope"}, []int64{}},
	}
	for _, c := range cases {
		got := e.allDeliveries(c.f)
		e.wantIDs(fmt.Sprintf("ListDeliveries(%+v)", c.f), ids(got), c.want...)
		for _, d := range got {
			if c.f.State != "" && d.State != c.f.State {
				e.t.Fatalf("ListDeliveries(%+v) returned %+v", c.f, d)
			}
		}
	}
	// Filter by alert.
	d := e.delivery(later)
	got := e.allDeliveries(store.DeliveryFilter{AlertID: d.AlertID})
	e.wantIDs("by alert", ids(got), later)

	_, err := e.s.ListDeliveries(ctx(), store.DeliveryFilter{State: "bogus"}, store.PageRequest{})
	e.is("ListDeliveries(bad state)", err, store.ErrInvalid)

	// A lease that expired is reported as pending again.
	e.clock.Advance(2 * lease)
	e.wantIDs("leased after expiry", ids(e.allDeliveries(store.DeliveryFilter{State: store.StateLeased})))
	if d := e.delivery(leased); d.State != store.StatePending {
		e.t.Fatalf("expired lease reported as %s, want pending", d.State)
	}
}

func testStats(e *env) {
	if st := e.stats(); st.Alerts != 0 || len(st.Backends) != 0 {
		e.t.Fatalf("empty store stats = %+v", st)
	}
	gone := store.BackendID{Type: "cherwell", Name: "removed"}
	a := e.one("a", snow, "A", store.EventFired)
	e.clock.Advance(time.Minute)
	e.one("b", snow, "B", store.EventFired)
	e.one("c", gone, "C", store.EventFired) // a backend no longer configured: stays queued
	d := e.one("d", jira, "D", store.EventFired)
	x := e.one("x", jira, "X", store.EventFired)
	e.ingest(rec("unrouted"))
	_, err := e.s.Quarantine(ctx(), store.QuarantineRecord{Source: "prod", Raw: []byte(`{}`), Reason: "unknown"})
	e.ok("Quarantine", err)

	e.wantIDs("claim snow", e.claimIDs("w", snow, 1), a)
	e.claim("w", jira, 2)
	e.ok("Complete", e.s.Complete(ctx(), d, "w", store.Outcome{}))
	e.ok("DeadLetter", e.s.DeadLetter(ctx(), x, "w", "permanent"))

	st := e.stats()
	if st.Alerts != 6 || st.Unrouted != 1 || st.Quarantined != 1 ||
		st.Pending != 2 || st.Leased != 1 || st.Done != 1 || st.Dead != 1 {
		e.t.Fatalf("stats = %+v", st)
	}
	want := []store.BackendStats{
		{Backend: gone, Pending: 1, OldestEnqueuedAt: Start.Add(time.Minute)},
		{Backend: jira, Dead: 1},
		{Backend: snow, Pending: 1, Leased: 1, OldestEnqueuedAt: Start},
	}
	if len(st.Backends) != len(want) {
		e.t.Fatalf("backend stats = %+v, want %+v", st.Backends, want)
	}
	for i, w := range want {
		g := st.Backends[i]
		if g.Backend != w.Backend || g.Pending != w.Pending || g.Leased != w.Leased || g.Dead != w.Dead ||
			!g.OldestEnqueuedAt.Equal(w.OldestEnqueuedAt) {
			e.t.Fatalf("backend stats[%d] = %+v, want %+v", i, g, w)
		}
	}
	if st.Backends[2].Depth() != 2 {
		e.t.Fatalf("snow depth = %d, want 2", st.Backends[2].Depth())
	}

	// QueueStats: the same without the history totals.
	q, err := e.s.QueueStats(ctx())
	e.ok("QueueStats", err)
	want2 := st
	want2.Alerts, want2.Done = 0, 0
	if !reflect.DeepEqual(q, want2) {
		e.t.Fatalf("QueueStats = %+v, want Stats without Alerts and Done: %+v", q, want2)
	}
}

func testWatch(e *env) {
	c, cancel := context.WithCancel(ctx())
	ch := e.s.Watch(c, snow)
	e.one("w", snow, "K", store.EventFired)
	select {
	case <-ch:
	case <-time.After(10 * time.Second): // a hang guard, not a timing assertion
		e.t.Fatal("Watch: no signal after ingest")
	}
	cancel()
	for range ch { // drains a pending signal, then ends when closed
	}
}

func testPing(e *env) {
	e.ok("Ping", e.s.Ping(ctx()))
}
