package emulator

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// DefaultCloseCodes is the close-code choice list of current releases (after
// the "Incident Management best practice" plugin).
var DefaultCloseCodes = []string{
	"Duplicate", "Known error", "No resolution provided", "Resolved by caller", "Resolved by change",
	"Resolved by problem", "Resolved by request", "Solution provided", "Workaround provided", "User error",
}

// LegacyCloseCodes is the close-code list of older releases.
var LegacyCloseCodes = []string{
	"Solved (Work Around)", "Solved (Permanently)", "Solved Remotely (Work Around)", "Solved Remotely (Permanently)",
	"Not Solved (Not Reproducible)", "Not Solved (Too Costly)", "Closed/Resolved by Caller",
}

// User is an instance user that can authenticate with Basic auth or the OAuth
// password grant.
type User struct {
	UserName string
	Password string
	Name     string
	// Roles decide what the user may do: itil (incidents, task_ci, IRE),
	// asset (IRE), itil_admin or admin (close incidents, edit closed ones).
	Roles []string
}

// OAuthClient is an OAuth application registry entry (oauth_entity).
type OAuthClient struct {
	ID     string
	Secret string
	// User is the user_name the client_credentials grant runs as.
	User string
}

// RateRule is a sys_rate_limit_rules entry: at most Limit requests per user
// per Window to paths under PathPrefix.
type RateRule struct {
	Limit      int           `json:"limit"`
	Window     time.Duration `json:"-"`
	WindowSecs int           `json:"window_seconds"` // JSON form of Window
	// User limits the rule to one user_name; empty counts every user separately.
	User       string `json:"user"`
	PathPrefix string `json:"path_prefix"`
	// SysID is reported in X-RateLimit-Rule.
	SysID string `json:"sys_id"`
}

// Options configure an Emulator. The zero value is usable.
type Options struct {
	// Users default to one user sandbox/sandbox with role itil.
	Users []User
	// OAuthClients default to client id sandbox, secret sandbox, acting as the
	// first user for client_credentials.
	OAuthClients []OAuthClient
	// TokenTTL is the access-token lifetime (default 1799 s, ServiceNow's).
	TokenTTL time.Duration
	// CloseCodes is the close_code choice list (default DefaultCloseCodes).
	CloseCodes []string
	// InvalidQueryReturnsNoRows models glide.invalid_query.returns_no_rows=true:
	// a query naming an unknown field matches nothing instead of the field
	// being ignored (the default, and the dedup trap).
	InvalidQueryReturnsNoRows bool
	// RateLimit installs a per-user rate rule.
	RateLimit *RateRule
	// SeedDemo adds CIs matching the Azure sample alerts (test-VM, storage).
	SeedDemo bool
	// Logger defaults to a null logger.
	Logger hclog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// IncidentColumns are custom string columns of the incident table, as an
	// instance's administrators add them (u_environment, u_team, ...).
	// Writes to any other column the dictionary lacks are dropped, as on a
	// real instance.
	IncidentColumns []string
	// MaxCalls bounds the call log (default 10000, oldest dropped).
	// Bodies are kept, so a long-running sandbox stays bounded.
	MaxCalls int
}

// Call is one request in the call log.
type Call struct {
	Time        time.Time `json:"time"`
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	Query       string    `json:"query"`
	Status      int       `json:"status"`
	User        string    `json:"user"`
	ContentType string    `json:"content_type"`
	Accept      string    `json:"accept"`
	Body        string    `json:"body"`
}

// Fault is an injected failure. It affects requests whose path starts with
// PathPrefix (all when empty) and whose method equals Method (all when empty):
// the next Count of them when Count > 0, a Rate fraction of them when Rate > 0,
// otherwise every one until the faults are cleared.
type Fault struct {
	Status            int     `json:"status"`
	Count             int     `json:"count"`
	Rate              float64 `json:"rate"`
	RetryAfterSeconds int     `json:"retry_after_seconds"`
	LatencyMS         int     `json:"latency_ms"`
	PathPrefix        string  `json:"path_prefix"`
	Method            string  `json:"method"`
	// Drop closes the connection without a response (a network error).
	Drop bool `json:"drop"`
	// DropAfter processes the request, then closes the connection without
	// a response: the write happened but the client never hears of it (the
	// case idempotent creates exist for).
	DropAfter bool `json:"drop_after"`
	// Message overrides the error.message of the response body.
	Message string `json:"message"`
}

// record is one row; every value is a string, as ServiceNow returns them.
type record struct {
	class string
	v     map[string]string
	seq   int64 // insertion order
}

type token struct {
	access, refresh string
	user            string
	client          string
	expires         time.Time
}

type rateWindow struct {
	start time.Time
	count int
}

// Emulator is an in-memory ServiceNow instance. It implements http.Handler
// and must be served at the root of its own address. It is safe for
// concurrent use.
type Emulator struct {
	opts   Options
	log    hclog.Logger
	cat    catalog
	api    *http.ServeMux
	ctl    *http.ServeMux
	now    func() time.Time
	closed map[string]bool // close codes

	mu       sync.Mutex
	rows     map[string][]*record // root table → rows in insertion order
	byID     map[string]*record
	idx      map[string]map[string][]*record // indexed field → lower(value) → rows
	seq      int64
	counters map[string]int
	tokens   map[string]*token // access token → token
	refresh  map[string]*token // refresh token → token
	faults   []*Fault
	calls    []Call
	rule     *RateRule
	windows  map[string]*rateWindow
	rnd      *mrand.Rand
}

// New returns an emulator with the default users, groups and (optionally)
// demo CIs.
func New(opts Options) *Emulator {
	if len(opts.Users) == 0 {
		opts.Users = []User{{UserName: "sandbox", Password: "sandbox", Name: "Sandbox Integration", Roles: []string{"itil"}}}
	}
	if len(opts.OAuthClients) == 0 {
		opts.OAuthClients = []OAuthClient{{ID: "sandbox", Secret: "sandbox", User: opts.Users[0].UserName}}
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = 1799 * time.Second
	}
	if len(opts.CloseCodes) == 0 {
		opts.CloseCodes = DefaultCloseCodes
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxCalls <= 0 {
		opts.MaxCalls = 10000
	}
	e := &Emulator{
		opts: opts, log: opts.Logger, cat: newCatalog(), now: opts.Now,
		closed: map[string]bool{}, rnd: mrand.New(mrand.NewPCG(1, 2)),
	}
	e.cat["incident"].fields["close_code"] = closeCodeField(opts.CloseCodes)
	for _, name := range opts.IncidentColumns {
		e.cat["incident"].fields[name] = str(name)
	}
	for _, c := range opts.CloseCodes {
		e.closed[c] = true
	}
	e.routes()
	e.Reset()
	return e
}

// Reset drops every record, token, fault, rate window and call, and seeds the
// initial data again. The configured rate rule (Options.RateLimit) is restored.
func (e *Emulator) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rows = map[string][]*record{}
	e.byID = map[string]*record{}
	e.idx = map[string]map[string][]*record{}
	e.counters = map[string]int{}
	e.tokens = map[string]*token{}
	e.refresh = map[string]*token{}
	e.faults = nil
	e.calls = nil
	e.windows = map[string]*rateWindow{}
	e.rule = nil
	if e.opts.RateLimit != nil {
		r := normalizeRule(*e.opts.RateLimit)
		e.rule = &r
	}
	e.seedLocked()
}

func normalizeRule(r RateRule) RateRule {
	if r.Window <= 0 {
		r.Window = time.Duration(r.WindowSecs) * time.Second
	}
	if r.Window <= 0 {
		r.Window = time.Hour
	}
	r.WindowSecs = int(r.Window / time.Second)
	if r.SysID == "" {
		r.SysID = stableID("sys_rate_limit_rules", "default")
	}
	return r
}

// seedLocked inserts the users, groups and demo CIs.
func (e *Emulator) seedLocked() {
	for _, u := range e.opts.Users {
		first, last, _ := strings.Cut(u.Name, " ")
		e.insertSeedLocked("sys_user", stableID("sys_user", u.UserName), map[string]string{
			"user_name": u.UserName, "name": u.Name, "first_name": first, "last_name": last,
			"email": u.UserName + "@example.com", "active": "true", "roles": strings.Join(u.Roles, ","),
		})
	}
	for _, g := range []string{"Cloud Ops", "Service Desk", "Network", "Database"} {
		e.insertSeedLocked("sys_user_group", stableID("sys_user_group", g), map[string]string{"name": g, "active": "true"})
	}
	if e.opts.SeedDemo {
		for _, ci := range demoCIs {
			e.insertSeedLocked(ci.Class, stableID(ci.Class, ci.Values["object_id"]), ci.withDefaults())
		}
	}
}

// stableID is a deterministic 32-hex sys_id for seeded rows, so demos and
// docs can name them.
func stableID(table, key string) string {
	sum := md5.Sum([]byte(table + "/" + key))
	return hex.EncodeToString(sum[:])
}

// newSysID returns a random 32-hex sys_id.
func newSysID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// timeFormat is ServiceNow's glide_date_time format (the emulator's instance
// time zone is UTC).
const timeFormat = "2006-01-02 15:04:05"

func (e *Emulator) nowString() string { return e.now().UTC().Format(timeFormat) }

type ctxKey int

const userKey ctxKey = 0

func userFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey).(*User)
	return u
}

// statusWriter records the status code for the call log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

const maxBody = 4 << 20

// ServeHTTP serves the ServiceNow API and the /_emulator/ control surface.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emulator/") {
		e.ctl.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, "Exception while reading request", err.Error())
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	sw := &statusWriter{ResponseWriter: w}
	call := Call{
		Time: e.now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		ContentType: r.Header.Get("Content-Type"), Accept: r.Header.Get("Accept"), Body: string(body),
	}
	logged := false
	defer func() {
		if logged {
			return
		}
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		call.Status = sw.status
		e.logCall(call)
	}()
	// drop logs the call (status -1) before the client can see the
	// connection close, then closes it.
	drop := func() {
		call.Status = -1
		e.logCall(call)
		logged = true
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // aborts the response without writing one
	}

	f := e.pickFault(r)
	switch {
	case f != nil && f.DropAfter:
		// Serve into a discarding writer, then cut the connection.
		call.User = e.serveAPI(&statusWriter{ResponseWriter: &discardWriter{h: http.Header{}}}, r)
		drop()
		return
	case f != nil && f.Drop:
		e.delay(r, f)
		drop()
		return
	case f != nil:
		e.delay(r, f)
		if f.Status != 0 {
			e.writeFault(sw, f)
			return
		}
	}
	call.User = e.serveAPI(sw, r)
}

// serveAPI authenticates, rate-limits and serves one API request; it
// returns the authenticated user name.
func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) string {
	if r.URL.Path == "/oauth_token.do" {
		e.api.ServeHTTP(w, r)
		return ""
	}
	u, ok := e.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `BASIC realm="Service-now"`)
		writeError(w, http.StatusUnauthorized, "User Not Authenticated", "Required to provide Auth information")
		return ""
	}
	if e.checkRate(w, r, u) {
		e.api.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey, u)))
	}
	return u.UserName
}

// discardWriter swallows a response (DropAfter faults).
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}

func (e *Emulator) logCall(c Call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, c)
	// Trim in batches so a full log does not copy itself on every request.
	if len(e.calls) > e.opts.MaxCalls+e.opts.MaxCalls/4 {
		e.calls = append(e.calls[:0:0], e.calls[len(e.calls)-e.opts.MaxCalls:]...)
	}
}

// Calls returns a copy of the call log (control-surface requests excluded),
// at most Options.MaxCalls entries, oldest first.
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	calls := e.calls
	if len(calls) > e.opts.MaxCalls {
		calls = calls[len(calls)-e.opts.MaxCalls:]
	}
	return append([]Call(nil), calls...)
}

// ClearCalls empties the call log.
func (e *Emulator) ClearCalls() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = nil
}

// InjectFault adds a fault.
func (e *Emulator) InjectFault(f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, &f)
}

// ClearFaults removes every fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// SetRateRule installs (or with nil removes) the per-user rate rule and
// restarts its counting windows.
func (e *Emulator) SetRateRule(r *RateRule) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.windows = map[string]*rateWindow{}
	if r == nil {
		e.rule = nil
		return
	}
	n := normalizeRule(*r)
	e.rule = &n
}

// ExpireTokens makes every issued access token expired (refresh tokens stay
// valid), to exercise a client's 401 → refresh path.
func (e *Emulator) ExpireTokens() {
	e.mu.Lock()
	defer e.mu.Unlock()
	past := e.now().Add(-time.Second)
	for _, t := range e.tokens {
		t.expires = past
	}
}

func (e *Emulator) pickFault(r *http.Request) *Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, f := range e.faults {
		if f.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			continue
		}
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		if f.Rate > 0 && e.rnd.Float64() >= f.Rate {
			continue
		}
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				e.faults = append(e.faults[:i:i], e.faults[i+1:]...)
			}
		}
		cp := *f
		return &cp
	}
	return nil
}

// delay sleeps for the fault's latency (or until the client gives up).
func (e *Emulator) delay(r *http.Request, f *Fault) {
	if f.LatencyMS <= 0 {
		return
	}
	t := time.NewTimer(time.Duration(f.LatencyMS) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// writeFault answers with the fault's status and ServiceNow's error body.
func (e *Emulator) writeFault(w http.ResponseWriter, f *Fault) {
	if f.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(f.RetryAfterSeconds))
	}
	msg := f.Message
	if msg == "" {
		msg = http.StatusText(f.Status)
		if f.Status == http.StatusTooManyRequests {
			msg = "Rate limit exceeded"
		}
	}
	writeError(w, f.Status, msg, "injected fault")
}

// checkRate enforces the rate rule; it returns false after writing a 429.
func (e *Emulator) checkRate(w http.ResponseWriter, r *http.Request, u *User) bool {
	e.mu.Lock()
	rule := e.rule
	if rule == nil || (rule.User != "" && rule.User != u.UserName) ||
		(rule.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, rule.PathPrefix)) {
		e.mu.Unlock()
		return true
	}
	now := e.now()
	win := e.windows[u.UserName]
	if win == nil || !now.Before(win.start.Add(rule.Window)) {
		win = &rateWindow{start: now}
		e.windows[u.UserName] = win
	}
	reset := win.start.Add(rule.Window)
	allowed := win.count < rule.Limit
	if allowed {
		win.count++
	}
	e.mu.Unlock()

	h := w.Header()
	h.Set("X-RateLimit-Limit", fmt.Sprint(rule.Limit))
	h.Set("X-RateLimit-Reset", fmt.Sprint(reset.Unix()))
	h.Set("X-RateLimit-Rule", rule.SysID)
	if allowed {
		return true
	}
	secs := int(reset.Sub(now).Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	h.Set("Retry-After", fmt.Sprint(secs))
	writeError(w, http.StatusTooManyRequests, "Rate limit exceeded",
		fmt.Sprintf("Rate limit of %d requests per %s for %s exceeded", rule.Limit, windowName(rule.Window), ruleResource(rule)))
	return false
}

func windowName(d time.Duration) string {
	if d == time.Hour {
		return "hour"
	}
	return d.String()
}

func ruleResource(r *RateRule) string {
	if r.PathPrefix == "" || strings.HasPrefix(r.PathPrefix, "/api/now/table") {
		return "Table API"
	}
	return r.PathPrefix
}

// errorBody is ServiceNow's failure envelope.
type errorBody struct {
	Error struct {
		Message string `json:"message"`
		Detail  any    `json:"detail"`
	} `json:"error"`
	Status string `json:"status"`
}

func writeError(w http.ResponseWriter, status int, message, detail string) {
	var b errorBody
	b.Error.Message = message
	if detail != "" {
		b.Error.Detail = detail
	}
	b.Status = "failure"
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
