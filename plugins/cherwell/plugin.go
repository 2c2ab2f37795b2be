package main

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"text/template"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// version is the plugin's own semver.
const version = "0.1.0"

// Plugin is the Cherwell CSM backend. The zero value is not usable; call New.
type Plugin struct {
	log hclog.Logger
	tr  http.RoundTripper
	now func() time.Time

	state atomic.Pointer[runtime]
	ciMu  keyedMutex // per configuration item (find-or-create)
	keyMu keyedMutex // per ticket key (find-or-create)
}

// runtime is one configured instance: config, API client and discovered ids.
type runtime struct {
	cfg      config
	api      *api
	meta     *meta
	closeTpl *template.Template
	webURL   string
}

var (
	_ sdk.Plugin          = (*Plugin)(nil)
	_ sdk.Reopener        = (*Plugin)(nil)
	_ sdk.Commenter       = (*Plugin)(nil)
	_ sdk.CIBinder        = (*Plugin)(nil)
	_ sdk.Finder          = (*Plugin)(nil)
	_ sdk.HealthChecker   = (*Plugin)(nil)
	_ sdk.ConfigValidator = (*Plugin)(nil)
)

// Option configures New.
type Option func(*Plugin)

// WithLogger sets the logger (default hclog.Default(), which sdk.Serve
// points at stderr as JSON).
func WithLogger(l hclog.Logger) Option { return func(p *Plugin) { p.log = l } }

// WithTransport sets the HTTP transport to CSM (tests, proxies).
func WithTransport(tr http.RoundTripper) Option { return func(p *Plugin) { p.tr = tr } }

// WithClock sets the clock used for token expiry.
func WithClock(now func() time.Time) Option { return func(p *Plugin) { p.now = now } }

// New returns an unconfigured Cherwell plugin.
func New(opts ...Option) *Plugin {
	p := &Plugin{now: time.Now}
	for _, o := range opts {
		o(p)
	}
	if p.log == nil {
		p.log = hclog.Default().Named("cherwell")
	}
	return p
}

// Info implements sdk.Plugin.
func (p *Plugin) Info() sdk.Info { return sdk.Info{Name: "cherwell", Version: version} }

// Schema implements sdk.Plugin.
func (p *Plugin) Schema() sdk.Schema { return schema() }

// ValidateConfig implements sdk.ConfigValidator: offline checks only.
func (p *Plugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	_, d := decodeConfig(cfg)
	return d
}

// Configure implements sdk.Plugin: it logs in and discovers the ids of the
// configured business objects, fields, states and relationships. A name that
// CSM does not know is an error diagnostic on the attribute that holds it.
func (p *Plugin) Configure(ctx context.Context, req *sdk.ConfigureRequest) sdk.Diagnostics {
	c, diags := decodeConfig(req.Config)
	if diags.HasErrors() {
		return diags
	}
	rt := &runtime{cfg: c}
	rt.closeTpl, _ = parseCloseTemplate(c.CloseDescription) // validated above
	rt.webURL = webURL(c)
	log := p.log.With("backend", req.Backend)
	rt.api = newAPI(&rt.cfg, p.tr, log, p.now)
	if err := rt.api.login(ctx); err != nil {
		rt.api.close()
		return append(diags, configureDiag(err))
	}
	m, err := discover(ctx, rt.api, &rt.cfg)
	if err != nil {
		rt.api.close()
		return append(diags, configureDiag(err))
	}
	rt.meta = m
	rt.api.fieldName = m.fieldName
	if old := p.state.Swap(rt); old != nil {
		old.api.close()
	}
	log.Info("configured", "business_object", m.incident.Name, "busObId", m.incident.ID,
		"ci_types", len(m.ciTypes), "open_states", strings.Join(m.openStates, ","))
	return diags
}

// webURL is the browser-client base used in ticket links.
func webURL(c config) string {
	if c.WebURL != "" {
		return strings.TrimSuffix(c.WebURL, "/")
	}
	base := strings.TrimSuffix(c.URL, "/")
	if i := strings.LastIndex(strings.ToLower(base), "/cherwellapi"); i >= 0 {
		base = base[:i]
	}
	return base + "/CherwellClient"
}

// rt returns the current configuration or a permanent error.
func (p *Plugin) rt() (*runtime, error) {
	rt := p.state.Load()
	if rt == nil {
		return nil, sdk.Permanentf("cherwell: plugin is not configured")
	}
	return rt, nil
}

// keyedMutex serialises work per key (find-or-create of one CI).
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*keyedEntry
}

type keyedEntry struct {
	ch   chan struct{}
	refs int
}

// lock acquires key, honouring ctx; the returned func releases it.
func (k *keyedMutex) lock(ctx context.Context, key string) (func(), error) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedEntry{}
	}
	e := k.locks[key]
	if e == nil {
		e = &keyedEntry{ch: make(chan struct{}, 1)}
		k.locks[key] = e
	}
	e.refs++
	k.mu.Unlock()
	release := func() {
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
	select {
	case e.ch <- struct{}{}:
		return func() { <-e.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, sdk.Retryable(ctx.Err(), 0)
	}
}
