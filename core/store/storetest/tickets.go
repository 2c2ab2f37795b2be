package storetest

import (
	"reflect"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/sdk"
)

func ticket(key string, gen int, state store.TicketState) store.Ticket {
	return store.Ticket{
		Backend:    snow,
		Key:        key,
		Generation: gen,
		Ref:        sdk.TicketRef{ID: "sys-" + key, Number: "INC001", URL: "https://snow.example/inc/" + key, State: "New"},
		State:      state,
	}
}

func (e *env) wantBindings(what string, got []store.CIBinding, want ...store.CIBinding) {
	e.t.Helper()
	if len(got) != len(want) {
		e.t.Fatalf("%s: %d bindings %+v, want %d", what, len(got), got, len(want))
	}
	for i := range want {
		if got[i].Item != want[i].Item || got[i].Ref != want[i].Ref || !got[i].BoundAt.Equal(want[i].BoundAt) {
			e.t.Fatalf("%s: binding %d = %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

func testTickets(e *env) {
	_, err := e.s.GetTicket(ctx(), snow, "K")
	e.is("GetTicket(none)", err, store.ErrNotFound)
	hist, err := e.s.TicketHistory(ctx(), snow, "K")
	e.ok("TicketHistory(none)", err)
	if len(hist) != 0 {
		e.t.Fatalf("history of unknown key = %+v", hist)
	}

	ci1 := store.CIBinding{Item: "vm1", Ref: sdk.CIRef{ID: "ci-1", Name: "vm1", Class: "cmdb_ci_vm"}}
	t1 := ticket("K", 1, store.TicketOpen)
	t1.CIBindings = []store.CIBinding{ci1}
	t1.LastDeliveryID = 7
	got, err := e.s.PutTicket(ctx(), t1)
	e.ok("PutTicket(gen 1)", err)
	if got.ID <= 0 || got.Ref != t1.Ref || got.State != store.TicketOpen || got.LastDeliveryID != 7 || got.Generation != 1 {
		e.t.Fatalf("PutTicket = %+v", got)
	}
	e.wantTime("CreatedAt", got.CreatedAt, Start)
	e.wantTime("UpdatedAt", got.UpdatedAt, Start)
	ci1.BoundAt = Start
	e.wantBindings("after first put", got.CIBindings, ci1)

	// Resolve it later: CreatedAt stays, UpdatedAt moves, bindings stay.
	e.clock.Advance(time.Hour)
	t1.State, t1.ResolvedAt, t1.CIBindings = store.TicketResolved, e.clock.Now(), nil
	t1.Ref.State = "Resolved"
	got2, err := e.s.PutTicket(ctx(), t1)
	e.ok("PutTicket(resolve)", err)
	if got2.ID != got.ID || got2.State != store.TicketResolved || got2.Ref.State != "Resolved" {
		e.t.Fatalf("resolved ticket = %+v", got2)
	}
	e.wantTime("CreatedAt kept", got2.CreatedAt, Start)
	e.wantTime("UpdatedAt", got2.UpdatedAt, Start.Add(time.Hour))
	e.wantTime("ResolvedAt", got2.ResolvedAt, Start.Add(time.Hour))
	e.wantBindings("after resolve", got2.CIBindings, ci1)

	// Bindings: add, and replace by item.
	ci2 := store.CIBinding{Item: "vm2", Ref: sdk.CIRef{ID: "ci-2", Name: "vm2", Class: "cmdb_ci_vm", Created: true}}
	e.ok("AddCIBinding(vm2)", e.s.AddCIBinding(ctx(), snow, "K", 1, ci2))
	ci1b := store.CIBinding{Item: "vm1", Ref: sdk.CIRef{ID: "ci-1b", Name: "vm1", Class: "cmdb_ci_server"}, BoundAt: Start.Add(time.Minute)}
	e.ok("AddCIBinding(vm1 again)", e.s.AddCIBinding(ctx(), snow, "K", 1, ci1b))
	e.is("AddCIBinding(no ticket)", e.s.AddCIBinding(ctx(), snow, "K", 9, ci2), store.ErrNotFound)
	e.is("AddCIBinding(no item)", e.s.AddCIBinding(ctx(), snow, "K", 1, store.CIBinding{}), store.ErrInvalid)
	cur, err := e.s.GetTicket(ctx(), snow, "K")
	e.ok("GetTicket", err)
	ci2.BoundAt = e.clock.Now()
	e.wantBindings("after AddCIBinding", cur.CIBindings, ci1b, ci2)

	// A new ticket for the key after the reopen window: generation 2.
	e.clock.Advance(48 * time.Hour)
	t2 := ticket("K", 2, store.TicketOpen)
	t2.Ref.ID = "sys-K-2"
	_, err = e.s.PutTicket(ctx(), t2)
	e.ok("PutTicket(gen 2)", err)
	cur, err = e.s.GetTicket(ctx(), snow, "K")
	e.ok("GetTicket(gen 2)", err)
	if cur.Generation != 2 || cur.Ref.ID != "sys-K-2" || len(cur.CIBindings) != 0 {
		e.t.Fatalf("current ticket = %+v, want generation 2 without bindings", cur)
	}
	hist, err = e.s.TicketHistory(ctx(), snow, "K")
	e.ok("TicketHistory", err)
	if len(hist) != 2 || hist[0].Generation != 1 || hist[1].Generation != 2 || len(hist[0].CIBindings) != 2 {
		e.t.Fatalf("history = %+v", hist)
	}
	// Other keys and backends are separate.
	_, err = e.s.GetTicket(ctx(), jira, "K")
	e.is("GetTicket(other backend)", err, store.ErrNotFound)

	for name, bad := range map[string]store.Ticket{
		"generation 0": ticket("K", 0, store.TicketOpen),
		"no key":       ticket("", 1, store.TicketOpen),
		"bad state":    ticket("K", 1, "closed"),
		"no backend":   {Key: "K", Generation: 1, State: store.TicketOpen},
	} {
		_, err := e.s.PutTicket(ctx(), bad)
		e.is("PutTicket("+name+")", err, store.ErrInvalid)
	}

	_, err = e.s.PutTicket(ctx(), ticket("L", 1, store.TicketOpen))
	e.ok("PutTicket(L)", err)
	cases := []struct {
		f    store.TicketFilter
		want []int // generations of key K, or -1 for key L, newest first
	}{
		{store.TicketFilter{}, []int{-1, 2, 1}},
		{store.TicketFilter{State: store.TicketResolved}, []int{1}},
		{store.TicketFilter{Key: "K"}, []int{2, 1}},
		{store.TicketFilter{Backend: jira}, []int{}},
	}
	for _, c := range cases {
		var got []int
		p := store.PageRequest{Limit: 1}
		for {
			page, err := e.s.ListTickets(ctx(), c.f, p)
			e.ok("ListTickets", err)
			for _, t := range page.Items {
				if t.Key == "L" {
					got = append(got, -1)
				} else {
					got = append(got, t.Generation)
				}
			}
			if page.Next == "" {
				break
			}
			p.Cursor = page.Next
		}
		if got == nil {
			got = []int{}
		}
		if !reflect.DeepEqual(got, c.want) {
			e.t.Fatalf("ListTickets(%+v) = %v, want %v", c.f, got, c.want)
		}
	}
}

func testCompleteWithTicket(e *env) {
	d1 := e.one("a", snow, "K", store.EventFired)
	e.claim("w1", snow, 1)
	t := ticket("K", 1, store.TicketOpen)
	e.ok("Complete with ticket", e.s.Complete(ctx(), d1, "w1", store.Outcome{Action: "created", Ticket: &t}))
	cur, err := e.s.GetTicket(ctx(), snow, "K")
	e.ok("GetTicket", err)
	if cur.LastDeliveryID != d1 || cur.Ref != t.Ref {
		e.t.Fatalf("ticket = %+v, want ref %+v written by delivery %d", cur, t.Ref, d1)
	}
	if d := e.delivery(d1); d.State != store.StateDone || d.Outcome != "created" {
		e.t.Fatalf("delivery = %+v", d)
	}

	// With a lost lease neither the delivery nor the ticket changes.
	d2 := e.one("b", snow, "M", store.EventFired)
	e.claim("w1", snow, 1)
	tm := ticket("M", 1, store.TicketOpen)
	e.is("Complete by other owner", e.s.Complete(ctx(), d2, "w2", store.Outcome{Action: "created", Ticket: &tm}), store.ErrLeaseLost)
	_, err = e.s.GetTicket(ctx(), snow, "M")
	e.is("GetTicket after lost lease", err, store.ErrNotFound)

	bad := ticket("M", 0, store.TicketOpen)
	e.is("Complete with invalid ticket", e.s.Complete(ctx(), d2, "w1", store.Outcome{Ticket: &bad}), store.ErrInvalid)
	if d := e.delivery(d2); d.State != store.StateLeased {
		e.t.Fatalf("delivery after rejected Complete = %+v, want still leased", d)
	}
}
