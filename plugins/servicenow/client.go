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
	"sync"
	"time"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/vendorhttp"
)

// snClient talks to one instance: Basic auth or an OAuth bearer token, JSON
// in and out, ServiceNow's error body folded into classified errors.
type snClient struct {
	http   *vendorhttp.Client
	tokens *tokenSource // nil with Basic auth
}

// snError is ServiceNow's failure envelope.
type snError struct {
	Error struct {
		Message string `json:"message"`
		Detail  any    `json:"detail"`
	} `json:"error"`
	Status string `json:"status"`
}

// vendorMessage extracts "message: detail" from a ServiceNow error body.
func vendorMessage(body string) string {
	var e snError
	if json.Unmarshal([]byte(body), &e) != nil || e.Error.Message == "" {
		return ""
	}
	msg := e.Error.Message
	if d, ok := e.Error.Detail.(string); ok && d != "" && d != msg {
		msg += ": " + d
	}
	return msg
}

// call sends one request. in is JSON-encoded when non-nil; out receives the
// decoded body. A 401 with OAuth invalidates the token and retries once: a
// token revoked or expired early is fixed by a refresh, anything else is
// permanent.
func (c *snClient) call(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return sdk.Permanent(fmt.Errorf("servicenow: encode %s %s: %w", method, path, err))
		}
	}
	var data []byte
	var err error
	for attempt := 0; ; attempt++ {
		data, err = c.once(ctx, method, path, q, body)
		var te *tokenError
		if errors.As(err, &te) {
			return err // the token endpoint refused: already classified and worded
		}
		if err == nil || attempt > 0 || c.tokens == nil || vendorhttp.StatusCode(err) != http.StatusUnauthorized {
			break
		}
		c.tokens.invalidate()
	}
	if err != nil {
		return classify(method, path, err)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return sdk.Permanent(fmt.Errorf("servicenow: %s %s: unexpected response (not JSON): %w", method, path, err))
	}
	return nil
}

func (c *snClient) once(ctx context.Context, method, path string, q url.Values, body []byte) ([]byte, error) {
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = c.http.NewRequest(ctx, method, path, q, rd)
	} else {
		req, err = c.http.NewRequest(ctx, method, path, q, nil)
	}
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	_, data, err := c.http.Do(ctx, req)
	return data, err
}

// classify keeps vendorhttp's classification and puts ServiceNow's own
// message first, so a DLQ entry reads "… 403 Operation Failed: Data Policy
// Exception: …" rather than a raw body.
func classify(method, path string, err error) error {
	kind, after := sdk.Classify(err)
	var se *vendorhttp.StatusError
	if !errors.As(err, &se) {
		return err // network or local error, already classified and redacted
	}
	msg := vendorMessage(se.Body)
	if msg == "" {
		msg = http.StatusText(se.StatusCode)
	}
	if se.StatusCode == http.StatusUnauthorized {
		msg += " (check the credentials and that the user is active)"
	}
	wrapped := &vendorError{msg: fmt.Sprintf("servicenow: %s %s: %d %s", method, path, se.StatusCode, msg), err: se}
	if kind == sdk.KindRetryable {
		return sdk.Retryable(wrapped, after)
	}
	return sdk.Permanent(wrapped)
}

// vendorError shows ServiceNow's message and keeps the *StatusError for errors.As.
type vendorError struct {
	msg string
	err error
}

func (e *vendorError) Error() string { return e.msg }
func (e *vendorError) Unwrap() error { return e.err }

// tokenError is a failure of the OAuth token endpoint.
type tokenError struct{ vendorError }

// tokenSource fetches and refreshes OAuth tokens from /oauth_token.do
// (form-encoded, as ServiceNow requires). Tokens are refreshed before they
// expire; concurrent callers share one fetch.
type tokenSource struct {
	http   *vendorhttp.Client
	url    string
	grant  string
	form   url.Values // client_id, client_secret, username, password, scope
	now    func() time.Time
	lock   chan struct{} // a mutex callers can abandon when their ctx ends
	mu     sync.Mutex    // guards the fields below
	access string
	refr   string
	expiry time.Time
}

// refreshMargin is how long before expiry a token is renewed: a tenth of its
// lifetime, at most a minute.
func refreshMargin(ttl time.Duration) time.Duration {
	return min(ttl/10, time.Minute)
}

func newTokenSource(hc *vendorhttp.Client, tokenURL string, c *config) *tokenSource {
	f := url.Values{"client_id": {c.OAuth.ClientID}, "client_secret": {c.OAuth.ClientSecret}}
	if c.OAuth.Scope != "" {
		f.Set("scope", c.OAuth.Scope)
	}
	if c.OAuth.GrantType == "password" {
		f.Set("username", c.Username)
		f.Set("password", c.Password)
	}
	return &tokenSource{http: hc, url: tokenURL, grant: c.OAuth.GrantType, form: f, now: time.Now, lock: make(chan struct{}, 1)}
}

// token returns a valid access token, fetching or refreshing as needed.
func (t *tokenSource) token(ctx context.Context) (string, error) {
	if tok := t.valid(); tok != "" {
		return tok, nil
	}
	select {
	case t.lock <- struct{}{}:
	case <-ctx.Done():
		return "", sdk.Retryable(fmt.Errorf("servicenow: waiting for an OAuth token: %w", ctx.Err()), 0)
	}
	defer func() { <-t.lock }()
	if tok := t.valid(); tok != "" {
		return tok, nil // another caller fetched it meanwhile
	}
	t.mu.Lock()
	refresh := t.refr
	t.mu.Unlock()
	if refresh != "" {
		f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh},
			"client_id": t.form["client_id"], "client_secret": t.form["client_secret"]}
		tok, err := t.fetch(ctx, f)
		if err == nil || sdk.IsRetryable(err) {
			return tok, err
		}
		// The refresh token was rejected (expired or revoked): start over.
		t.mu.Lock()
		t.refr = ""
		t.mu.Unlock()
	}
	f := url.Values{"grant_type": {t.grant}}
	for k, v := range t.form {
		f[k] = v
	}
	return t.fetch(ctx, f)
}

func (t *tokenSource) valid() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.access != "" && t.now().Before(t.expiry) {
		return t.access
	}
	return ""
}

// invalidate drops the access token (a 401 said it is no longer good); the
// refresh token is kept.
func (t *tokenSource) invalidate() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.access = ""
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	TokenType    string `json:"token_type"`
}

func (t *tokenSource) fetch(ctx context.Context, f url.Values) (string, error) {
	req, err := t.http.NewRequest(ctx, http.MethodPost, t.url, nil, strings.NewReader(f.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	_, data, err := t.http.Do(ctx, req)
	if err != nil {
		kind, after := sdk.Classify(err)
		var se *vendorhttp.StatusError
		if errors.As(err, &se) {
			wrapped := &tokenError{vendorError{msg: fmt.Sprintf("servicenow: OAuth %s grant: %d %s", f.Get("grant_type"), se.StatusCode, oauthMessage(se.Body)), err: se}}
			if kind == sdk.KindRetryable {
				return "", sdk.Retryable(wrapped, after)
			}
			return "", sdk.Permanent(wrapped)
		}
		return "", err
	}
	var tr tokenResponse
	if err := json.Unmarshal(data, &tr); err != nil || tr.AccessToken == "" {
		return "", sdk.Permanent(fmt.Errorf("servicenow: OAuth %s grant: response has no access_token", f.Get("grant_type")))
	}
	ttl := time.Duration(tr.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 30 * time.Minute
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.access = tr.AccessToken
	t.expiry = t.now().Add(ttl - refreshMargin(ttl))
	if tr.RefreshToken != "" {
		t.refr = tr.RefreshToken
	}
	return t.access, nil
}

// oauthMessage reads {"error","error_description"} from a token error.
func oauthMessage(body string) string {
	var e struct {
		Error string `json:"error"`
		Desc  string `json:"error_description"`
	}
	if json.Unmarshal([]byte(body), &e) == nil && (e.Error != "" || e.Desc != "") {
		return strings.TrimSpace(e.Error + " " + e.Desc)
	}
	if m := vendorMessage(body); m != "" {
		return m
	}
	return "token request rejected"
}
