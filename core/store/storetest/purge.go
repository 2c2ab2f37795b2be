package storetest

import (
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// testPurge: retention deletes old finished history only. Alerts whose
// deliveries are all done, unrouted alerts and resolved tickets older than
// the cutoff go, in batches of at most limit; unfinished work, dead letters
// (and the alerts they belong to), open tickets, quarantine and anything
// newer than the cutoff stay.
func testPurge(e *env) {
	p, ok := e.s.(store.Purger)
	if !ok {
		e.t.Skip("this store does not implement store.Purger")
	}
	done := e.ingest(rec("done", del(snow, "K1", store.EventFired)))
	dead := e.ingest(rec("dead", del(snow, "K2", store.EventFired)))
	pending := e.ingest(rec("pending", del(snow, "K3", store.EventFired)))
	mixed := e.ingest(rec("mixed", del(snow, "K4", store.EventFired), del(jira, "J4", store.EventFired)))
	unrouted, err := e.s.Ingest(ctx(), rec("unrouted"))
	e.ok("Ingest(unrouted)", err)
	qid, err := e.s.Quarantine(ctx(), store.QuarantineRecord{Source: "prod", Raw: []byte(`{"unknown":true}`), Reason: "unknown schema"})
	e.ok("Quarantine", err)

	e.wantIDs("claim", e.claimIDs("w", snow, 10), done.Deliveries[0], dead.Deliveries[0], pending.Deliveries[0], mixed.Deliveries[0])
	e.ok("Complete(done)", e.s.Complete(ctx(), done.Deliveries[0], "w", store.Outcome{Action: "created"}))
	e.ok("DeadLetter(dead)", e.s.DeadLetter(ctx(), dead.Deliveries[0], "w", "400 Bad Request"))
	e.ok("Release(pending)", e.s.Release(ctx(), pending.Deliveries[0], "w"))
	e.ok("Complete(mixed snow)", e.s.Complete(ctx(), mixed.Deliveries[0], "w", store.Outcome{Action: "created"}))

	resolved := ticket("R", 1, store.TicketResolved)
	resolved.ResolvedAt = Start
	resolved.CIBindings = []store.CIBinding{{Item: "vm1", Ref: sdk.CIRef{ID: "ci-1", Name: "vm1"}}}
	_, err = e.s.PutTicket(ctx(), resolved)
	e.ok("PutTicket(R)", err)
	open := ticket("O", 1, store.TicketOpen)
	open.CIBindings = resolved.CIBindings
	_, err = e.s.PutTicket(ctx(), open)
	e.ok("PutTicket(O)", err)

	e.clock.Advance(48 * time.Hour)
	recent := e.ingest(rec("recent", del(snow, "K5", store.EventFired)))
	e.wantIDs("claim recent", e.claimIDs("w", snow, 10), pending.Deliveries[0], recent.Deliveries[0])
	e.ok("Complete(recent)", e.s.Complete(ctx(), recent.Deliveries[0], "w", store.Outcome{Action: "created"}))
	e.ok("Release(pending) again", e.s.Release(ctx(), pending.Deliveries[0], "w"))
	newer := ticket("N", 1, store.TicketResolved)
	newer.ResolvedAt = e.clock.Now()
	_, err = e.s.PutTicket(ctx(), newer)
	e.ok("PutTicket(N)", err)

	_, err = p.Purge(ctx(), e.clock.Now(), 0)
	e.is("Purge(limit 0)", err, store.ErrInvalid)

	cutoff := e.clock.Now().Add(-24 * time.Hour)
	got, err := p.Purge(ctx(), cutoff, 1)
	e.ok("Purge(limit 1)", err)
	if want := (store.PurgeResult{Alerts: 1, Deliveries: 1, Tickets: 1}); got != want {
		e.t.Fatalf("first Purge = %+v, want %+v (the oldest finished alert with its delivery, the old resolved ticket)", got, want)
	}
	got, err = p.Purge(ctx(), cutoff, 100)
	e.ok("Purge", err)
	if want := (store.PurgeResult{Alerts: 1}); got != want {
		e.t.Fatalf("second Purge = %+v, want %+v (the unrouted alert)", got, want)
	}
	got, err = p.Purge(ctx(), cutoff, 100)
	e.ok("Purge(nothing left)", err)
	if got != (store.PurgeResult{}) {
		e.t.Fatalf("third Purge = %+v, want nothing", got)
	}

	for _, id := range []int64{done.AlertID, unrouted.AlertID} {
		_, _, err := e.s.GetAlert(ctx(), id)
		e.is("GetAlert(purged)", err, store.ErrNotFound)
	}
	_, err = e.s.GetDelivery(ctx(), done.Deliveries[0])
	e.is("GetDelivery(purged)", err, store.ErrNotFound)
	for name, r := range map[string]store.IngestResult{"dead": dead, "pending": pending, "mixed": mixed, "recent": recent} {
		_, ds, err := e.s.GetAlert(ctx(), r.AlertID)
		e.ok("GetAlert("+name+") after purge", err)
		if len(ds) != len(r.Deliveries) {
			e.t.Fatalf("alert %s kept %d deliveries, want %d", name, len(ds), len(r.Deliveries))
		}
	}
	page, err := e.s.ListDeadLetters(ctx(), snow, store.PageRequest{})
	e.ok("ListDeadLetters", err)
	e.wantIDs("dead letters after purge", ids(page.Items), dead.Deliveries[0])
	_, err = e.s.GetQuarantine(ctx(), qid)
	e.ok("GetQuarantine after purge", err)

	hist, err := e.s.TicketHistory(ctx(), snow, "R")
	e.ok("TicketHistory(R)", err)
	if len(hist) != 0 {
		e.t.Fatalf("purged ticket R still has history %+v", hist)
	}
	o, err := e.s.GetTicket(ctx(), snow, "O")
	e.ok("GetTicket(O): an open ticket stays, however old", err)
	if len(o.CIBindings) != 1 {
		e.t.Fatalf("open ticket lost its CI bindings: %+v", o.CIBindings)
	}
	_, err = e.s.GetTicket(ctx(), snow, "N")
	e.ok("GetTicket(N): resolved after the cutoff", err)

	st, err := e.s.Stats(ctx())
	e.ok("Stats", err)
	if st.Alerts != 4 || st.Unrouted != 0 || st.Quarantined != 1 || st.Dead != 1 || st.Pending != 2 {
		e.t.Fatalf("Stats after purge = %+v, want 4 alerts, none unrouted, 1 quarantined, 1 dead, 2 pending", st)
	}
}
