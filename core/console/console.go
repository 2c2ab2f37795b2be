package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/core/pluginhost"
	"github.com/itsmbridge/itsmbridge/core/route"
	"github.com/itsmbridge/itsmbridge/core/store"
)

// Runtime is what the console reads from the running bridge. Every method
// returns the current value: the console never caches across requests, so a
// reload shows at once.
type Runtime interface {
	// Config is the running configuration. The console evaluates routes
	// with its own router built from it, so page views never touch the
	// running router's error counters or log.
	Config() *config.Config
	// Backends reports each configured backend's plugin, in declaration order.
	Backends() []Backend
	// LastReload is the outcome of the last load or reload.
	LastReload() Reload
}

// Backend is one configured backend as the console shows it.
type Backend struct {
	ID store.BackendID
	// Status is the supervised plugin's state (running, restarts, errors,
	// and what the running process reported about itself).
	Status pluginhost.Status
	// Info is what the plugin binary reported when the configuration was
	// loaded (path, version, capabilities); used when Status.Info is empty.
	Info pluginhost.Info
}

// Reload is the outcome of a load or reload.
type Reload struct {
	At          time.Time
	OK          bool
	Diagnostics string
}

// Options configure New.
type Options struct {
	// Store is read with listing calls only.
	Store store.Store
	// Runtime is the running bridge.
	Runtime Runtime
	Logger  hclog.Logger
	// Refresh is how often the overview refreshes itself; default 5 s.
	Refresh time.Duration
	// Now is the clock; default time.Now (tests fix it).
	Now func() time.Time
}

// Console serves the pages. Create it with New.
type Console struct {
	o     Options
	log   hclog.Logger
	pages map[string]pageTemplate

	mu        sync.Mutex
	routerFor *config.Config // the configuration router was built from
	router    *route.Router
	// The overview's history totals and when they were counted (totals).
	totalsMu               sync.Mutex
	totalAlerts, totalDone int64
	totalsAt               time.Time
}

// routes returns the running configuration and a router for it, built once
// per configuration (a reload makes a new *config.Config).
func (c *Console) routes() (*config.Config, *route.Router, error) {
	cfg := c.o.Runtime.Config()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.routerFor != cfg {
		r, err := route.New(cfg, hclog.NewNullLogger())
		if err != nil {
			return cfg, nil, fmt.Errorf("building the routes of the running configuration: %w", err)
		}
		c.routerFor, c.router = cfg, r
	}
	return cfg, c.router, nil
}

// New returns a console; it panics only if the embedded templates are
// broken, which the package's tests rule out.
func New(o Options) *Console {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Refresh <= 0 {
		o.Refresh = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Console{o: o, log: o.Logger.Named("console"), pages: mustParsePages()}
}

// Mount adds the console's routes to r. r should be the admin API's
// authenticated group (admin.Options.Extra).
func (c *Console) Mount(r chi.Router) {
	r.Group(func(r chi.Router) {
		r.Use(securityHeaders)
		r.Get("/", c.overview)
		r.Get("/overview/live", c.overviewLive)
		r.Get("/alerts", c.alerts)
		r.Get("/alerts/{id}", c.alert)
		r.Get("/tickets", c.tickets)
		r.Get("/ticket", c.ticket)
		r.Get("/dlq", c.deadLetters)
		r.Get("/quarantine", c.quarantine)
		r.Get("/quarantine/{id}", c.quarantined)
		r.Get("/config", c.config)
		r.Get("/route-test", c.routeTest)
		r.Post("/route-test", c.routeTest)
		r.Get("/static/*", serveStatic)
	})
}

// contentSecurityPolicy allows only the console's own script and stylesheet:
// no inline script, no eval, no third-party origin.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// render executes page with data inside the layout. The page is rendered
// into a buffer first, so a template error yields a clean 500 instead of half
// a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	c.renderTemplate(w, r, status, page, "layout", data)
}

func (c *Console) renderTemplate(w http.ResponseWriter, r *http.Request, status int, page, name string, data any) {
	pt, ok := c.pages[page]
	if !ok {
		c.log.Error("no such page template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	var v any = view{Page: page, Title: pt.title, Data: data, Refresh: c.o.Refresh.Milliseconds(), RefreshSeconds: c.o.Refresh.Seconds()}
	if name != "layout" { // a fragment gets its data alone
		v = data
	}
	if err := pt.t.ExecuteTemplate(&buf, name, v); err != nil {
		c.log.Error("rendering page", "page", page, "path", r.URL.Path, "error", err)
		http.Error(w, "internal error rendering the page; see the bridge log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// view is what every page template receives.
type view struct {
	Page    string // page key, marks the current nav entry
	Title   string
	Refresh int64 // overview refresh interval in ms
	// RefreshSeconds is Refresh for people.
	RefreshSeconds float64
	Data           any
}

// problem renders an error page: 400 for bad input, 404 for unknown ids,
// 503 when the store is down, 500 otherwise.
func (c *Console) problem(w http.ResponseWriter, r *http.Request, err error) {
	status := statusOf(err)
	if status >= 500 {
		c.log.Error("console request failed", "path", r.URL.Path, "error", err)
	}
	c.render(w, r, status, "error", errorView{Status: status, StatusText: http.StatusText(status), Message: err.Error()})
}

type errorView struct {
	Status     int
	StatusText string
	Message    string
}

// badInput is an operator's malformed filter or form.
type badInput string

func (e badInput) Error() string { return string(e) }

func statusOf(err error) int {
	var bi badInput
	switch {
	case errors.As(err, &bi), errors.Is(err, store.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// storeTimeout bounds the store reads of one page.
const storeTimeout = 10 * time.Second

func (c *Console) ctx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), storeTimeout)
}
