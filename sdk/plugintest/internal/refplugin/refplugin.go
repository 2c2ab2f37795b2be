// Package refplugin is a well-behaved HTTP plugin for internal/refbackend,
// written the way a vendor plugin should be (vendorhttp, ctx everywhere,
// lookup-before-create), with switches that break one behaviour each. The
// conformance kit's own tests prove every check passes on the good plugin
// and fails on each broken one.
package refplugin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/vendorhttp"
)

// Faults breaks one behaviour each.
type Faults struct {
	NonIdempotentCreate bool // no lookup before create
	MemoryIdempotent    bool // dedupe in memory only (lost on restart)
	ResolveTwiceFails   bool // second resolve returns the vendor's 409
	UnknownRetryable    bool // unknown ticket on resolve → retryable
	LyingComment        bool // declares comment, answers "not implemented"
	LeakSecretInLog     bool // logs the password at INFO
	LeakSecretInError   bool // puts the password into error texts
	IgnoreCancel        bool // vendor calls ignore ctx
	AllPermanent        bool // every error permanent
	DropRetryAfter      bool // retryable without the vendor's Retry-After
	PanicOnEmptyConfig  bool // Configure dereferences a missing value
	AcceptEmptyURL      bool // no validation of a required attribute
	NoAttributePath     bool // diagnostics without attribute paths
	UndescribedSchema   bool // attribute without a description
	PasswordNotSecret   bool // password not Sensitive
	RequiredFamily      bool // a Required ticket field family ("x_*")
	FindsResolved       bool // Create's lookup returns resolved tickets too
	PrintStdout         bool // fmt.Println in Create
}

// Plugin is the reference plugin.
type Plugin struct {
	f Faults

	mu     sync.Mutex
	client *vendorhttp.Client
	cfg    config
	log    hclog.Logger
	memo   map[string]*sdk.TicketRef
}

type config struct {
	URL      string `json:"url"`
	Username string `json:"username"`
	Password string `json:"password"`
	Timeout  int    `json:"timeout_seconds"`
}

// New returns the plugin with faults f.
func New(f Faults) *Plugin { return &Plugin{f: f, memo: map[string]*sdk.TicketRef{}} }

var (
	_ sdk.Plugin        = (*Plugin)(nil)
	_ sdk.Reopener      = (*Plugin)(nil)
	_ sdk.Commenter     = (*Plugin)(nil)
	_ sdk.CIBinder      = (*Plugin)(nil)
	_ sdk.Finder        = (*Plugin)(nil)
	_ sdk.HealthChecker = (*Plugin)(nil)
)

// Info implements sdk.Plugin.
func (p *Plugin) Info() sdk.Info { return sdk.Info{Name: "ref", Version: "0.1.0"} }

// Schema implements sdk.Plugin.
func (p *Plugin) Schema() sdk.Schema {
	s := sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "url", Type: "string", Required: true, Description: "Base URL of the ticket API."},
		{Name: "username", Type: "string", Required: true, Description: "API user."},
		{Name: "password", Type: "string", Required: true, Sensitive: !p.f.PasswordNotSecret, Description: "API password."},
		{Name: "timeout_seconds", Type: "number", Default: "30", Description: "Per-request timeout."},
	}, TicketFields: []sdk.Attribute{
		{Name: "queue", Type: "string", Description: "Queue the ticket is filed in."},
		{Name: "x_*", Type: "string", Required: p.f.RequiredFamily, Description: "A custom field of the ticket API (x_ prefix)."},
	}}
	if p.f.UndescribedSchema {
		s.Attributes[1].Description = ""
	}
	return s
}

// Configure implements sdk.Plugin.
func (p *Plugin) Configure(ctx context.Context, req *sdk.ConfigureRequest) sdk.Diagnostics {
	var c config
	if p.f.PanicOnEmptyConfig {
		v, _ := req.Config.Value()
		_ = v.GetAttr("url").AsString() // panics on a null config
	}
	if err := req.Config.Decode(&c); err != nil {
		return sdk.Diagnostics{sdk.ErrorDiag("Invalid config", err.Error())}
	}
	path := func(p2 ...string) []string {
		if p.f.NoAttributePath {
			return nil
		}
		return p2
	}
	var diags sdk.Diagnostics
	if u, err := url.Parse(c.URL); !p.f.AcceptEmptyURL && (c.URL == "" || err != nil || u.Host == "") {
		diags = append(diags, sdk.ErrorDiag("Invalid url", "url must be an absolute http(s) URL", path("url")...))
	}
	if c.Username == "" {
		diags = append(diags, sdk.ErrorDiag("Missing username", "username must not be empty", path("username")...))
	}
	if c.Password == "" {
		diags = append(diags, sdk.ErrorDiag("Missing password", "password must not be empty", path("password")...))
	}
	if diags.HasErrors() {
		return diags
	}
	if c.Timeout <= 0 {
		c.Timeout = 30
	}
	log := hclog.Default().Named("ref")
	if p.f.LeakSecretInLog {
		log.Info("configured", "url", c.URL, "user", c.Username, "password", c.Password)
	} else {
		log.Info("configured", "url", c.URL, "user", c.Username)
	}
	client := vendorhttp.New(vendorhttp.Options{
		BaseURL: c.URL,
		Timeout: time.Duration(c.Timeout) * time.Second,
		Secrets: []string{c.Password},
	})
	p.mu.Lock()
	p.client, p.cfg, p.log = client, c, log
	p.mu.Unlock()
	// Check the credentials now so a wrong password is a config diagnostic.
	if err := p.call(ctx, http.MethodGet, "/api/health", nil, nil, nil); err != nil {
		if vendorhttp.StatusCode(err) == http.StatusUnauthorized {
			return sdk.Diagnostics{sdk.ErrorDiag("Authentication failed", p.errText(err), path("password")...)}
		}
		return sdk.Diagnostics{{Severity: sdk.SeverityWarning, Summary: "Backend not reachable yet", Detail: p.errText(err)}}
	}
	return nil
}

type ticketJSON struct {
	ID     string `json:"id"`
	Number string `json:"number"`
	Key    string `json:"key"`
	Title  string `json:"title"`
	State  string `json:"state"`
}

func (p *Plugin) ref(t ticketJSON) *sdk.TicketRef {
	p.mu.Lock()
	base := p.cfg.URL
	p.mu.Unlock()
	return &sdk.TicketRef{ID: t.ID, Number: t.Number, URL: base + "/tickets/" + t.ID, State: t.State}
}

// Create implements sdk.Plugin.
func (p *Plugin) Create(ctx context.Context, req *sdk.CreateRequest) (*sdk.TicketRef, error) {
	if p.f.PrintStdout {
		fmt.Println("creating ticket", req.TicketKey)
	}
	if p.f.MemoryIdempotent {
		p.mu.Lock()
		r := p.memo[req.TicketKey]
		p.mu.Unlock()
		if r != nil {
			return r, nil
		}
	} else if !p.f.NonIdempotentCreate {
		found, err := p.Find(ctx, &sdk.FindRequest{TicketKey: req.TicketKey})
		if err != nil || found != nil {
			return found, err
		}
	}
	var out struct {
		Result ticketJSON `json:"result"`
	}
	in := ticketJSON{Key: req.TicketKey, Title: req.Ticket.Title}
	if err := p.call(ctx, http.MethodPost, "/api/tickets", nil, in, &out); err != nil {
		return nil, err
	}
	r := p.ref(out.Result)
	if p.f.MemoryIdempotent {
		p.mu.Lock()
		p.memo[req.TicketKey] = r
		p.mu.Unlock()
	}
	return r, nil
}

// Find implements sdk.Finder: the open ticket of the key.
func (p *Plugin) Find(ctx context.Context, req *sdk.FindRequest) (*sdk.TicketRef, error) {
	var out struct {
		Result []ticketJSON `json:"result"`
	}
	if err := p.call(ctx, http.MethodGet, "/api/tickets", url.Values{"key": {req.TicketKey}}, nil, &out); err != nil {
		return nil, err
	}
	for _, t := range out.Result {
		if t.State != "resolved" || p.f.FindsResolved {
			return p.ref(t), nil
		}
	}
	return nil, nil
}

// Resolve implements sdk.Plugin.
func (p *Plugin) Resolve(ctx context.Context, req *sdk.ResolveRequest) error {
	err := p.call(ctx, http.MethodPost, "/api/tickets/"+url.PathEscape(req.Ref.ID)+"/resolve", nil, struct{}{}, nil)
	if vendorhttp.StatusCode(err) == http.StatusConflict && !p.f.ResolveTwiceFails {
		return nil // already resolved: nothing to do
	}
	if vendorhttp.StatusCode(err) == http.StatusNotFound && p.f.UnknownRetryable {
		return sdk.Retryable(err, 0)
	}
	return err
}

// Reopen implements sdk.Reopener.
func (p *Plugin) Reopen(ctx context.Context, req *sdk.ReopenRequest) error {
	return p.call(ctx, http.MethodPost, "/api/tickets/"+url.PathEscape(req.Ref.ID)+"/reopen", nil, struct{}{}, nil)
}

// Comment implements sdk.Commenter.
func (p *Plugin) Comment(ctx context.Context, req *sdk.CommentRequest) error {
	if p.f.LyingComment {
		return sdk.Permanent(fmt.Errorf("comment: %w", sdk.ErrNotImplemented))
	}
	return p.call(ctx, http.MethodPost, "/api/tickets/"+url.PathEscape(req.Ref.ID)+"/comment", nil, map[string]string{"text": req.Text}, nil)
}

// BindCI implements sdk.CIBinder.
func (p *Plugin) BindCI(ctx context.Context, req *sdk.BindCIRequest) (*sdk.CIRef, error) {
	var out struct {
		Result struct {
			ID string `json:"id"`
		} `json:"result"`
	}
	if err := p.call(ctx, http.MethodPost, "/api/tickets/"+url.PathEscape(req.Ref.ID)+"/ci", nil, map[string]string{"text": req.Item.Name}, &out); err != nil {
		return nil, err
	}
	return &sdk.CIRef{ID: out.Result.ID, Name: req.Item.Name}, nil
}

// Health implements sdk.HealthChecker.
func (p *Plugin) Health(ctx context.Context) error {
	return p.call(ctx, http.MethodGet, "/api/health", nil, nil, nil)
}

// call sends one API request, applying the configured faults to the result.
func (p *Plugin) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	p.mu.Lock()
	client, cfg := p.client, p.cfg
	p.mu.Unlock()
	if client == nil {
		return sdk.Permanentf("plugin not configured")
	}
	if p.f.IgnoreCancel {
		ctx = context.Background()
	}
	err := client.JSON(ctx, method, path, q, in, out, http.Header{"Authorization": {basicAuth(cfg.Username, cfg.Password)}})
	if err == nil {
		return nil
	}
	kind, after := sdk.Classify(err)
	inner := err
	var se *sdk.Error
	if errors.As(err, &se) && se.Err != nil {
		inner = se.Err
	}
	if p.f.AllPermanent {
		kind = sdk.KindPermanent
	}
	if p.f.DropRetryAfter {
		after = 0
	}
	if p.f.LeakSecretInError {
		inner = fmt.Errorf("%s %s as %s/%s: %w", method, path, cfg.Username, cfg.Password, inner)
	}
	if kind == sdk.KindRetryable {
		return sdk.Retryable(inner, after)
	}
	return sdk.Permanent(inner)
}

func (p *Plugin) errText(err error) string { return err.Error() }

func basicAuth(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "http://x", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}
