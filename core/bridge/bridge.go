package bridge

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"golang.org/x/time/rate"

	"github.com/itsmbridge/itsmbridge/core/auth"
	"github.com/itsmbridge/itsmbridge/core/certfile"
	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/core/dispatch"
	"github.com/itsmbridge/itsmbridge/core/ingest"
	"github.com/itsmbridge/itsmbridge/core/metrics"
	"github.com/itsmbridge/itsmbridge/core/pluginhost"
	"github.com/itsmbridge/itsmbridge/core/retention"
	"github.com/itsmbridge/itsmbridge/core/route"
	"github.com/itsmbridge/itsmbridge/core/store"
)

// Options configure Start.
type Options struct {
	// ConfigPath is the file or directory of *.hcl.
	ConfigPath string
	Logger     hclog.Logger
	// Supervision tunes plugin supervision (tests shorten the intervals).
	Supervision pluginhost.Options
	// Dispatch tunes the dispatcher (tests shorten back-off).
	Dispatch dispatch.Config
	// Retention tunes the retention loop's schedule (tests shorten it);
	// Keep comes from the configuration.
	Retention retention.Options
}

// Bridge is a running itsmbridge.
type Bridge struct {
	opts    Options
	logger  hclog.Logger
	metrics *metrics.Metrics
	store   store.Store
	ingest  *ingest.Handler
	disp    *dispatch.Dispatcher
	keySets *auth.KeySets

	reloadMu sync.Mutex // serialises reloads
	mu       sync.Mutex
	cfg      *config.Config
	router   *route.Router
	verify   []*auth.Verifier
	backends map[store.BackendID]*backend
	plugins  map[string]pluginhost.Info
	last     ReloadResult

	// retention is the running retention loop (nil when off); setRetention
	// replaces it, under retentionMu.
	retentionMu   sync.Mutex
	retention     context.CancelFunc
	retentionDone chan struct{}
	retentionKeep time.Duration

	servers []*http.Server
	addrs   map[string]string
	serveWG sync.WaitGroup
	// certs serves the certificate of each HTTPS listener ("ingress",
	// "admin"); a reload points them at the new configuration's files.
	certs map[string]*certfile.Source
}

// backend is one running backend and what it was started from.
type backend struct {
	cfg *config.Backend
	sup *pluginhost.Supervisor
	fp  []byte
}

// ReloadResult is the outcome of the last (re)load.
type ReloadResult struct {
	At          time.Time `json:"at"`
	OK          bool      `json:"ok"`
	Diagnostics string    `json:"diagnostics,omitempty"`
}

// Start loads the configuration, opens the store, launches the plugins,
// starts dispatching and listens on the ingress and admin addresses.
func Start(ctx context.Context, opts Options) (*Bridge, error) {
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	cfg, provider, diags := LoadConfig(ctx, opts.ConfigPath, opts.Logger)
	if diags.HasErrors() {
		return nil, &DiagnosticsError{Config: cfg, Diags: diags}
	}
	b := &Bridge{
		opts:     opts,
		logger:   opts.Logger,
		metrics:  metrics.New(),
		keySets:  auth.NewKeySets(auth.WithLogger(opts.Logger.Named("auth"))),
		backends: map[store.BackendID]*backend{},
		addrs:    map[string]string{},
		certs:    map[string]*certfile.Source{},
	}
	st, err := OpenStore(ctx, cfg, opts.Logger)
	if err != nil {
		b.keySets.Close()
		return nil, err
	}
	b.store = st
	b.metrics.WatchStore(st, func() []string {
		var names []string
		for _, s := range b.Backends() {
			names = append(names, s.Name)
		}
		return names
	})
	b.ingest = ingest.New(st, opts.Logger, b.metrics)
	dc := opts.Dispatch
	dc.Store, dc.Logger, dc.Metrics = st, opts.Logger, b.metrics
	b.disp = dispatch.New(dc)
	if err := b.apply(ctx, cfg, provider); err != nil {
		b.closeAll(ctx)
		return nil, err
	}
	b.last = ReloadResult{At: time.Now(), OK: true}
	if err := b.listen(cfg); err != nil {
		b.closeAll(ctx)
		return nil, err
	}
	b.logger.Info("itsmbridge started", "ingress", b.addrs["ingress"], "admin", b.addrs["admin"],
		"sources", len(cfg.Sources), "backends", len(cfg.Backends), "routes", len(cfg.Routes), "store", cfg.Store.Kind)
	return b, nil
}

// DiagnosticsError carries configuration diagnostics.
type DiagnosticsError struct {
	Config *config.Config
	Diags  hcl.Diagnostics
}

func (e *DiagnosticsError) Error() string {
	var buf bytes.Buffer
	if e.Config != nil {
		_ = e.Config.WriteDiagnostics(&buf, e.Diags, 0)
	} else {
		buf.WriteString(e.Diags.Error())
	}
	return "invalid configuration:\n" + buf.String()
}

// apply makes cfg the running configuration.
func (b *Bridge) apply(ctx context.Context, cfg *config.Config, provider *pluginhost.SchemaProvider) error {
	router, err := route.New(cfg, b.logger)
	if err != nil {
		return fmt.Errorf("building routes: %w", err)
	}
	var verifiers []*auth.Verifier
	snap := &ingest.Snapshot{Sources: map[string]*ingest.Source{}, Router: router, MaxBodyBytes: cfg.Server.MaxBodyBytes}
	for _, s := range cfg.Sources {
		v, err := auth.NewVerifier(s.Auth, auth.WithKeySets(b.keySets), auth.WithLogger(b.logger.Named("auth").With("source", s.Name)))
		if err != nil {
			closeVerifiers(verifiers)
			return fmt.Errorf("source %q: %w", s.Name, err)
		}
		verifiers = append(verifiers, v)
		src := &ingest.Source{Name: s.Name, Path: s.Path, Verifier: v, AllowedSubscriptions: s.AllowedSubscriptions}
		if s.RateLimit > 0 {
			burst := s.Burst
			if burst <= 0 {
				burst = int(math.Ceil(s.RateLimit))
			}
			src.Limiter = rate.NewLimiter(rate.Limit(s.RateLimit), burst)
		}
		snap.Sources[s.Path] = src
	}

	// Start new or changed backends before switching, so that the dispatcher
	// never points at a stopped plugin.
	b.mu.Lock()
	old := b.backends
	b.mu.Unlock()
	next := map[store.BackendID]*backend{}
	var dbs []dispatch.Backend
	for _, bc := range cfg.Backends {
		id := store.BackendID{Type: bc.Type, Name: bc.Name}
		fp := fingerprint(cfg, bc)
		be, ok := old[id]
		if !ok || !bytes.Equal(be.fp, fp) {
			so := b.opts.Supervision
			so.Spec = pluginhost.Spec{Type: bc.Type, Name: bc.Name, Dir: cfg.PluginDir, SHA256: bc.SHA256, Logger: b.logger}
			so.Config = bc.Config
			so.CallTimeout = bc.Timeout
			so.OnRestart = func() { b.metrics.PluginRestart(id.String()) }
			be = &backend{cfg: bc, sup: pluginhost.Supervise(so), fp: fp}
			b.logger.Info("backend started", "backend", id.String())
		}
		next[id] = be
		dbs = append(dbs, dispatch.Backend{ID: id, Plugin: be.sup, MaxConcurrency: bc.MaxConcurrency, RateLimit: bc.RateLimit, MaxAge: bc.MaxAge})
	}

	b.ingest.Set(snap)
	b.disp.Set(ctx, dbs)
	b.setRetention(cfg.Store.Retention)

	b.mu.Lock()
	oldVerifiers := b.verify
	b.cfg, b.router, b.verify, b.backends = cfg, router, verifiers, next
	if provider != nil {
		b.plugins = provider.Infos()
	}
	b.mu.Unlock()

	closeVerifiers(oldVerifiers)
	for id, be := range old {
		if nb, ok := next[id]; !ok || nb != be {
			be.sup.Close()
			if !ok {
				b.logger.Warn("backend removed; its queued deliveries stay in the store until it is configured again", "backend", id.String())
			}
		}
	}
	return nil
}

func closeVerifiers(vs []*auth.Verifier) {
	for _, v := range vs {
		v.Close()
	}
}

// fingerprint identifies what a backend's plugin was started with.
func fingerprint(cfg *config.Config, bc *config.Backend) []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%s|%s|%s|%s|%d|%g|%s|%s|", cfg.PluginDir, bc.Type, bc.Name, bc.SHA256, bc.MaxConcurrency, bc.RateLimit, bc.MaxAge, bc.Timeout)
	buf.Write(bc.Config.Msgpack)
	return buf.Bytes()
}

// Reload re-reads the configuration. An invalid configuration changes
// nothing and its diagnostics are returned (and kept for the admin API).
func (b *Bridge) Reload(ctx context.Context) ReloadResult {
	b.reloadMu.Lock()
	defer b.reloadMu.Unlock()
	cfg, provider, diags := LoadConfig(ctx, b.opts.ConfigPath, b.logger)
	res := ReloadResult{At: time.Now(), OK: true}
	if diags.HasErrors() {
		res.OK = false
		res.Diagnostics = (&DiagnosticsError{Config: cfg, Diags: diags}).Error()
	} else if err := b.checkImmutable(cfg); err != nil {
		res.OK, res.Diagnostics = false, err.Error()
	} else if err := b.apply(ctx, cfg, provider); err != nil {
		res.OK, res.Diagnostics = false, err.Error()
	} else if err := b.setCerts(cfg); err != nil {
		// Loading the configuration checked the pairs; they changed since.
		// The listeners keep their certificates and follow the files.
		b.logger.Error("the reloaded TLS certificate files do not load; serving the previous certificates", "error", err)
	}
	b.metrics.Reload(res.OK)
	if res.OK {
		b.logger.Info("configuration reloaded", "backends", len(cfg.Backends), "routes", len(cfg.Routes))
	} else {
		b.logger.Error("configuration reload rejected; the running configuration stays", "diagnostics", res.Diagnostics)
	}
	b.mu.Lock()
	b.last = res
	b.mu.Unlock()
	return res
}

// checkImmutable refuses reloads that change what only a restart can change.
func (b *Bridge) checkImmutable(cfg *config.Config) error {
	b.mu.Lock()
	cur := b.cfg
	b.mu.Unlock()
	switch {
	case cur.Store.Kind != cfg.Store.Kind || cur.Store.Path != cfg.Store.Path || cur.Store.DSN != cfg.Store.DSN ||
		cur.Store.MaxOpenConns != cfg.Store.MaxOpenConns:
		// retention may change: apply restarts the retention loop.
		return errors.New("the store block changed; restart the bridge to switch stores")
	case cur.Server.Listen != cfg.Server.Listen || cur.Server.AdminListen != cfg.Server.AdminListen:
		return errors.New("listen addresses changed; restart the bridge to rebind")
	case tlsShape(cur.Server.TLS) != tlsShape(cfg.Server.TLS) || tlsShape(cur.Server.AdminTLS) != tlsShape(cfg.Server.AdminTLS):
		// Certificate files may change (see setCerts), not whether a
		// listener speaks TLS or its minimum version.
		return errors.New("TLS was turned on or off, or its min_version changed; restart the bridge")
	}
	return nil
}

// tlsShape is what of a TLS block only a restart can change.
func tlsShape(t *config.TLS) uint16 {
	if t == nil {
		return 0
	}
	return t.MinVersion
}

// setCerts points the HTTPS listeners at cfg's certificate files.
func (b *Bridge) setCerts(cfg *config.Config) error {
	for name, t := range map[string]*config.TLS{"ingress": cfg.Server.TLS, "admin": cfg.Server.AdminTLS} {
		if src := b.certs[name]; src != nil && t != nil {
			if err := src.Set(t.CertFile, t.KeyFile); err != nil {
				return fmt.Errorf("%s TLS: %w", name, err)
			}
		}
	}
	return nil
}

// Config returns the running configuration.
func (b *Bridge) Config() *config.Config {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cfg
}

// Router returns the running router.
func (b *Bridge) Router() *route.Router {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.router
}

// Store returns the store.
func (b *Bridge) Store() store.Store { return b.store }

// Metrics returns the metrics.
func (b *Bridge) Metrics() *metrics.Metrics { return b.metrics }

// LastReload returns the outcome of the last load or reload.
func (b *Bridge) LastReload() ReloadResult {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last
}

// BackendStatus is what the admin API reports per backend.
type BackendStatus struct {
	ID     store.BackendID   `json:"-"`
	Name   string            `json:"backend"`
	Plugin pluginhost.Status `json:"plugin"`
	Info   pluginhost.Info   `json:"info"`
}

// Backends reports each configured backend's plugin state.
func (b *Bridge) Backends() []BackendStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []BackendStatus
	for _, bc := range b.cfg.Backends {
		id := store.BackendID{Type: bc.Type, Name: bc.Name}
		be := b.backends[id]
		if be == nil {
			continue
		}
		out = append(out, BackendStatus{ID: id, Name: id.String(), Plugin: be.sup.Status(), Info: b.plugins[bc.Type]})
	}
	return out
}

// Ready reports whether the store answers and every backend's plugin runs.
func (b *Bridge) Ready(ctx context.Context) error {
	if err := b.store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	for _, s := range b.Backends() {
		if !s.Plugin.Running {
			return fmt.Errorf("backend %s: plugin not running: %s", s.Name, s.Plugin.LastError)
		}
	}
	return nil
}

// WaitReady waits until Ready succeeds or ctx ends.
func (b *Bridge) WaitReady(ctx context.Context) error {
	for {
		err := b.Ready(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Addr returns the bound address of "ingress" or "admin".
func (b *Bridge) Addr(name string) string { return b.addrs[name] }

func (b *Bridge) listen(cfg *config.Config) error {
	s := cfg.Server
	for _, l := range []struct {
		name, addr string
		h          http.Handler
		tls        *config.TLS
	}{
		{"ingress", s.Listen, b.ingest, s.TLS},
		{"admin", s.AdminListen, b.adminHandler(), s.AdminTLS},
	} {
		srv := &http.Server{
			Handler:           l.h,
			ReadHeaderTimeout: s.ReadTimeout,
			ReadTimeout:       s.ReadTimeout,
			WriteTimeout:      s.WriteTimeout,
			IdleTimeout:       s.IdleTimeout,
			ErrorLog:          b.logger.Named(l.name).StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
		}
		if l.tls != nil {
			src, err := certfile.New(l.tls.CertFile, l.tls.KeyFile, b.logger.Named(l.name))
			if err != nil {
				return fmt.Errorf("%s TLS: %w", l.name, err)
			}
			b.certs[l.name] = src
			srv.TLSConfig = &tls.Config{GetCertificate: src.GetCertificate, MinVersion: l.tls.MinVersion}
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			return fmt.Errorf("listening for %s on %s: %w", l.name, l.addr, err)
		}
		b.addrs[l.name] = ln.Addr().String()
		b.servers = append(b.servers, srv)
		b.serveWG.Add(1)
		go func() {
			defer b.serveWG.Done()
			var err error
			if srv.TLSConfig != nil {
				err = srv.ServeTLS(ln, "", "") // certificates from TLSConfig.GetCertificate
			} else {
				err = srv.Serve(ln)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				b.logger.Error("server stopped", "server", l.name, "error", err)
			}
		}()
	}
	return nil
}

// Shutdown stops accepting alerts, lets in-flight deliveries finish within
// ctx's deadline (then releases them for the next start), stops the plugins
// and closes the store.
func (b *Bridge) Shutdown(ctx context.Context) {
	for _, s := range b.servers {
		_ = s.Shutdown(ctx)
	}
	b.serveWG.Wait()
	b.closeAll(ctx)
}

func (b *Bridge) closeAll(ctx context.Context) {
	b.setRetention(0)
	if b.disp != nil {
		b.disp.Close(ctx)
	}
	b.mu.Lock()
	backends, verifiers := b.backends, b.verify
	b.backends, b.verify = nil, nil
	b.mu.Unlock()
	for _, be := range backends {
		be.sup.Close()
	}
	closeVerifiers(verifiers)
	b.keySets.Close()
	if b.store != nil {
		_ = b.store.Close()
	}
}
