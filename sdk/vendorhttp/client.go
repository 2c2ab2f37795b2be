package vendorhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// Defaults applied by New.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxBodyBytes = 4 << 20 // 4 MiB
	DefaultUserAgent    = "itsmbridge-plugin"
	// maxErrorBody bounds StatusError.Body.
	maxErrorBody = 1024
)

// Options configures a Client. The zero value is usable.
type Options struct {
	// BaseURL is joined with the path given to JSON and NewRequest, e.g.
	// "https://acme.service-now.com". A path prefix ("https://h/jira") is kept.
	BaseURL string
	// Timeout bounds one request including reading the body. Default 30s.
	// The caller's context deadline applies as well; the shorter wins.
	Timeout time.Duration
	// UserAgent is set on requests that do not carry one. Default
	// "itsmbridge-plugin".
	UserAgent string
	// Transport sends the requests. Default: a private clone of
	// http.DefaultTransport. Wrap it to add OAuth or to record calls in tests.
	Transport http.RoundTripper
	// Secrets are values (passwords, tokens, client secrets) that are replaced
	// by "[REDACTED]" in every error text. Empty strings are ignored. The
	// credentials of each request's Authorization header and URL userinfo are
	// redacted automatically.
	Secrets []string
	// MaxBodyBytes bounds a response body. A larger body is a permanent error.
	// Default 4 MiB.
	MaxBodyBytes int64
	// Authorize, when set, is called before every request is sent (after the
	// caller's headers are applied), e.g. to set a bearer token from an OAuth
	// token source. Its error is returned unchanged, so it should be
	// classified (sdk.Retryable / sdk.Permanent) by the hook.
	Authorize func(ctx context.Context, req *http.Request) error
}

// Client sends vendor API requests and classifies the outcome. It is safe for
// concurrent use and never retries (the host does).
type Client struct {
	base      *url.URL
	baseErr   error
	hc        *http.Client
	userAgent string
	secrets   []string
	maxBody   int64
	authorize func(context.Context, *http.Request) error
}

// New returns a Client for opts. A malformed BaseURL is reported (as a
// permanent error) by every call, so plugins can build the client in
// Configure and still surface a clear diagnostic.
func New(opts Options) *Client {
	c := &Client{
		userAgent: opts.UserAgent,
		secrets:   cleanSecrets(opts.Secrets),
		maxBody:   opts.MaxBodyBytes,
		authorize: opts.Authorize,
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodyBytes
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := opts.Transport
	if tr == nil {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	c.hc = &http.Client{Transport: tr, Timeout: timeout}
	if opts.BaseURL != "" {
		u, err := url.Parse(opts.BaseURL)
		switch {
		case err != nil:
			c.baseErr = fmt.Errorf("vendorhttp: invalid base URL %q", Redact(RedactURL(opts.BaseURL), c.secrets))
		case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
			c.baseErr = fmt.Errorf("vendorhttp: base URL %q must be absolute http(s)", Redact(RedactURL(opts.BaseURL), c.secrets))
		default:
			c.base = u
		}
	}
	return c
}

// URL resolves path against the base URL. An absolute path
// ("https://other/x", e.g. a pagination link) is used as is; otherwise it is
// appended to the base URL's path. query, when non-empty, replaces the query.
func (c *Client) URL(path string, query url.Values) (*url.URL, error) {
	if c.baseErr != nil {
		return nil, sdk.Permanent(c.baseErr)
	}
	var u *url.URL
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") || c.base == nil {
		p, err := url.Parse(path)
		if err != nil {
			return nil, sdk.Permanent(fmt.Errorf("vendorhttp: invalid URL %q", c.redact(RedactURL(path))))
		}
		u = p
	} else {
		ref, err := url.Parse(path)
		if err != nil {
			return nil, sdk.Permanent(fmt.Errorf("vendorhttp: invalid path %q", c.redact(RedactURL(path))))
		}
		cp := *c.base
		u = &cp
		u.Path = strings.TrimSuffix(u.Path, "/") + "/" + strings.TrimPrefix(ref.Path, "/")
		u.RawPath = ""
		if ref.RawQuery != "" {
			u.RawQuery = ref.RawQuery
		}
	}
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	if !u.IsAbs() {
		return nil, sdk.Permanent(fmt.Errorf("vendorhttp: URL %q is not absolute and no BaseURL is set", c.redact(RedactURL(u.String()))))
	}
	return u, nil
}

// NewRequest builds a request for path (see URL) with the given body.
func (c *Client) NewRequest(ctx context.Context, method, path string, query url.Values, body io.Reader) (*http.Request, error) {
	u, err := c.URL(path, query)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, sdk.Permanent(fmt.Errorf("vendorhttp: build %s request: %s", method, c.redact(err.Error())))
	}
	return req, nil
}

// Do sends req and reads its body (at most MaxBodyBytes). It returns the
// response (body already consumed and closed) and the body bytes for every
// status; err is nil for 2xx/3xx, otherwise a classified error wrapping a
// *StatusError (status failures) or the transport error (network failures,
// redacted). A cancelled or expired ctx yields an error for which
// errors.Is(err, ctx.Err()) holds.
func (c *Client) Do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	if req == nil {
		return nil, nil, sdk.Permanent(errors.New("vendorhttp: nil request"))
	}
	if ctx == nil {
		ctx = req.Context()
	}
	req = req.WithContext(ctx)
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.authorize != nil {
		if err := c.authorize(ctx, req); err != nil {
			return nil, nil, err
		}
	}
	secrets := c.requestSecrets(req)
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	shownURL := Redact(RedactURL(req.URL.String()), secrets)

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, nil, c.transportError(ctx, method, shownURL, err, secrets)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return resp, nil, c.transportError(ctx, method, shownURL, fmt.Errorf("read response body: %w", err), secrets)
	}
	if int64(len(body)) > c.maxBody {
		return resp, body[:c.maxBody], sdk.Permanent(fmt.Errorf("%s %s: response body exceeds %d bytes", method, shownURL, c.maxBody))
	}
	if resp.StatusCode < 400 {
		return resp, body, nil
	}
	se := &StatusError{
		StatusCode: resp.StatusCode,
		Method:     method,
		URL:        shownURL,
		Body:       Redact(truncate(string(body), maxErrorBody), secrets),
		Header:     resp.Header.Clone(),
	}
	if retryableStatus(resp.StatusCode) {
		se.RetryAfter = retryAfterOf(resp, time.Now())
		return resp, body, sdk.Retryable(se, se.RetryAfter)
	}
	return resp, body, sdk.Permanent(se)
}

// JSON sends in (when non-nil) as a JSON body to path (see URL) and decodes a
// 2xx/3xx JSON response into out (when non-nil and the body is not empty).
// hdr adds request headers (e.g. Authorization). Errors are classified as in
// Do; a response that is not valid JSON is permanent.
func (c *Client) JSON(ctx context.Context, method, path string, query url.Values, in, out any, hdr http.Header) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return sdk.Permanent(fmt.Errorf("vendorhttp: encode %s %s request: %w", method, path, err))
		}
		body = bytes.NewReader(b)
	}
	req, err := c.NewRequest(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if in != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	_, data, err := c.Do(ctx, req)
	if err != nil {
		return err
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		secrets := c.requestSecrets(req)
		return sdk.Permanent(fmt.Errorf("%s %s: decode JSON response: %s (body: %s)",
			req.Method, Redact(RedactURL(req.URL.String()), secrets), err.Error(),
			Redact(truncate(string(data), 256), secrets)))
	}
	return nil
}

// transportError classifies a failure to get a response. A cancelled or
// expired caller context wins over the transport's own wording.
func (c *Client) transportError(ctx context.Context, method, shownURL string, err error, secrets []string) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return sdk.Retryable(fmt.Errorf("%s %s: %w", method, shownURL, ctxErr), 0)
	}
	// url.Error repeats the unredacted URL; use the inner error's text.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return sdk.Retryable(&redactedError{
		msg: fmt.Sprintf("%s %s: %s", method, shownURL, Redact(err.Error(), secrets)),
		err: err,
	}, 0)
}

// requestSecrets adds the credentials of req to the configured secrets.
func (c *Client) requestSecrets(req *http.Request) []string {
	s := c.secrets
	extra := make([]string, 0, 3)
	if a := req.Header.Get("Authorization"); a != "" {
		extra = append(extra, a)
		if _, cred, ok := strings.Cut(a, " "); ok {
			extra = append(extra, strings.TrimSpace(cred))
		}
	}
	if req.URL != nil {
		if req.URL.User != nil {
			if p, ok := req.URL.User.Password(); ok {
				extra = append(extra, p)
			}
		}
		// Vendors echo the request URL in error bodies; hide secret query values there too.
		for k, vs := range req.URL.Query() {
			if secretQueryName(k) {
				extra = append(extra, vs...)
			}
		}
	}
	if len(extra) == 0 {
		return s
	}
	return cleanSecrets(append(append([]string(nil), s...), extra...))
}

func (c *Client) redact(s string) string { return Redact(s, c.secrets) }

// redactedError shows a redacted message but keeps the original error for
// errors.Is/As (e.g. net.Error timeouts).
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// StatusError is a vendor response with a 4xx or 5xx status. Every text in
// it is redacted. Plugins get it with errors.As to detect 401/404 or to parse
// the vendor's error body.
type StatusError struct {
	StatusCode int
	Method     string
	// URL is redacted: no userinfo, no secret-looking query values.
	URL string
	// Body is the start of the response body (at most 1 KiB), redacted.
	Body string
	// RetryAfter is the wait the vendor asked for (408/429/5xx only).
	RetryAfter time.Duration
	// Header holds the response headers (e.g. X-RateLimit-*).
	Header http.Header
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if b := strings.TrimSpace(e.Body); b != "" {
		msg += ": " + strings.Join(strings.Fields(b), " ")
	}
	return msg
}

// retryableStatus reports whether a status is worth retrying.
func retryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500
}

// retryAfterOf reads Retry-After, falling back to X-RateLimit-Reset on
// 429/503 (ServiceNow sends a UNIX time, Jira an ISO 8601 time).
func retryAfterOf(resp *http.Response, now time.Time) time.Duration {
	if d, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
		return d
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if d, ok := ParseRateLimitReset(resp.Header.Get("X-RateLimit-Reset"), now); ok {
			return d
		}
	}
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Do not cut a UTF-8 sequence in half.
	cut := n
	for cut > 0 && cut > n-4 && (s[cut]&0xC0) == 0x80 {
		cut--
	}
	return s[:cut] + "…(truncated)"
}

// StatusCode returns the HTTP status of the *StatusError in err's chain, or 0
// when err did not come from a vendor response (nil, network error...).
func StatusCode(err error) int {
	var se *StatusError
	if errors.As(err, &se) {
		return se.StatusCode
	}
	return 0
}
