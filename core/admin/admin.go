package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// Runtime is what the API needs from the running bridge.
type Runtime interface {
	// Ready reports whether the store and every plugin are up.
	Ready(ctx context.Context) error
	// Reload re-reads the configuration and reports whether it applied.
	Reload(ctx context.Context) (result any, ok bool)
	// Backends reports each backend's plugin state.
	Backends() any
	// ConfigDump is the running configuration with secrets redacted.
	ConfigDump() any
	// ReplayQuarantine re-normalizes and re-routes a quarantined payload.
	ReplayQuarantine(ctx context.Context, id int64) (store.IngestResult, error)
}

// Options configure the API.
type Options struct {
	Store   store.Store
	Runtime Runtime
	// Metrics serves /metrics.
	Metrics http.Handler
	// Token, when set, is required as `Authorization: Bearer <token>` on
	// everything but /healthz and /readyz.
	Token  string
	Logger hclog.Logger
	// Extra mounts more handlers (e.g. the console at /).
	Extra func(r chi.Router)
}

// New returns the admin API handler.
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	a := &api{o: o, log: o.Logger.Named("admin")}
	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	r.Get("/readyz", a.ready)
	r.Group(func(r chi.Router) {
		r.Use(sameOrigin, a.authenticate)
		if o.Metrics != nil {
			r.Method(http.MethodGet, "/metrics", o.Metrics)
		}
		r.Route("/api/v1", func(r chi.Router) {
			r.Get("/stats", a.stats)
			r.Get("/alerts", a.listAlerts)
			r.Get("/alerts/{id}", a.getAlert)
			r.Get("/deliveries", a.listDeliveries)
			r.Get("/deliveries/{id}", a.getDelivery)
			r.Get("/dlq", a.listDLQ)
			r.Post("/dlq/{id}/replay", a.replayDLQ)
			r.Post("/dlq/{id}/drop", a.dropDLQ)
			r.Delete("/dlq/{id}", a.dropDLQ)
			r.Get("/tickets", a.listTickets)
			r.Get("/quarantine", a.listQuarantine)
			r.Get("/quarantine/{id}", a.getQuarantine)
			r.Post("/quarantine/{id}/replay", a.replayQuarantine)
			r.Post("/quarantine/{id}/drop", a.dropQuarantine)
			r.Delete("/quarantine/{id}", a.dropQuarantine)
			r.Get("/backends", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, o.Runtime.Backends()) })
			r.Get("/config", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, o.Runtime.ConfigDump()) })
			r.Post("/reload", a.reload)
		})
		if o.Extra != nil {
			o.Extra(r)
		}
	})
	return r
}

type api struct {
	o   Options
	log hclog.Logger
}

// sameOrigin refuses state-changing requests a browser sends on behalf of
// another site: without an admin token (loopback), any page open in the
// operator's browser could otherwise POST to the admin API.
func sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
				writeError(w, http.StatusForbidden, errors.New("cross-site request refused"))
				return
			}
			if o := r.Header.Get("Origin"); o != "" && o != "null" {
				if u, err := url.Parse(o); err != nil || u.Host != r.Host {
					writeError(w, http.StatusForbidden, errors.New("cross-origin request refused"))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.o.Token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				if c, err := r.Cookie("itsmbridge_admin"); err == nil {
					got, ok = c.Value, true
				}
			}
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(a.o.Token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="itsmbridge-admin"`)
				writeError(w, http.StatusUnauthorized, errors.New("admin token required"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (a *api) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := a.o.Runtime.Ready(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
		return
	}
	writeJSON(w, 200, map[string]string{"status": "ready"})
}

func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	st, err := a.o.Store.Stats(r.Context())
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, 200, st)
}

// page is the JSON shape of every listing.
type page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

func pageOf[T any](p store.Page[T]) page[T] {
	if p.Items == nil {
		p.Items = []T{}
	}
	return page[T]{Items: p.Items, Next: p.Next}
}

// listPage answers a listing: limit/cursor from the query, list, JSON page.
func listPage[T any](w http.ResponseWriter, r *http.Request, list func(store.PageRequest) (store.Page[T], error)) {
	p, err := pageRequest(r)
	if err != nil {
		writeError(w, 400, err)
		return
	}
	res, err := list(p)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, 200, pageOf(res))
}

// backendParam parses ?backend=TYPE.NAME; absent means any backend.
func backendParam(r *http.Request) (store.BackendID, error) {
	b := r.URL.Query().Get("backend")
	if b == "" {
		return store.BackendID{}, nil
	}
	return store.ParseBackendID(b)
}

func pageRequest(r *http.Request) (store.PageRequest, error) {
	q := r.URL.Query()
	p := store.PageRequest{Cursor: q.Get("cursor")}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return p, badRequest("limit must be a non-negative integer")
		}
		p.Limit = n
	}
	return p, nil
}

func (a *api) listAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.AlertFilter{
		Source: q.Get("source"), Status: q.Get("status"), Rule: q.Get("rule"),
		Subscription: q.Get("subscription"), AlertID: q.Get("alert_id"), Unrouted: q.Get("unrouted") == "true",
	}
	for _, s := range q["severity"] {
		for _, part := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(part), "Sev"))
			if err != nil {
				writeError(w, 400, badRequest("severity must be 0-4 or Sev0-Sev4"))
				return
			}
			f.Severity = append(f.Severity, n)
		}
	}
	var err error
	if f.Since, err = parseTime(q.Get("since")); err != nil {
		writeError(w, 400, err)
		return
	}
	if f.Until, err = parseTime(q.Get("until")); err != nil {
		writeError(w, 400, err)
		return
	}
	listPage(w, r, func(p store.PageRequest) (store.Page[store.AlertRecord], error) {
		return a.o.Store.ListAlerts(r.Context(), f, p)
	})
}

// AlertDetail is GET /api/v1/alerts/{id}.
type AlertDetail struct {
	Alert      store.AlertRecord `json:"alert"`
	Deliveries []store.Delivery  `json:"deliveries"`
}

func (a *api) getAlert(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, 400, err)
		return
	}
	rec, ds, err := a.o.Store.GetAlert(r.Context(), id)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	if ds == nil {
		ds = []store.Delivery{}
	}
	writeJSON(w, 200, AlertDetail{Alert: rec, Deliveries: ds})
}

func (a *api) listDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.DeliveryFilter{State: store.DeliveryState(q.Get("state")), TicketKey: q.Get("ticket_key"), Route: q.Get("route")}
	if f.State != "" && !f.State.Valid() {
		writeError(w, 400, badRequest("state must be pending, leased, done or dead"))
		return
	}
	var err error
	if f.Backend, err = backendParam(r); err != nil {
		writeError(w, 400, err)
		return
	}
	listPage(w, r, func(p store.PageRequest) (store.Page[store.Delivery], error) {
		return a.o.Store.ListDeliveries(r.Context(), f, p)
	})
}

func (a *api) getDelivery(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, 400, err)
		return
	}
	d, err := a.o.Store.GetDelivery(r.Context(), id)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, 200, d)
}

func (a *api) listDLQ(w http.ResponseWriter, r *http.Request) {
	backend, err := backendParam(r)
	if err != nil {
		writeError(w, 400, err)
		return
	}
	listPage(w, r, func(p store.PageRequest) (store.Page[store.Delivery], error) {
		return a.o.Store.ListDeadLetters(r.Context(), backend, p)
	})
}

func (a *api) replayDLQ(w http.ResponseWriter, r *http.Request) {
	a.act(w, r, "replayed", a.o.Store.ReplayDeadLetter)
}

func (a *api) dropDLQ(w http.ResponseWriter, r *http.Request) {
	a.act(w, r, "dropped", a.o.Store.DropDeadLetter)
}

func (a *api) dropQuarantine(w http.ResponseWriter, r *http.Request) {
	a.act(w, r, "dropped", a.o.Store.DropQuarantine)
}

func (a *api) act(w http.ResponseWriter, r *http.Request, what string, fn func(context.Context, int64) error) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, 400, err)
		return
	}
	if err := fn(r.Context(), id); err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	a.log.Info("operator action", "action", what, "path", r.URL.Path, "id", id)
	writeJSON(w, 200, map[string]any{"status": what, "id": id})
}

func (a *api) listTickets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := store.TicketFilter{Key: q.Get("key"), State: store.TicketState(q.Get("state"))}
	var err error
	if f.Backend, err = backendParam(r); err != nil {
		writeError(w, 400, err)
		return
	}
	listPage(w, r, func(p store.PageRequest) (store.Page[store.Ticket], error) {
		return a.o.Store.ListTickets(r.Context(), f, p)
	})
}

func (a *api) listQuarantine(w http.ResponseWriter, r *http.Request) {
	f := store.QuarantineFilter{Source: r.URL.Query().Get("source")}
	listPage(w, r, func(p store.PageRequest) (store.Page[store.QuarantineItem], error) {
		return a.o.Store.ListQuarantine(r.Context(), f, p)
	})
}

func (a *api) getQuarantine(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, 400, err)
		return
	}
	q, err := a.o.Store.GetQuarantine(r.Context(), id)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, 200, q)
}

func (a *api) replayQuarantine(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, 400, err)
		return
	}
	res, err := a.o.Runtime.ReplayQuarantine(r.Context(), id)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	a.log.Info("operator action", "action", "quarantine replay", "id", id, "alert_id", res.AlertID)
	writeJSON(w, 200, map[string]any{"status": "replayed", "alert_id": res.AlertID, "duplicate": res.Duplicate, "deliveries": len(res.Deliveries)})
}

func (a *api) reload(w http.ResponseWriter, r *http.Request) {
	res, ok := a.o.Runtime.Reload(r.Context())
	status := http.StatusOK
	if !ok {
		status = http.StatusUnprocessableEntity
	}
	writeJSON(w, status, res)
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("id must be a positive integer")
	}
	return id, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, badRequest("times must be RFC 3339, e.g. 2026-01-02T15:04:05Z")
	}
	return t, nil
}

type badRequestError string

func (e badRequestError) Error() string { return string(e) }

func badRequest(msg string) error { return badRequestError(msg) }

func statusOf(err error) int {
	var br badRequestError
	switch {
	case errors.As(err, &br), errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrUnavailable):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
