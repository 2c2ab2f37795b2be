package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// Version is the plugin's semver.
const Version = "0.1.0"

// Plugin is the Jira Cloud / Jira Service Management backend. The zero value
// is not usable; call New.
type Plugin struct {
	log hclog.Logger // nil: hclog.Default() at call time (sdk.Serve sets it up after New)

	// transport overrides the HTTP transport (tests); nil uses the default.
	transport http.RoundTripper
	// now is the clock of the dedup ledger (tests); nil is time.Now.
	now func() time.Time

	mu sync.RWMutex
	st *state
}

// Interface guards: every optional capability is implemented.
var (
	_ sdk.Plugin          = (*Plugin)(nil)
	_ sdk.Reopener        = (*Plugin)(nil)
	_ sdk.Commenter       = (*Plugin)(nil)
	_ sdk.CIBinder        = (*Plugin)(nil)
	_ sdk.Finder          = (*Plugin)(nil)
	_ sdk.HealthChecker   = (*Plugin)(nil)
	_ sdk.ConfigValidator = (*Plugin)(nil)
)

// New returns an unconfigured plugin that logs through hclog.Default().
func New() *Plugin { return &Plugin{} }

// NewWithLogger returns an unconfigured plugin logging to log.
func NewWithLogger(log hclog.Logger) *Plugin { return &Plugin{log: log} }

func (p *Plugin) logger() hclog.Logger {
	if p.log != nil {
		return p.log
	}
	return hclog.Default()
}

// Info implements sdk.Plugin.
func (p *Plugin) Info() sdk.Info { return sdk.Info{Name: "jira", Version: Version} }

// Schema implements sdk.Plugin.
func (p *Plugin) Schema() sdk.Schema { return schema() }

// decode decodes cfg over the defaults and runs the offline checks.
func decode(cfg sdk.Config) (config, sdk.Diagnostics) {
	c := defaultConfig()
	if err := cfg.Decode(&c); err != nil {
		return c, sdk.Diagnostics{sdk.ErrorDiag("invalid config", err.Error())}
	}
	if c.Correlation.Type == "" {
		c.Correlation.Type = corrLabel
	}
	if c.Correlation.Property == "" {
		c.Correlation.Property = defaultProperty
	}
	return c, c.validate()
}

// ValidateConfig implements sdk.ConfigValidator: offline checks only.
func (p *Plugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	_, d := decode(cfg)
	return d
}

// Configure implements sdk.Plugin. It checks the credentials and the project
// against the site and resolves every name (request type, issue type,
// fields, priorities, Assets object type) to its id.
func (p *Plugin) Configure(ctx context.Context, req *sdk.ConfigureRequest) sdk.Diagnostics {
	c, diags := decode(req.Config)
	if diags.HasErrors() {
		return diags
	}
	now := p.now
	if now == nil {
		now = time.Now
	}
	st := &state{
		cfg:    c,
		client: newClient(&c, p.transport),
		log:    p.logger().With("backend", req.Backend),
		base:   strings.TrimSuffix(c.URL, "/"),
		now:    now,
		keys:   newKeyLocks(),
		recent: newRecent(recentTTL),
	}
	st.searchLag, _ = time.ParseDuration(c.SearchLag)
	diags = append(diags, st.discover(ctx)...)
	if diags.HasErrors() {
		return diags
	}
	p.mu.Lock()
	p.st = st
	p.mu.Unlock()
	st.log.Info("configured", "url", st.base, "project", c.Project, "mode", st.mode,
		"correlation", c.Correlation.Type, "assets", st.assetsErr == nil)
	return diags
}

// errNotConfigured is returned by operations before a successful Configure.
var errNotConfigured = errors.New("jira plugin is not configured")

func (p *Plugin) state() (*state, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.st == nil {
		return nil, sdk.Permanent(errNotConfigured)
	}
	return p.st, nil
}

// Health implements sdk.HealthChecker: the credentials still work.
func (p *Plugin) Health(ctx context.Context) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	var me struct {
		AccountID string `json:"accountId"`
	}
	if err := st.client.do(ctx, "health check", http.MethodGet, "/rest/api/3/myself", nil, nil, &me); err != nil {
		return err
	}
	if me.AccountID == "" {
		return sdk.Retryable(fmt.Errorf("health check: /rest/api/3/myself returned no account"), 0)
	}
	return nil
}
