package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/vendorhttp"
)

// Version is the plugin's semver.
const Version = "0.1.0"

// Plugin is the ServiceNow backend. The zero value is not usable; call New.
type Plugin struct {
	log hclog.Logger // nil: hclog.Default() at call time (sdk.Serve sets it up after New)

	// transport overrides the HTTP transport (tests); nil uses the default.
	transport http.RoundTripper
	// now is the clock of the OAuth token source (tests).
	now func() time.Time

	mu sync.RWMutex
	st *state
}

// state is everything Configure derives from a config.
type state struct {
	cfg        config
	client     *snClient
	base       string // instance URL without trailing slash
	closeNotes *template.Template
	log        hclog.Logger

	// defaults resolved to sys_ids at Configure time.
	assignmentGroup, caller string

	refMu sync.Mutex
	refs  map[string]string // "table/display value" → sys_id
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
func (p *Plugin) Info() sdk.Info { return sdk.Info{Name: "servicenow", Version: Version} }

// Schema implements sdk.Plugin.
func (p *Plugin) Schema() sdk.Schema { return schema() }

// ValidateConfig implements sdk.ConfigValidator: offline checks only.
func (p *Plugin) ValidateConfig(_ context.Context, raw sdk.Config) sdk.Diagnostics {
	cfg, err := decodeConfig(raw)
	if err != nil {
		return sdk.Diagnostics{sdk.ErrorDiag("cannot decode config", err.Error())}
	}
	return cfg.check()
}

// Configure implements sdk.Plugin: it validates the config, checks the
// credentials and the table against the instance and resolves the default
// assignment group and caller to sys_ids.
func (p *Plugin) Configure(ctx context.Context, req *sdk.ConfigureRequest) sdk.Diagnostics {
	cfg, err := decodeConfig(req.Config)
	if err != nil {
		return sdk.Diagnostics{sdk.ErrorDiag("cannot decode config", err.Error())}
	}
	if d := cfg.check(); d.HasErrors() {
		return d
	}
	st, diags := p.newState(cfg, req.Backend)
	if diags.HasErrors() {
		return diags
	}
	if d := st.probe(ctx); d.HasErrors() {
		return d
	}
	p.mu.Lock()
	p.st = st
	p.mu.Unlock()
	st.log.Info("configured", "instance", st.base, "table", cfg.Table, "oauth", cfg.OAuth != nil)
	return nil
}

func (p *Plugin) newState(cfg config, backend string) (*state, sdk.Diagnostics) {
	timeout, _ := time.ParseDuration(cfg.Timeout)
	base := strings.TrimRight(cfg.InstanceURL, "/")
	secrets := []string{cfg.Password}
	if cfg.OAuth != nil {
		secrets = append(secrets, cfg.OAuth.ClientSecret)
	}
	tr := p.transport
	if tr == nil {
		// The default keeps 2 idle connections per host; the host runs up to
		// max_concurrency calls at once, so keep enough to avoid reconnects.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		tr = t
	}
	opts := vendorhttp.Options{
		BaseURL: base, Timeout: timeout, UserAgent: "itsmbridge-plugin-servicenow/" + Version,
		Transport: tr, Secrets: secrets,
	}
	client := &snClient{}
	if cfg.OAuth == nil {
		user, pass := cfg.Username, cfg.Password
		opts.Authorize = func(_ context.Context, r *http.Request) error {
			r.SetBasicAuth(user, pass)
			return nil
		}
	} else {
		tokenURL := cfg.OAuth.TokenURL
		if tokenURL == "" {
			tokenURL = base + "/oauth_token.do"
		}
		ts := newTokenSource(vendorhttp.New(opts), tokenURL, &cfg)
		if p.now != nil {
			ts.now = p.now
		}
		client.tokens = ts
		opts.Authorize = func(ctx context.Context, r *http.Request) error {
			tok, err := ts.token(ctx)
			if err != nil {
				return err
			}
			r.Header.Set("Authorization", "Bearer "+tok)
			return nil
		}
	}
	client.http = vendorhttp.New(opts)
	tmpl, err := template.New("close_notes").Option("missingkey=zero").Parse(cfg.CloseNotes)
	if err != nil {
		return nil, sdk.Diagnostics{sdk.ErrorDiag("invalid close_notes template", err.Error(), "close_notes")}
	}
	log := p.logger() // sdk.Serve names the default logger after the plugin
	if backend != "" {
		log = log.With("backend", backend)
	}
	return &state{cfg: cfg, client: client, base: base, closeNotes: tmpl, log: log, refs: map[string]string{}}, nil
}

// probe checks the instance: credentials, table, correlation field and the
// default references.
func (st *state) probe(ctx context.Context) sdk.Diagnostics {
	cf := st.cfg.CorrelationField
	q := url.Values{
		"sysparm_limit":                  {"1"},
		"sysparm_fields":                 {"sys_id," + cf},
		"sysparm_exclude_reference_link": {"true"},
		"sysparm_no_count":               {"true"},
	}
	var res struct {
		Result []map[string]any `json:"result"`
	}
	if err := st.client.call(ctx, http.MethodGet, st.tablePath(""), q, nil, &res); err != nil {
		return sdk.Diagnostics{st.probeDiag(err)}
	}
	// sysparm_fields silently drops unknown fields: a returned row without
	// the correlation field means the table does not have it, and every
	// dedup query on it would match any incident.
	if len(res.Result) > 0 {
		if _, ok := res.Result[0][cf]; !ok {
			return sdk.Diagnostics{sdk.ErrorDiag("unknown correlation_field",
				fmt.Sprintf("Table %s has no field %q. ServiceNow ignores unknown fields in queries, so deduplication would match every incident.", st.cfg.Table, cf),
				"correlation_field")}
		}
	}
	var d sdk.Diagnostics
	var err error
	if st.cfg.AssignmentGroup != "" {
		if st.assignmentGroup, err = st.resolveRef(ctx, "assignment_group", st.cfg.AssignmentGroup); err != nil {
			d = append(d, sdk.ErrorDiag("cannot resolve assignment_group", err.Error(), "assignment_group"))
		}
	}
	if st.cfg.CallerID != "" {
		if st.caller, err = st.resolveRef(ctx, "caller_id", st.cfg.CallerID); err != nil {
			d = append(d, sdk.ErrorDiag("cannot resolve caller_id", err.Error(), "caller_id"))
		}
	}
	return d
}

// probeDiag turns a failed probe into a diagnostic on the likely attribute.
func (st *state) probeDiag(err error) sdk.Diagnostic {
	code := vendorhttp.StatusCode(err)
	authPath := []string{"password"}
	if st.cfg.OAuth != nil {
		authPath = []string{"oauth"}
		if code == 0 && !sdk.IsRetryable(err) {
			code = http.StatusUnauthorized // a rejected token request
		}
	}
	switch {
	case code == http.StatusUnauthorized:
		return sdk.ErrorDiag("ServiceNow rejected the credentials", err.Error(), authPath...)
	case code == http.StatusForbidden:
		return sdk.ErrorDiag("the user may not read the table (needs role itil)", err.Error(), "username")
	case code == http.StatusBadRequest || code == http.StatusNotFound:
		return sdk.ErrorDiag("ServiceNow rejected the table", err.Error(), "table")
	default:
		return sdk.ErrorDiag("cannot reach the ServiceNow instance", err.Error(), "instance_url")
	}
}

// current returns the configured state or a permanent error.
func (p *Plugin) current() (*state, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.st == nil {
		return nil, sdk.Permanent(errors.New("servicenow: plugin is not configured"))
	}
	return p.st, nil
}

// Health implements sdk.HealthChecker: one cheap authenticated read.
func (p *Plugin) Health(ctx context.Context) error {
	st, err := p.current()
	if err != nil {
		return err
	}
	q := url.Values{"sysparm_limit": {"1"}, "sysparm_fields": {"sys_id"}, "sysparm_no_count": {"true"}}
	return st.client.call(ctx, http.MethodGet, st.tablePath(""), q, nil, nil)
}

// tablePath is /api/now/table/<table>[/<sys_id>].
func (st *state) tablePath(id string) string {
	return tablePath(st.cfg.Table, id)
}

func tablePath(table, id string) string {
	p := "/api/now/table/" + table
	if id != "" {
		p += "/" + url.PathEscape(id)
	}
	return p
}
