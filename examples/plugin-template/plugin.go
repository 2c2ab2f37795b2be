package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// Name is the plugin's type label: `backend "jsonl" "<name>" { ... }`.
const Name = "jsonl"

// Version is the plugin's own semver.
const Version = "0.1.0"

// Interface guards: the SDK derives the advertised capabilities from the
// interfaces the type implements, so these lines are the capability list.
var (
	_ sdk.Plugin        = (*Plugin)(nil)
	_ sdk.Reopener      = (*Plugin)(nil)
	_ sdk.Commenter     = (*Plugin)(nil)
	_ sdk.CIBinder      = (*Plugin)(nil)
	_ sdk.Finder        = (*Plugin)(nil)
	_ sdk.HealthChecker = (*Plugin)(nil)
)

// Plugin files incidents into a JSON-lines file. Methods are called
// concurrently; mu serialises file access within this process (one plugin
// process per backend; several processes must not share a file).
type Plugin struct {
	mu     sync.Mutex
	cfg    config
	ready  bool
	logger hclog.Logger
}

// New returns an unconfigured plugin.
func New() *Plugin { return &Plugin{logger: hclog.NewNullLogger()} }

// config is the decoded `config` block; json tags match Schema names.
type config struct {
	Path         string `json:"path"`
	NumberPrefix string `json:"number_prefix"`
}

// Info implements sdk.Plugin.
func (p *Plugin) Info() sdk.Info { return sdk.Info{Name: Name, Version: Version} }

// Schema implements sdk.Plugin. The host validates the user's HCL against it
// (types, required, unknown attributes) with file:line diagnostics before
// Configure runs.
func (p *Plugin) Schema() sdk.Schema {
	return sdk.Schema{
		Attributes: []sdk.Attribute{
			{Name: "path", Type: "string", Required: true,
				Description: "File the incidents are appended to, one JSON object per line. Its directory must exist."},
			{Name: "number_prefix", Type: "string", Default: `"TPL-"`,
				Description: "Prefix of the human ticket numbers (TPL-000001)."},
		},
		TicketFields: []sdk.Attribute{
			{Name: "assignee", Type: "string", Description: "Who the incident is assigned to."},
		},
	}
}

// Configure implements sdk.Plugin: it checks what the schema cannot (here,
// that the directory exists) and reports problems on the attribute's path.
func (p *Plugin) Configure(ctx context.Context, req *sdk.ConfigureRequest) sdk.Diagnostics {
	c := config{NumberPrefix: "TPL-"}
	if err := req.Config.Decode(&c); err != nil {
		return sdk.Diagnostics{sdk.ErrorDiag("Invalid configuration", err.Error())}
	}
	if c.Path == "" {
		return sdk.Diagnostics{sdk.ErrorDiag("Missing path", "path must name the JSON-lines file to write.", "path")}
	}
	if st, err := os.Stat(c.Path); err == nil && st.IsDir() {
		return sdk.Diagnostics{sdk.ErrorDiag("Invalid path", fmt.Sprintf("%s is a directory, not a file.", c.Path), "path")}
	}
	dir := filepath.Dir(c.Path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return sdk.Diagnostics{sdk.ErrorDiag("Invalid path", fmt.Sprintf("directory %s does not exist.", dir), "path")}
	}
	// sdk.Serve sets hclog's default to JSON on stderr, which the host reads.
	logger := hclog.Default().Named(Name)
	if req.Backend != "" {
		logger = logger.With("backend", req.Backend)
	}
	p.mu.Lock()
	p.cfg, p.ready, p.logger = c, true, logger
	p.mu.Unlock()
	logger.Info("configured", "path", c.Path)
	return nil
}

// event is one line of the file.
type event struct {
	Op        string `json:"op"` // create, resolve, reopen, comment, bind_ci
	ID        string `json:"id"`
	Number    string `json:"number,omitempty"`
	TicketKey string `json:"ticket_key,omitempty"`
	Title     string `json:"title,omitempty"`
	Body      string `json:"body,omitempty"`
	Severity  int    `json:"severity,omitempty"`
	Assignee  string `json:"assignee,omitempty"`
	AlertID   string `json:"alert_id,omitempty"`
	Text      string `json:"text,omitempty"`
	CI        string `json:"ci,omitempty"`
	Time      string `json:"time"`
}

// ticket is the folded state of one incident.
type ticket struct {
	ID, Number, Key, State string
}

// State values.
const (
	stateNew      = "new"
	stateResolved = "resolved"
	stateReopened = "reopened"
)

// Create implements sdk.Plugin. Idempotent on TicketKey: the file is
// searched for the key before anything is written, so a retry after a crash
// returns the ticket the first attempt made.
func (p *Plugin) Create(ctx context.Context, req *sdk.CreateRequest) (*sdk.TicketRef, error) {
	if req.TicketKey == "" {
		return nil, sdk.Permanentf("create: empty ticket key")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	cfg, err := p.configured()
	if err != nil {
		return nil, err
	}
	tickets, err := p.load(ctx, cfg)
	if err != nil {
		return nil, err
	}
	// Idempotent: an open ticket of the key is the one a retry must get
	// back. A resolved one is done with, and the key gets a new ticket.
	if t := openTicket(tickets, req.TicketKey); t != nil {
		return p.ref(cfg, t), nil
	}
	id, err := newID()
	if err != nil {
		return nil, sdk.Retryable(fmt.Errorf("create: %w", err), 0)
	}
	t := &ticket{ID: id, Number: fmt.Sprintf("%s%06d", cfg.NumberPrefix, len(tickets)+1), Key: req.TicketKey, State: stateNew}
	ev := event{
		Op: "create", ID: t.ID, Number: t.Number, TicketKey: t.Key,
		Title: req.Ticket.Title, Body: req.Ticket.Description, Severity: req.Ticket.Severity,
		Assignee: req.Ticket.Fields["assignee"], AlertID: req.Alert.ID,
	}
	if err := p.append(ctx, cfg, ev); err != nil {
		return nil, err
	}
	p.logger.Debug("created incident", "id", t.ID, "number", t.Number)
	return p.ref(cfg, t), nil
}

// Resolve implements sdk.Plugin. A resolved ticket stays as it is; an
// unknown ticket is a permanent error.
func (p *Plugin) Resolve(ctx context.Context, req *sdk.ResolveRequest) error {
	return p.transition(ctx, "resolve", req.Ref.ID, func(t *ticket) (*event, error) {
		if t.State == stateResolved {
			return nil, nil
		}
		return &event{Op: "resolve", ID: t.ID, AlertID: req.Alert.ID}, nil
	})
}

// Reopen implements sdk.Reopener. An open ticket stays as it is.
func (p *Plugin) Reopen(ctx context.Context, req *sdk.ReopenRequest) error {
	return p.transition(ctx, "reopen", req.Ref.ID, func(t *ticket) (*event, error) {
		if t.State != stateResolved {
			return nil, nil
		}
		return &event{Op: "reopen", ID: t.ID, AlertID: req.Alert.ID}, nil
	})
}

// Comment implements sdk.Commenter.
func (p *Plugin) Comment(ctx context.Context, req *sdk.CommentRequest) error {
	return p.transition(ctx, "comment", req.Ref.ID, func(t *ticket) (*event, error) {
		return &event{Op: "comment", ID: t.ID, Text: req.Text}, nil
	})
}

// BindCI implements sdk.CIBinder. A file has no CMDB: the CI is recorded on
// the ticket and identified by its Azure resource id (or name).
func (p *Plugin) BindCI(ctx context.Context, req *sdk.BindCIRequest) (*sdk.CIRef, error) {
	ciID := req.Item.ResourceID
	if ciID == "" {
		ciID = req.Item.Name
	}
	if ciID == "" {
		return nil, sdk.Permanentf("bind CI: item has neither resource id nor name")
	}
	err := p.transition(ctx, "bind CI", req.Ref.ID, func(t *ticket) (*event, error) {
		return &event{Op: "bind_ci", ID: t.ID, CI: ciID}, nil
	})
	if err != nil {
		return nil, err
	}
	return &sdk.CIRef{ID: ciID, Name: req.Item.Name, Class: req.Item.ResourceType}, nil
}

// Find implements sdk.Finder.
func (p *Plugin) Find(ctx context.Context, req *sdk.FindRequest) (*sdk.TicketRef, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cfg, err := p.configured()
	if err != nil {
		return nil, err
	}
	tickets, err := p.load(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if t := openTicket(tickets, req.TicketKey); t != nil {
		return p.ref(cfg, t), nil
	}
	return nil, nil
}

// openTicket is the unresolved ticket of key, or nil.
func openTicket(tickets []*ticket, key string) *ticket {
	for _, t := range tickets {
		if t.Key == key && t.State != stateResolved {
			return t
		}
	}
	return nil
}

// Health implements sdk.HealthChecker: the file's directory must still exist.
func (p *Plugin) Health(ctx context.Context) error {
	p.mu.Lock()
	cfg, err := p.configured()
	p.mu.Unlock()
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Dir(cfg.Path)); err != nil {
		return sdk.Retryable(fmt.Errorf("health: %w", err), 0)
	}
	return nil
}

// transition applies one event to an existing ticket; next returns nil when
// there is nothing to do.
func (p *Plugin) transition(ctx context.Context, op, id string, next func(*ticket) (*event, error)) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	cfg, err := p.configured()
	if err != nil {
		return err
	}
	tickets, err := p.load(ctx, cfg)
	if err != nil {
		return err
	}
	var t *ticket
	for _, x := range tickets {
		if x.ID == id {
			t = x
			break
		}
	}
	if t == nil {
		return sdk.Permanentf("%s: ticket %q not found", op, id)
	}
	ev, err := next(t)
	if err != nil || ev == nil {
		return err
	}
	return p.append(ctx, cfg, *ev)
}

func (p *Plugin) configured() (config, error) {
	if !p.ready {
		return config{}, sdk.Permanentf("plugin is not configured")
	}
	return p.cfg, nil
}

func (p *Plugin) ref(cfg config, t *ticket) *sdk.TicketRef {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(cfg.Path), Fragment: t.ID}
	return &sdk.TicketRef{ID: t.ID, Number: t.Number, URL: u.String(), State: t.State}
}

// load folds the file into tickets, in creation order. A missing file is
// empty. I/O errors are retryable (a full disk or a flaky mount recovers); a
// corrupt line is permanent (retrying will not fix it).
func (p *Plugin) load(ctx context.Context, cfg config) ([]*ticket, error) {
	if err := ctx.Err(); err != nil {
		return nil, sdk.Retryable(err, 0)
	}
	f, err := os.Open(cfg.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, sdk.Retryable(fmt.Errorf("open tickets: %w", err), 0)
	}
	defer f.Close()
	var order []*ticket
	byID := map[string]*ticket{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if line%1000 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, sdk.Retryable(err, 0)
			}
		}
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var ev event
		if err := json.Unmarshal(b, &ev); err != nil {
			return nil, sdk.Permanentf("%s:%d: corrupt line: %v", filepath.Base(cfg.Path), line, err)
		}
		switch ev.Op {
		case "create":
			t := &ticket{ID: ev.ID, Number: ev.Number, Key: ev.TicketKey, State: stateNew}
			byID[t.ID] = t
			order = append(order, t)
		case "resolve":
			if t := byID[ev.ID]; t != nil {
				t.State = stateResolved
			}
		case "reopen":
			if t := byID[ev.ID]; t != nil {
				t.State = stateReopened
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, sdk.Retryable(fmt.Errorf("read tickets: %w", err), 0)
	}
	return order, nil
}

// append writes one event as a single write, so a crash leaves either the
// whole line or nothing.
func (p *Plugin) append(ctx context.Context, cfg config, ev event) error {
	if err := ctx.Err(); err != nil {
		return sdk.Retryable(err, 0)
	}
	ev.Time = time.Now().UTC().Format(time.RFC3339Nano)
	b, err := json.Marshal(ev)
	if err != nil {
		return sdk.Permanent(fmt.Errorf("encode %s event: %w", ev.Op, err))
	}
	f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return sdk.Retryable(fmt.Errorf("open tickets: %w", err), 0)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return sdk.Retryable(fmt.Errorf("write %s event: %w", ev.Op, err), 0)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return sdk.Retryable(fmt.Errorf("sync tickets: %w", err), 0)
	}
	if err := f.Close(); err != nil {
		return sdk.Retryable(fmt.Errorf("close tickets: %w", err), 0)
	}
	return nil
}

func newID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "tpl-" + hex.EncodeToString(b[:]), nil
}
