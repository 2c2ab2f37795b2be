package console

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/normalize"
	"github.com/itsmbridge/itsmbridge/core/route"
)

type routeTestData struct {
	Payload string
	Source  string
	Sources []string
	All     bool

	Ran        bool
	Error      string
	Notes      []string
	Alert      *alert.Alert
	Routes     []route.Result
	Deliveries []routeTestDelivery
}

// routeTestDelivery is one ticket the alert would produce, secrets redacted.
type routeTestDelivery struct {
	Route, Backend, TicketKey string
	Title, Description        string
	Severity                  int
	Fields                    []kv
	Resolve                   bool
	ReopenWithin, OnRepeat    string
	CMDBBind, CMDBCreate      bool
}

type kv struct{ Key, Value string }

// routeTest is `itsmbridge route test` on a page: it normalizes a pasted
// payload and evaluates the running routes. Nothing is stored or sent, so a
// POST here changes no state.
func (c *Console) routeTest(w http.ResponseWriter, r *http.Request) {
	cfg := c.o.Runtime.Config()
	d := routeTestData{All: true}
	for _, s := range cfg.Sources {
		d.Sources = append(d.Sources, s.Name)
	}
	if len(d.Sources) == 1 {
		d.Source = d.Sources[0]
	}
	if r.Method != http.MethodPost {
		c.render(w, r, http.StatusOK, "routetest", d)
		return
	}
	// A form-encoded payload is at most three times its size.
	limit := cfg.Server.MaxBodyBytes
	if limit <= 0 {
		limit = 1 << 20
	}
	r.Body = http.MaxBytesReader(w, r.Body, 3*limit+64<<10)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			c.problem(w, r, badInput(fmt.Sprintf("the payload is larger than max_body_bytes (%d bytes)", limit)))
			return
		}
		c.problem(w, r, badInput("the form could not be read: "+err.Error()))
		return
	}
	d.Payload, d.All, d.Ran = r.PostForm.Get("payload"), r.PostForm.Get("all") == "true", true
	if s := r.PostForm.Get("source"); s != "" {
		if cfg.Source(s) == nil {
			c.problem(w, r, badInput(fmt.Sprintf("no source %q in the running configuration", s)))
			return
		}
		d.Source = s
	}
	status := http.StatusOK
	switch {
	case strings.TrimSpace(d.Payload) == "":
		d.Error, status = "Paste an alert payload (JSON as Azure Monitor posts it).", http.StatusUnprocessableEntity
	case int64(len(d.Payload)) > limit:
		d.Error, status = fmt.Sprintf("The payload is larger than max_body_bytes (%d bytes): the source would reject it.", limit), http.StatusUnprocessableEntity
	default:
		c.evaluate(&d)
		if d.Error != "" {
			status = http.StatusUnprocessableEntity
		}
	}
	c.render(w, r, status, "routetest", d)
}

func (c *Console) evaluate(d *routeTestData) {
	cfg, router, err := c.routes()
	if err != nil {
		d.Error = err.Error()
		return
	}
	a, err := normalize.Normalize([]byte(d.Payload))
	if err != nil {
		msg := "The payload does not normalize: " + err.Error()
		if errors.Is(err, normalize.ErrUnknownSchema) {
			msg += ". The bridge would accept it into quarantine."
		}
		d.Error = cfg.Redact(msg)
		return
	}
	a.Source = d.Source
	if d.Source == "" && len(cfg.Sources) > 1 {
		d.Notes = append(d.Notes, "alert.source is empty: choose a source to test routes that depend on it")
	}
	if src := cfg.Source(a.Source); src != nil && len(src.AllowedSubscriptions) > 0 &&
		!slices.Contains(src.AllowedSubscriptions, strings.ToLower(a.Subscription)) {
		d.Notes = append(d.Notes, fmt.Sprintf("source %q would reject this alert: subscription %q is not in its allowed_subscriptions", src.Name, a.Subscription))
	}
	eval := router.Route
	if d.All {
		eval = router.RouteAll
	}
	deliveries, results := eval(a)
	d.Alert = a
	for _, res := range results {
		res.Error = cfg.Redact(res.Error)
		for i, w := range res.Warnings {
			res.Warnings[i] = cfg.Redact(w)
		}
		d.Routes = append(d.Routes, res)
	}
	for _, del := range deliveries {
		rd := routeTestDelivery{
			Route: del.Route, Backend: del.Backend.Type + "." + del.Backend.Name, TicketKey: del.TicketKey,
			Title: cfg.Redact(del.Ticket.Title), Description: cfg.Redact(del.Ticket.Description), Severity: del.Ticket.Severity,
			Resolve: del.Lifecycle.Resolve, ReopenWithin: del.Lifecycle.ReopenWithin.String(), OnRepeat: del.Lifecycle.OnRepeat,
			CMDBBind: del.CMDB.Bind, CMDBCreate: del.CMDB.CreateMissing,
		}
		for k, v := range del.Ticket.Fields {
			rd.Fields = append(rd.Fields, kv{k, cfg.Redact(v)})
		}
		sort.Slice(rd.Fields, func(i, j int) bool { return rd.Fields[i].Key < rd.Fields[j].Key })
		d.Deliveries = append(d.Deliveries, rd)
	}
}
