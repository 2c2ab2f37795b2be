package console

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/itsmbridge/itsmbridge/core/store"
)

type ticketsData struct {
	Backend, Key, State string
	Backends            []string
	Items               []store.Ticket
	Next                string
}

func (c *Console) backendNames() []string {
	var out []string
	for _, b := range c.o.Runtime.Config().Backends {
		out = append(out, store.BackendID{Type: b.Type, Name: b.Name}.String())
	}
	return out
}

func (c *Console) tickets(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	q := r.URL.Query()
	d := ticketsData{Backend: q.Get("backend"), Key: q.Get("key"), State: q.Get("state"), Backends: c.backendNames()}
	f := store.TicketFilter{Key: d.Key, State: store.TicketState(d.State)}
	if f.State != "" && f.State != store.TicketOpen && f.State != store.TicketResolved {
		c.problem(w, r, badInput("state must be open or resolved"))
		return
	}
	if d.Backend != "" {
		id, err := store.ParseBackendID(d.Backend)
		if err != nil {
			c.problem(w, r, err)
			return
		}
		f.Backend = id
	}
	p, err := pageRequest(q)
	if err != nil {
		c.problem(w, r, err)
		return
	}
	res, err := c.o.Store.ListTickets(ctx, f, p)
	if err != nil {
		c.problem(w, r, err)
		return
	}
	d.Items, d.Next = res.Items, nextURL(r, res.Next)
	c.render(w, r, http.StatusOK, "tickets", d)
}

// ticketHistoryLimit bounds the operations listed on a ticket page.
const ticketHistoryLimit = 200

type ticketData struct {
	Backend store.BackendID
	Key     string
	// Generations are the key's tickets, oldest first: a fire after the
	// reopen window opens a new generation.
	Generations []store.Ticket
	// Operations are the deliveries of the key, newest first: the ticket's
	// history as the bridge drove it.
	Operations []store.Delivery
	More       bool
}

// ticket shows one ticket key: /ticket?backend=type.name&key=KEY (query
// parameters, because keys and backend names are not path-safe in general).
func (c *Console) ticket(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	q := r.URL.Query()
	id, err := store.ParseBackendID(q.Get("backend"))
	if err != nil {
		c.problem(w, r, err)
		return
	}
	key := q.Get("key")
	if key == "" {
		c.problem(w, r, badInput("key is required"))
		return
	}
	d := ticketData{Backend: id, Key: key}
	if d.Generations, err = c.o.Store.TicketHistory(ctx, id, key); err != nil {
		c.problem(w, r, err)
		return
	}
	ops, err := c.o.Store.ListDeliveries(ctx, store.DeliveryFilter{Backend: id, TicketKey: key}, store.PageRequest{Limit: ticketHistoryLimit})
	if err != nil {
		c.problem(w, r, err)
		return
	}
	d.Operations, d.More = ops.Items, ops.Next != ""
	if len(d.Generations) == 0 && len(d.Operations) == 0 {
		c.problem(w, r, fmt.Errorf("ticket key %s on %s: %w", key, id, store.ErrNotFound))
		return
	}
	c.render(w, r, http.StatusOK, "ticket", d)
}

// ticketURL is the console page of a backend's ticket key.
func ticketURL(b store.BackendID, key string) string {
	return "/ticket?" + url.Values{"backend": {b.String()}, "key": {key}}.Encode()
}
