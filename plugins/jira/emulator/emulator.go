package emulator

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"
)

// Options configures an Emulator. The zero value is usable.
type Options struct {
	// Username, Email and APIToken are the Basic credentials of the one agent
	// account (defaults "sandbox", "sandbox@example.com", "sandbox"). Basic
	// auth accepts either the username or the email with the API token.
	Username string
	Email    string
	APIToken string
	// BearerTokens are accepted as `Authorization: Bearer` (Data Center PATs,
	// OAuth access tokens). Default: ["sandbox"].
	BearerTokens []string
	// SearchLag is how long a write stays invisible to JQL search, as Jira
	// Cloud's index lags behind the database. Zero means read-after-write.
	SearchLag time.Duration
	// RateLimit, when positive, is a token-bucket limit in requests per
	// second over all vendor endpoints (burst RateBurst, default 10). Excess
	// requests get 429 with Retry-After and X-RateLimit-* headers.
	RateLimit float64
	RateBurst int
	// MaxCalls bounds the call log (default 10000, oldest dropped).
	MaxCalls int
	// Logger receives one debug line per request. Default: a null logger.
	Logger hclog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Fault is an injected failure. Requests whose path starts with PathPrefix
// (all vendor paths when empty) fail with Status; Count limits how many
// requests fail (0 = unlimited) and Rate (0..1, 0 = always) makes the fault
// probabilistic. LatencyMS delays matching requests (with or without a
// Status). RetryAfterSeconds sets Retry-After on the failure.
type Fault struct {
	Status            int     `json:"status"`
	Count             int     `json:"count,omitempty"`
	Rate              float64 `json:"rate,omitempty"`
	RetryAfterSeconds int     `json:"retry_after_seconds,omitempty"`
	LatencyMS         int     `json:"latency_ms,omitempty"`
	PathPrefix        string  `json:"path_prefix,omitempty"`
}

// Call is one entry of the call log.
type Call struct {
	Time        time.Time `json:"time"`
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	Query       string    `json:"query,omitempty"`
	Status      int       `json:"status"`
	RequestBody string    `json:"request_body,omitempty"`
}

// Emulator is an in-memory Jira Cloud + JSM + Assets. It is an http.Handler
// meant to be served at the root of its own address, and is safe for
// concurrent use.
type Emulator struct {
	opts   Options
	log    hclog.Logger
	now    func() time.Time
	mux    *http.ServeMux
	bearer map[string]bool

	mu            sync.Mutex
	searchLag     time.Duration
	faults        []*Fault
	calls         []Call
	limiter       *rate.Limiter
	statuses      map[string]*status
	issueTypes    map[string]*issueType
	projects      map[string]*project
	priorities    []priority
	resolutions   []resolution
	fields        []*field
	requestTypes  []*requestType
	users         map[string]*user
	issues        map[string]*issue // by key
	issuesByID    map[int]*issue
	index         map[int][]snapshot // search index per issue id
	nextIssueID   int
	nextCommentID int
	schemas       []objectSchema
	objectTypes   map[string]*objectType
	objects       map[string]*assetObject
	nextObjectID  int
}

// DefaultAccountID is the account id of the seeded agent account.
const DefaultAccountID = "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"

// New returns a seeded emulator.
func New(opts Options) *Emulator {
	if opts.Username == "" {
		opts.Username = "sandbox"
	}
	if opts.Email == "" {
		opts.Email = "sandbox@example.com"
	}
	if opts.APIToken == "" {
		opts.APIToken = "sandbox"
	}
	if opts.BearerTokens == nil {
		opts.BearerTokens = []string{"sandbox"}
	}
	if opts.RateBurst <= 0 {
		opts.RateBurst = 10
	}
	if opts.MaxCalls <= 0 {
		opts.MaxCalls = 10000
	}
	e := &Emulator{opts: opts, log: opts.Logger, now: opts.Now, bearer: map[string]bool{}, searchLag: opts.SearchLag}
	if e.log == nil {
		e.log = hclog.NewNullLogger()
	}
	if e.now == nil {
		e.now = time.Now
	}
	for _, t := range opts.BearerTokens {
		e.bearer[t] = true
	}
	if opts.RateLimit > 0 {
		e.limiter = rate.NewLimiter(rate.Limit(opts.RateLimit), opts.RateBurst)
	}
	e.mu.Lock()
	e.seed()
	e.mu.Unlock()
	e.routes()
	return e
}

// agent returns the seeded user record (lock held).
func (e *Emulator) agent() *user {
	u := e.users[DefaultAccountID]
	if u == nil {
		u = &user{AccountID: DefaultAccountID, Name: e.opts.Username, Email: e.opts.Email,
			DisplayName: "Sandbox Agent", APIToken: e.opts.APIToken, Properties: map[string]json.RawMessage{}}
		e.users[DefaultAccountID] = u
	}
	return u
}

// call carries one request through a handler.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	base string // scheme://host of this emulator, for self links
	user *user
}

// api tells which error body format a path uses.
type api int

const (
	apiPlatform api = iota
	apiJSM
	apiAssets
)

func apiOf(path string) api {
	switch {
	case strings.HasPrefix(path, "/rest/servicedeskapi/"):
		return apiJSM
	case strings.HasPrefix(path, "/jsm/assets/"):
		return apiAssets
	}
	return apiPlatform
}

// recorder captures the status for the call log.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

const maxBody = 1 << 20

// ServeHTTP implements http.Handler.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emulator/") {
		e.control(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		writePlatformError(w, http.StatusRequestEntityTooLarge, []string{"The request body is too large or unreadable."}, nil)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &recorder{ResponseWriter: w}
	defer func() {
		e.logCall(r, body, rec.status)
	}()
	if e.applyFaults(rec, r) {
		return
	}
	if e.limiter != nil && !e.limiter.Allow() {
		e.writeRateLimited(rec, r.URL.Path, 1)
		return
	}
	u, ok := e.authenticate(r)
	if !ok {
		rec.Header().Set("WWW-Authenticate", `Basic realm="protected-area"`)
		writeAPIError(rec, apiOf(r.URL.Path), http.StatusUnauthorized,
			"You are not authenticated. Authentication required to perform this operation.", "sd.auth.required", nil)
		return
	}
	ctx := context.WithValue(r.Context(), userKey{}, u)
	e.mux.ServeHTTP(rec, r.WithContext(ctx))
}

type userKey struct{}

// authenticate checks Basic (username or email + API token) or Bearer.
func (e *Emulator) authenticate(r *http.Request) (*user, bool) {
	h := r.Header.Get("Authorization")
	scheme, cred, ok := strings.Cut(h, " ")
	if !ok {
		return nil, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	agent := e.agent()
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if err != nil {
			return nil, false
		}
		name, token, ok := strings.Cut(string(raw), ":")
		if !ok || token != agent.APIToken {
			return nil, false
		}
		if name == agent.Name || strings.EqualFold(name, agent.Email) {
			return agent, true
		}
	case "bearer":
		if e.bearer[strings.TrimSpace(cred)] {
			return agent, true
		}
	}
	return nil, false
}

// applyFaults runs the first matching fault; true when it answered.
func (e *Emulator) applyFaults(w http.ResponseWriter, r *http.Request) bool {
	e.mu.Lock()
	var hit *Fault
	for i, f := range e.faults {
		if f.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, f.PathPrefix) {
			continue
		}
		if f.Rate > 0 && f.Rate < 1 && rand.Float64() >= f.Rate {
			continue
		}
		cp := *f
		hit = &cp
		if f.Count > 0 {
			f.Count--
			if f.Count == 0 {
				e.faults = append(e.faults[:i:i], e.faults[i+1:]...)
			}
		}
		break
	}
	e.mu.Unlock()
	if hit == nil {
		return false
	}
	if hit.LatencyMS > 0 {
		t := time.NewTimer(time.Duration(hit.LatencyMS) * time.Millisecond)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if hit.Status == 0 {
		return false
	}
	if hit.Status == http.StatusTooManyRequests {
		e.writeRateLimited(w, r.URL.Path, hit.RetryAfterSeconds)
		return true
	}
	if hit.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(hit.RetryAfterSeconds))
	}
	writeAPIError(w, apiOf(r.URL.Path), hit.Status, "Injected fault: "+http.StatusText(hit.Status), "sd.emulator.fault", nil)
	return true
}

// writeRateLimited answers 429 with Jira Cloud's rate-limit headers.
func (e *Emulator) writeRateLimited(w http.ResponseWriter, path string, retryAfter int) {
	h := w.Header()
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(retryAfter))
	}
	h.Set("X-RateLimit-Limit", "100")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-NearLimit", "true")
	// Jira writes the reset time to the minute: round up so it is not in the past.
	reset := e.now().Add(time.Duration(max(retryAfter, 1)) * time.Second).UTC()
	if t := reset.Truncate(time.Minute); t.Before(reset) {
		reset = t.Add(time.Minute)
	}
	h.Set("X-RateLimit-Reset", reset.Format("2006-01-02T15:04Z"))
	h.Set("RateLimit-Reason", "jira-burst-based")
	writeAPIError(w, apiOf(path), http.StatusTooManyRequests, "Rate limit exceeded.", "sd.rate.limit", nil)
}

func (e *Emulator) logCall(r *http.Request, body []byte, status int) {
	c := Call{Time: e.now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status}
	if len(body) > 0 {
		const max = 64 << 10
		if len(body) > max {
			body = body[:max]
		}
		c.RequestBody = string(body)
	}
	e.log.Debug("request", "method", c.Method, "path", c.Path, "status", status)
	e.mu.Lock()
	e.calls = append(e.calls, c)
	if over := len(e.calls) - e.opts.MaxCalls; over > 0 {
		e.calls = append([]Call(nil), e.calls[over:]...)
	}
	e.mu.Unlock()
}

// handle adapts a handler to the mux.
func (e *Emulator) handle(pattern string, h func(*call)) {
	e.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		u, _ := r.Context().Value(userKey{}).(*user)
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		h(&call{w: w, r: r, base: scheme + "://" + r.Host, user: u})
	})
}

func (e *Emulator) routes() {
	e.mux = http.NewServeMux()
	// Platform.
	e.handle("GET /rest/api/3/myself", e.getMyself)
	e.handle("GET /rest/api/3/serverInfo", e.getServerInfo)
	e.handle("GET /rest/api/3/project/{projectIdOrKey}", e.getProject)
	e.handle("GET /rest/api/3/field", e.getFields)
	e.handle("GET /rest/api/3/priority", e.getPriorities)
	e.handle("GET /rest/api/3/resolution", e.getResolutions)
	e.handle("POST /rest/api/3/issue", e.createIssue)
	e.handle("GET /rest/api/3/issue/{issueIdOrKey}", e.getIssue)
	e.handle("PUT /rest/api/3/issue/{issueIdOrKey}", e.editIssue)
	e.handle("GET /rest/api/3/issue/{issueIdOrKey}/transitions", e.getTransitions)
	e.handle("POST /rest/api/3/issue/{issueIdOrKey}/transitions", e.doTransition)
	e.handle("GET /rest/api/3/issue/{issueIdOrKey}/comment", e.getComments)
	e.handle("POST /rest/api/3/issue/{issueIdOrKey}/comment", e.addComment)
	e.handle("GET /rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}", e.getIssueProperty)
	e.handle("PUT /rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}", e.setIssueProperty)
	e.handle("DELETE /rest/api/3/issue/{issueIdOrKey}/properties/{propertyKey}", e.deleteIssueProperty)
	e.handle("GET /rest/api/3/user/properties/{propertyKey}", e.getUserProperty)
	e.handle("PUT /rest/api/3/user/properties/{propertyKey}", e.setUserProperty)
	e.handle("DELETE /rest/api/3/user/properties/{propertyKey}", e.deleteUserProperty)
	e.handle("POST /rest/api/3/search/jql", e.searchJQL)
	e.handle("GET /rest/api/3/search", e.searchRemoved)
	e.handle("POST /rest/api/3/search", e.searchRemoved)
	// JSM.
	e.handle("GET /rest/servicedeskapi/servicedesk", e.getServiceDesks)
	e.handle("GET /rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype", e.getRequestTypes)
	e.handle("GET /rest/servicedeskapi/servicedesk/{serviceDeskId}/requesttype/{requestTypeId}/field", e.getRequestTypeFields)
	e.handle("POST /rest/servicedeskapi/request", e.createRequest)
	e.handle("GET /rest/servicedeskapi/request/{issueIdOrKey}", e.getRequest)
	e.handle("POST /rest/servicedeskapi/request/{issueIdOrKey}/comment", e.addRequestComment)
	e.handle("GET /rest/servicedeskapi/request/{issueIdOrKey}/transition", e.getCustomerTransitions)
	e.handle("POST /rest/servicedeskapi/request/{issueIdOrKey}/transition", e.doCustomerTransition)
	e.handle("GET /rest/servicedeskapi/assets/workspace", e.getAssetsWorkspaces)
	// Assets.
	const a = "/jsm/assets/workspace/{workspaceId}/v1"
	e.handle("GET "+a+"/objectschema/list", e.listObjectSchemas)
	e.handle("GET "+a+"/objectschema/{id}/objecttypes/flat", e.listObjectTypes)
	e.handle("GET "+a+"/objecttype/{id}/attributes", e.listObjectTypeAttributes)
	e.handle("POST "+a+"/object/aql", e.searchAQL)
	e.handle("POST "+a+"/object/create", e.createObject)
	e.handle("GET "+a+"/object/{id}", e.getObject)
	e.handle("PUT "+a+"/object/{id}", e.updateObject)
	e.handle("GET "+a+"/objectconnectedtickets/{objectId}/tickets", e.getConnectedTickets)
	// Anything else: Jira's 404.
	e.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAPIError(w, apiOf(r.URL.Path), http.StatusNotFound, "No resource found for "+r.Method+" "+r.URL.Path, "sd.resource.notfound", nil)
	})
}
