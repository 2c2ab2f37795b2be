package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/vendorhttp"
)

// maxRefreshSkew is how long before its expiry an access token is renewed.
const maxRefreshSkew = time.Minute

// api talks to one CSM REST API with OAuth2 password/refresh tokens. It
// renews the access token before it expires and once more when a call gets
// 401, and turns CSM's hasError bodies into classified errors. Safe for
// concurrent use.
type api struct {
	http *vendorhttp.Client
	cfg  *config
	log  hclog.Logger
	now  func() time.Time
	own  *http.Transport // the transport newAPI made, nil when given one
	sem  chan struct{}   // serialises logins and refreshes (a ctx-aware mutex)
	// cur is the live access token, read lock-free on every call and
	// replaced under sem.
	cur     atomic.Pointer[tokenState]
	refresh string // guarded by sem
	// fieldName names a field id in error texts (set after discovery).
	fieldName func(id string) string
}

// maxIdlePerHost keeps connections to CSM for concurrent deliveries; Go's
// default of 2 would churn connections under the host's max_concurrency.
const maxIdlePerHost = 64

func newAPI(cfg *config, tr http.RoundTripper, log hclog.Logger, now func() time.Time) *api {
	timeout, _ := time.ParseDuration(cfg.Timeout)
	var own *http.Transport
	if tr == nil {
		own = http.DefaultTransport.(*http.Transport).Clone()
		own.MaxIdleConnsPerHost = maxIdlePerHost
		tr = own
	}
	return &api{
		http: vendorhttp.New(vendorhttp.Options{
			BaseURL:   strings.TrimSuffix(cfg.URL, "/"),
			Timeout:   timeout,
			UserAgent: "itsmbridge-plugin-cherwell/" + version,
			Transport: tr,
			Secrets:   []string{cfg.Password, cfg.ClientSecret},
		}),
		cfg: cfg, log: log, now: now, own: own,
		sem: make(chan struct{}, 1),
	}
}

// close releases the idle connections of a replaced configuration.
func (a *api) close() {
	if a.own != nil {
		a.own.CloseIdleConnections()
	}
}

func (a *api) lock(ctx context.Context) error {
	select {
	case a.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return sdk.Retryable(fmt.Errorf("cherwell: waiting for the token: %w", ctx.Err()), 0)
	}
}

func (a *api) unlock() { <-a.sem }

// tokenState is one access token; immutable once published.
type tokenState struct {
	access string
	expiry time.Time
	skew   time.Duration // renew this long before expiry
	gen    uint64        // bumped with every new token
}

// live reports whether the token can be used at now.
func (t *tokenState) live(now time.Time) bool {
	return t != nil && t.access != "" && now.Before(t.expiry.Add(-t.skew))
}

// tokenResponse is CSM's /token answer.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	Expires      string `json:".expires"`
}

// tokenError is CSM's /token error body.
type tokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// loginError is a failed token request; Configure maps it to an attribute.
type loginError struct {
	code string // invalid_grant, invalid_client_id, ...
	msg  string
	err  error
}

func (e *loginError) Error() string { return e.msg }
func (e *loginError) Unwrap() error { return e.err }

// token returns a live access token and its generation, logging in or
// refreshing when needed.
func (a *api) token(ctx context.Context) (string, uint64, error) {
	if t := a.cur.Load(); t.live(a.now()) {
		return t.access, t.gen, nil
	}
	if err := a.lock(ctx); err != nil {
		return "", 0, err
	}
	defer a.unlock()
	if t := a.cur.Load(); t.live(a.now()) { // renewed while we waited
		return t.access, t.gen, nil
	}
	if a.refresh != "" {
		err := a.grant(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {a.refresh}})
		if err == nil {
			a.log.Debug("access token refreshed")
			t := a.cur.Load()
			return t.access, t.gen, nil
		}
		if sdk.IsRetryable(err) {
			// CSM is unreachable: an early renewal may keep using the
			// current token until it really expires.
			if t := a.cur.Load(); t != nil && t.access != "" && a.now().Before(t.expiry) {
				return t.access, t.gen, nil
			}
			return "", 0, err
		}
		// A rotated-away or expired refresh token: log in again.
		a.log.Debug("token refresh rejected; logging in again", "error", err)
		a.refresh = ""
	}
	if err := a.grant(ctx, url.Values{"grant_type": {"password"}, "username": {a.cfg.Username}, "password": {a.cfg.Password}}); err != nil {
		return "", 0, err
	}
	t := a.cur.Load()
	return t.access, t.gen, nil
}

// login forces a fresh password login (Configure checks the credentials).
func (a *api) login(ctx context.Context) error {
	if err := a.lock(ctx); err != nil {
		return err
	}
	defer a.unlock()
	return a.grant(ctx, url.Values{"grant_type": {"password"}, "username": {a.cfg.Username}, "password": {a.cfg.Password}})
}

// grant posts one token request. Caller holds the lock.
func (a *api) grant(ctx context.Context, form url.Values) error {
	form.Set("client_id", a.cfg.ClientID)
	if a.cfg.ClientSecret != "" {
		form.Set("client_secret", a.cfg.ClientSecret)
	}
	q := url.Values{"auth_mode": {a.cfg.AuthMode}}
	req, err := a.http.NewRequest(ctx, http.MethodPost, "token", q, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	_, body, err := a.http.Do(ctx, req)
	grant := form.Get("grant_type")
	if err != nil {
		var te tokenError
		if json.Unmarshal(body, &te) == nil && te.Error != "" {
			kind, after := sdk.Classify(err)
			le := &loginError{code: te.Error, err: err,
				msg: fmt.Sprintf("cherwell %s grant: %s: %s", grant, te.Error, te.Description)}
			if kind == sdk.KindRetryable {
				return sdk.Retryable(le, after)
			}
			return sdk.Permanent(le)
		}
		return wrapKeep(err, "cherwell %s grant", grant)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return sdk.Permanentf("cherwell %s grant: response carries no access_token", grant)
	}
	life := time.Duration(tr.ExpiresIn) * time.Second
	if tr.ExpiresIn <= 0 {
		if exp, err := http.ParseTime(tr.Expires); err == nil {
			life = exp.Sub(a.now())
		}
	}
	if life <= 0 {
		life = 20 * time.Minute // CSM's default lifespan
	}
	var gen uint64
	if old := a.cur.Load(); old != nil {
		gen = old.gen
	}
	a.refresh = tr.RefreshToken
	a.cur.Store(&tokenState{access: tr.AccessToken, expiry: a.now().Add(life), skew: min(maxRefreshSkew, life/4), gen: gen + 1})
	return nil
}

// invalidate drops the access token of generation gen after a 401, keeping
// the refresh token for the renewal.
func (a *api) invalidate(ctx context.Context, gen uint64) {
	if a.lock(ctx) != nil {
		return
	}
	defer a.unlock()
	if t := a.cur.Load(); t != nil && t.gen == gen {
		a.cur.Store(&tokenState{gen: gen})
	}
}

// wrapKeep adds context to err and keeps its classification.
func wrapKeep(err error, format string, args ...any) error {
	kind, after := sdk.Classify(err)
	w := fmt.Errorf(format+": %w", append(args, err)...)
	if kind == sdk.KindRetryable {
		return sdk.Retryable(w, after)
	}
	return sdk.Permanent(w)
}

// csmError carries the error trio CSM responses share.
type csmError struct {
	HasError              bool   `json:"hasError"`
	ErrorCode             string `json:"errorCode"`
	ErrorMessage          string `json:"errorMessage"`
	Message               string `json:"Message"` // ASP.NET Web API errors
	FieldValidationErrors []struct {
		Error     string `json:"error"`
		ErrorCode string `json:"errorCode"`
		FieldID   string `json:"fieldId"`
	} `json:"fieldValidationErrors"`
}

// describe renders the vendor's error for humans (DLQ entries).
func (e *csmError) describe(fieldName func(id string) string) string {
	var parts []string
	if e.ErrorCode != "" {
		parts = append(parts, e.ErrorCode)
	}
	if e.ErrorMessage != "" {
		parts = append(parts, e.ErrorMessage)
	} else if e.Message != "" {
		parts = append(parts, e.Message)
	}
	for _, fe := range e.FieldValidationErrors {
		name := fe.FieldID
		if fieldName != nil {
			if n := fieldName(fe.FieldID); n != "" {
				name = n
			}
		}
		parts = append(parts, fmt.Sprintf("field %s: %s (%s)", name, fe.Error, fe.ErrorCode))
	}
	return strings.Join(parts, ": ")
}

// ErrHasError marks a response that CSM flagged with hasError=true.
var ErrHasError = errors.New("cherwell reported hasError")

// call sends a JSON request with the bearer token and decodes the 2xx body
// into out. A 401 renews the token once and retries. A hasError body is an
// error whatever the HTTP status: permanent under 2xx and whenever it lists
// field validation errors, otherwise classified by status.
func (a *api) call(ctx context.Context, op, method, path string, query url.Values, in, out any) error {
	var payload []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return sdk.Permanent(fmt.Errorf("cherwell %s: encode request: %w", op, err))
		}
		payload = b
	}
	for attempt := 0; ; attempt++ {
		tok, gen, err := a.token(ctx)
		if err != nil {
			return wrapKeep(err, "cherwell %s: authenticate", op)
		}
		var req *http.Request
		if payload != nil {
			req, err = a.http.NewRequest(ctx, method, path, query, bytes.NewReader(payload))
		} else {
			req, err = a.http.NewRequest(ctx, method, path, query, nil)
		}
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, data, err := a.http.Do(ctx, req)
		var se *vendorhttp.StatusError
		if err != nil && errors.As(err, &se) && se.StatusCode == http.StatusUnauthorized && attempt == 0 {
			a.log.Debug("access token rejected; renewing", "op", op)
			a.invalidate(ctx, gen)
			continue
		}
		return a.check(op, resp, data, err, out)
	}
}

// apiError is a failed CSM call: an error status, or hasError=true under
// any status. The host sees it classified; plugin code inspects Code.
type apiError struct {
	Op     string
	Status int    // HTTP status
	Code   string // CSM errorCode, e.g. RECORDNOTFOUND
	Desc   string // the vendor's message(s)
	err    error  // vendorhttp's classified error, or ErrHasError
}

func (e *apiError) Error() string {
	if e.Desc == "" {
		return fmt.Sprintf("cherwell %s: %v", e.Op, e.err)
	}
	return fmt.Sprintf("cherwell %s: HTTP %d: %s", e.Op, e.Status, e.Desc)
}

func (e *apiError) Unwrap() error { return e.err }

// codeOf returns the CSM errorCode carried by err ("" when none).
func codeOf(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// statusOf returns the HTTP status of a failed call (0 when none).
func statusOf(err error) int {
	var se *vendorhttp.StatusError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// check turns a response into the result of call.
func (a *api) check(op string, resp *http.Response, data []byte, err error, out any) error {
	var ce csmError
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		_ = json.Unmarshal(t, &ce)
	}
	status := 0
	if resp != nil {
		status = resp.StatusCode
	}
	if err != nil {
		ae := &apiError{Op: op, Status: status, Code: ce.ErrorCode, Desc: ce.describe(a.fieldName), err: err}
		if ae.Desc == "" {
			return wrapKeep(err, "cherwell %s", op)
		}
		if len(ce.FieldValidationErrors) > 0 {
			return sdk.Permanent(ae) // validation never heals by retrying, even under 5xx
		}
		kind, after := sdk.Classify(err)
		if kind == sdk.KindRetryable {
			return sdk.Retryable(ae, after)
		}
		return sdk.Permanent(ae)
	}
	if ce.HasError {
		// CSM reports many failures under HTTP 200; none of them is a success.
		return sdk.Permanent(&apiError{Op: op, Status: status, Code: ce.ErrorCode, Desc: ce.describe(a.fieldName), err: ErrHasError})
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return sdk.Permanent(fmt.Errorf("cherwell %s: decode response: %w", op, err))
		}
	}
	return nil
}
