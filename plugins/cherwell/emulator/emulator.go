package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/hashicorp/go-hclog"
)

// Defaults for Options.
const (
	DefaultClientID      = "sandbox"
	DefaultUsername      = "sandbox"
	DefaultPassword      = "sandbox"
	DefaultCorrelation   = "CorrelationID"
	DefaultTokenLifetime = 20 * time.Minute
	DefaultRefreshLife   = 24 * time.Hour
	DefaultMaxCalls      = 10000
	maxRequestBody       = 8 << 20
	// BasePath is where CSM serves its REST API.
	BasePath = "/CherwellAPI"
)

// Options configures an Emulator. The zero value is usable.
type Options struct {
	// ClientID is the registered REST API client key. Default "sandbox".
	ClientID string
	// Username and Password are the accepted CSM login. Default sandbox/sandbox.
	Username string
	Password string
	// AuthModes are the accepted auth_mode values (case-insensitive).
	// Default: Internal only (the CSM default when auth_mode is absent).
	AuthModes []string
	// TokenLifetime is the access token lifespan. Default 20 minutes
	// (expires_in 1199, as CSM reports it).
	TokenLifetime time.Duration
	// RefreshTokenLifetime is the refresh token lifespan. Default 24 hours.
	RefreshTokenLifetime time.Duration
	// CorrelationField names the site-added Incident text field that holds
	// an external correlation key. Default "CorrelationID".
	CorrelationField string
	// ValidationStatus is the HTTP status of save responses that carry
	// hasError (field validation, record not found). Default 200: CSM
	// reports many failures with HTTP 200 and hasError=true.
	ValidationStatus int
	// MaxCalls bounds the call log (oldest entries are dropped). Default 10000.
	MaxCalls int
	// Logger receives debug logs. Default: discard.
	Logger hclog.Logger
	// Now is the clock (token expiry, timestamps). Default time.Now.
	Now func() time.Time
}

// Emulator is an in-memory CSM REST API. It implements http.Handler and is
// safe for concurrent use.
type Emulator struct {
	opts    Options
	log     hclog.Logger
	cat     *catalog
	handler http.Handler
	control http.Handler

	mu      sync.RWMutex // guards data, tokens, refresh, faults
	data    *dataStore
	tokens  map[string]*session // by access token
	refresh map[string]*session // by refresh token
	faults  []*faultState
	nFaults atomic.Int32 // len(faults), read without the lock on every request

	callMu sync.Mutex
	calls  []Call
}

// New returns an emulator with the seeded object model and no records.
func New(opts Options) *Emulator {
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.Username == "" {
		opts.Username = DefaultUsername
	}
	if opts.Password == "" {
		opts.Password = DefaultPassword
	}
	if len(opts.AuthModes) == 0 {
		opts.AuthModes = []string{"Internal"}
	}
	if opts.TokenLifetime <= 0 {
		opts.TokenLifetime = DefaultTokenLifetime
	}
	if opts.RefreshTokenLifetime <= 0 {
		opts.RefreshTokenLifetime = DefaultRefreshLife
	}
	if opts.CorrelationField == "" {
		opts.CorrelationField = DefaultCorrelation
	}
	if opts.ValidationStatus == 0 {
		opts.ValidationStatus = http.StatusOK
	}
	if opts.MaxCalls <= 0 {
		opts.MaxCalls = DefaultMaxCalls
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	e := &Emulator{
		opts:    opts,
		log:     opts.Logger,
		cat:     newCatalog(opts.CorrelationField),
		tokens:  map[string]*session{},
		refresh: map[string]*session{},
	}
	e.data = newDataStore()
	e.handler = e.vendorRoutes()
	e.control = e.controlRoutes()
	return e
}

func (e *Emulator) vendorRoutes() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.StripSlashes)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, apiMessage{Message: "No HTTP resource was found that matches the request URI '" + r.URL.Path + "'."})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusMethodNotAllowed, apiMessage{Message: "The requested resource does not support http method '" + r.Method + "'."})
	})
	r.Post(BasePath+"/token", e.handleToken)
	r.Route(BasePath+"/api/V1", func(r chi.Router) {
		r.Use(e.requireBearer)
		r.Get("/serviceinfo", e.handleServiceInfo)
		r.Delete("/logout", e.handleLogout)
		r.Get("/getbusinessobjectsummary/busobname/{name}", e.handleSummaryByName)
		r.Get("/getbusinessobjectsummary/busobid/{id}", e.handleSummaryByID)
		r.Get("/getbusinessobjectsummaries/type/{type}", e.handleSummaries)
		r.Get("/getbusinessobjectschema/busobid/{id}", e.handleSchema)
		r.Post("/getbusinessobjecttemplate", e.handleTemplate)
		r.Post("/savebusinessobject", e.handleSave)
		r.Get("/getbusinessobject/busobid/{id}/busobrecid/{rec}", e.handleGetByRecID)
		r.Get("/getbusinessobject/busobid/{id}/publicid/{pub}", e.handleGetByPublicID)
		r.Post("/getsearchresults", e.handleSearch)
		r.Post("/saverelatedbusinessobject", e.handleSaveRelated)
		r.Get("/getrelatedbusinessobject/parentbusobid/{pid}/parentbusobrecid/{prec}/relationshipid/{rel}", e.handleGetRelated)
		r.Post("/getrelatedbusinessobject", e.handleGetRelatedPost)
		r.Get("/linkrelatedbusinessobject/parentbusobid/{pid}/parentbusobrecid/{prec}/relationshipid/{rel}/busobid/{cid}/busobrecid/{crec}", e.handleLink)
		r.Delete("/unlinkrelatedbusinessobject/parentbusobid/{pid}/parentbusobrecid/{prec}/relationshipid/{rel}/busobid/{cid}/busobrecid/{crec}", e.handleUnlink)
	})
	return r
}

// ServeHTTP serves the vendor API and the /_emulator/ control surface.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_emulator/") || r.URL.Path == "/_emulator" {
		e.control.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil || len(body) > maxRequestBody {
		writeJSON(w, http.StatusRequestEntityTooLarge, apiMessage{Message: "The request is too large or could not be read."})
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}

	if f := e.matchFault(r.URL.Path); f != nil {
		if f.LatencyMS > 0 {
			t := time.NewTimer(time.Duration(f.LatencyMS) * time.Millisecond)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
		if f.Status != 0 {
			writeFault(rec, f)
			e.record(r, body, rec.status)
			return
		}
	}
	e.handler.ServeHTTP(rec, r)
	e.record(r, body, rec.status)
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// decodeBody decodes a JSON request body; on failure it writes the ASP.NET
// Web API 400 and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, apiMessage{Message: "The request is invalid: " + err.Error()})
		return false
	}
	return true
}

// param returns a decoded chi path parameter.
func param(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// Call is one vendor API request as the emulator saw it.
type Call struct {
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	Path   string    `json:"path"`
	Query  string    `json:"query"`
	Status int       `json:"status"`
	// Body is the request body; token form secrets are redacted.
	Body string `json:"body"`
}

func (e *Emulator) record(r *http.Request, body []byte, status int) {
	b := string(body)
	if strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/token") {
		b = redactForm(b)
	}
	c := Call{Time: e.opts.Now(), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Status: status, Body: b}
	e.callMu.Lock()
	defer e.callMu.Unlock()
	if len(e.calls) >= e.opts.MaxCalls {
		// Drop the oldest tenth at once so a full log costs amortised O(1).
		drop := max(1, e.opts.MaxCalls/10, len(e.calls)-e.opts.MaxCalls+1)
		n := copy(e.calls, e.calls[drop:])
		e.calls = e.calls[:n]
	}
	e.calls = append(e.calls, c)
}

func redactForm(b string) string {
	v, err := url.ParseQuery(b)
	if err != nil {
		return "[unparsable form]"
	}
	for _, k := range []string{"password", "refresh_token", "client_secret"} {
		if v.Has(k) {
			v.Set(k, "REDACTED")
		}
	}
	return v.Encode()
}

// Calls returns a copy of the call log, oldest first.
func (e *Emulator) Calls() []Call {
	e.callMu.Lock()
	defer e.callMu.Unlock()
	return append([]Call(nil), e.calls...)
}

// ClearCalls empties the call log.
func (e *Emulator) ClearCalls() {
	e.callMu.Lock()
	e.calls = nil
	e.callMu.Unlock()
}

// Reset drops every record, link, token, fault and logged call. Ids of the
// object model do not change.
func (e *Emulator) Reset() {
	e.mu.Lock()
	e.data = newDataStore()
	e.tokens = map[string]*session{}
	e.refresh = map[string]*session{}
	e.faults = nil
	e.nFaults.Store(0)
	e.mu.Unlock()
	e.ClearCalls()
}
