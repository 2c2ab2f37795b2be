package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/route"
	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// windows are the relative time filters the alert list offers; relative
// windows need no time zone from the viewer.
var windows = []struct{ Value, Label string }{
	{"", "any time"}, {"15m", "last 15 minutes"}, {"1h", "last hour"}, {"6h", "last 6 hours"},
	{"24h", "last 24 hours"}, {"168h", "last 7 days"},
}

// alertForm is the alert filter as the operator typed it (echoed back into
// the form) and as the store reads it.
type alertForm struct {
	Source, Status, Rule, Subscription, Since, Until, Window string
	Severity                                                 [5]bool
	Unrouted                                                 bool
	filter                                                   store.AlertFilter
}

func parseAlertForm(q url.Values, now time.Time) (alertForm, error) {
	f := alertForm{
		Source: q.Get("source"), Status: q.Get("status"), Rule: q.Get("rule"), Subscription: q.Get("subscription"),
		Since: q.Get("since"), Until: q.Get("until"), Window: q.Get("window"), Unrouted: q.Get("unrouted") == "true",
	}
	f.filter = store.AlertFilter{Source: f.Source, Status: f.Status, Rule: f.Rule, Subscription: f.Subscription,
		AlertID: q.Get("alert_id"), Unrouted: f.Unrouted}
	if f.Status != "" && f.Status != alert.StatusFired && f.Status != alert.StatusResolved {
		return f, badInput("status must be fired or resolved")
	}
	for _, s := range q["severity"] {
		for _, part := range strings.Split(s, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, err := strconv.Atoi(strings.TrimPrefix(part, "Sev"))
			if err != nil || n < 0 || n > 4 {
				return f, badInput("severity must be 0-4 or Sev0-Sev4")
			}
			if !f.Severity[n] {
				f.Severity[n] = true
				f.filter.Severity = append(f.filter.Severity, n)
			}
		}
	}
	var err error
	if f.filter.Since, err = parseTime("since", f.Since); err != nil {
		return f, err
	}
	if f.filter.Until, err = parseTime("until", f.Until); err != nil {
		return f, err
	}
	if f.Window != "" {
		d, err := time.ParseDuration(f.Window)
		if err != nil || d <= 0 {
			return f, badInput("window must be a duration such as 1h")
		}
		if since := now.Add(-d); since.After(f.filter.Since) {
			f.filter.Since = since
		}
	}
	return f, nil
}

func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
	if err != nil {
		return t, badInput(name + " must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
	}
	return t, nil
}

func pageRequest(q url.Values) (store.PageRequest, error) {
	p := store.PageRequest{Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return p, badInput("limit must be a non-negative integer")
		}
		p.Limit = n
	}
	return p, nil
}

// nextURL is the current page's URL with the cursor of the next page.
func nextURL(r *http.Request, next string) string {
	if next == "" {
		return ""
	}
	q := r.URL.Query()
	q.Set("cursor", next)
	return r.URL.Path + "?" + q.Encode()
}

type alertsData struct {
	Form     alertForm
	Sources  []string
	Windows  []struct{ Value, Label string }
	Items    []store.AlertRecord
	Next     string
	Filtered bool
}

func (c *Console) alerts(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	q := r.URL.Query()
	d := alertsData{Windows: windows}
	for _, s := range c.o.Runtime.Config().Sources {
		d.Sources = append(d.Sources, s.Name)
	}
	form, err := parseAlertForm(q, c.o.Now())
	d.Form = form
	if err != nil {
		c.problem(w, r, err)
		return
	}
	p, err := pageRequest(q)
	if err != nil {
		c.problem(w, r, err)
		return
	}
	res, err := c.o.Store.ListAlerts(ctx, form.filter, p)
	if err != nil {
		c.problem(w, r, err)
		return
	}
	d.Items, d.Next = res.Items, nextURL(r, res.Next)
	d.Filtered = len(q) > 0
	c.render(w, r, http.StatusOK, "alerts", d)
}

type alertData struct {
	Record     store.AlertRecord
	Alert      *alert.Alert
	ParseError string
	Normalized string
	Raw        string
	// Related are the other stored records of the same alert (its fires and
	// resolves), newest first.
	Related []store.AlertRecord
	// IngestRoutes are the routes that matched at ingest, from the deliveries.
	IngestRoutes []string
	// Routes is the running router's verdict now.
	Routes     []route.Result
	RouteError string
	Deliveries []deliveryRow
}

// deliveryRow is a delivery with its rendered ticket and the ticket the
// backend holds for its key.
type deliveryRow struct {
	store.Delivery
	Rendered *sdk.Ticket
	Ticket   *store.Ticket
}

func (c *Console) alert(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	id, err := pathID(r)
	if err != nil {
		c.problem(w, r, err)
		return
	}
	rec, ds, err := c.o.Store.GetAlert(ctx, id)
	if err != nil {
		c.problem(w, r, fmt.Errorf("alert %d: %w", id, err))
		return
	}
	d := alertData{Record: rec, Normalized: prettyJSON(rec.Normalized), Raw: prettyJSON(rec.Raw)}
	var a alert.Alert
	if err := json.Unmarshal(rec.Normalized, &a); err != nil {
		d.ParseError = fmt.Sprintf("the stored normalized alert does not decode: %v", err)
	} else {
		d.Alert = &a
		cfg, router, err := c.routes()
		if err != nil {
			c.problem(w, r, err)
			return
		}
		_, d.Routes = router.RouteAll(&a)
		for i := range d.Routes {
			d.Routes[i].Error = cfg.Redact(d.Routes[i].Error)
			for j, w := range d.Routes[i].Warnings {
				d.Routes[i].Warnings[j] = cfg.Redact(w)
			}
		}
	}
	if rec.AlertID != "" {
		rel, err := c.o.Store.ListAlerts(ctx, store.AlertFilter{AlertID: rec.AlertID}, store.PageRequest{Limit: 50})
		if err != nil {
			c.problem(w, r, err)
			return
		}
		for _, x := range rel.Items {
			if x.ID != rec.ID {
				d.Related = append(d.Related, x)
			}
		}
	}
	if d.Deliveries, err = c.deliveryRows(ctx, ds); err != nil {
		c.problem(w, r, err)
		return
	}
	seen := map[string]bool{}
	for _, del := range ds {
		if !seen[del.Route] {
			seen[del.Route] = true
			d.IngestRoutes = append(d.IngestRoutes, del.Route)
		}
	}
	c.render(w, r, http.StatusOK, "alert", d)
}

// deliveryRows adds each delivery's rendered ticket and its key's current
// ticket (one lookup per backend and key).
func (c *Console) deliveryRows(ctx context.Context, ds []store.Delivery) ([]deliveryRow, error) {
	type bk struct {
		b store.BackendID
		k string
	}
	tickets := map[bk]*store.Ticket{}
	var rows []deliveryRow
	for _, d := range ds {
		row := deliveryRow{Delivery: d}
		var t sdk.Ticket
		if len(d.Ticket) > 0 && json.Unmarshal(d.Ticket, &t) == nil {
			row.Rendered = &t
		}
		key := bk{d.Backend, d.TicketKey}
		tk, ok := tickets[key]
		if !ok {
			got, err := c.o.Store.GetTicket(ctx, d.Backend, d.TicketKey)
			switch {
			case err == nil:
				tk = &got
			case errors.Is(err, store.ErrNotFound):
			default:
				return nil, err
			}
			tickets[key] = tk
		}
		row.Ticket = tk
		rows = append(rows, row)
	}
	return rows, nil
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badInput("id must be a positive integer")
	}
	return id, nil
}
