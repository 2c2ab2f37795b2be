package console

import (
	"fmt"
	"net/http"

	"github.com/itsmbridge/itsmbridge/core/store"
)

type deadLettersData struct {
	Backend  string
	Backends []string
	Items    []store.Delivery
	Next     string
}

// deadLetters lists the DLQ. Its replay and drop buttons call
// POST /api/v1/dlq/{id}/replay and /drop: the admin API is the only path
// that changes the queue.
func (c *Console) deadLetters(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	q := r.URL.Query()
	d := deadLettersData{Backend: q.Get("backend"), Backends: c.backendNames()}
	var backend store.BackendID
	if d.Backend != "" {
		var err error
		if backend, err = store.ParseBackendID(d.Backend); err != nil {
			c.problem(w, r, err)
			return
		}
	}
	p, err := pageRequest(q)
	if err != nil {
		c.problem(w, r, err)
		return
	}
	res, err := c.o.Store.ListDeadLetters(ctx, backend, p)
	if err != nil {
		c.problem(w, r, err)
		return
	}
	d.Items, d.Next = res.Items, nextURL(r, res.Next)
	c.render(w, r, http.StatusOK, "dlq", d)
}

type quarantineData struct {
	Source  string
	Sources []string
	Items   []store.QuarantineItem
	Next    string
}

func (c *Console) quarantine(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	q := r.URL.Query()
	d := quarantineData{Source: q.Get("source")}
	for _, s := range c.o.Runtime.Config().Sources {
		d.Sources = append(d.Sources, s.Name)
	}
	p, err := pageRequest(q)
	if err != nil {
		c.problem(w, r, err)
		return
	}
	res, err := c.o.Store.ListQuarantine(ctx, store.QuarantineFilter{Source: d.Source}, p)
	if err != nil {
		c.problem(w, r, err)
		return
	}
	d.Items, d.Next = res.Items, nextURL(r, res.Next)
	c.render(w, r, http.StatusOK, "quarantine", d)
}

type quarantinedData struct {
	Item store.QuarantineItem
	Raw  string
}

func (c *Console) quarantined(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	id, err := pathID(r)
	if err != nil {
		c.problem(w, r, err)
		return
	}
	item, err := c.o.Store.GetQuarantine(ctx, id)
	if err != nil {
		c.problem(w, r, fmt.Errorf("quarantined payload %d: %w", id, err))
		return
	}
	c.render(w, r, http.StatusOK, "quarantined", quarantinedData{Item: item, Raw: prettyJSON(item.Raw)})
}
