package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/vendorhttp"
)

// jiraClient sends requests to one Jira site (and its Assets API).
type jiraClient struct {
	http   *vendorhttp.Client
	assets *vendorhttp.Client // nil until the Assets base is known
}

func newClient(cfg *config, transport http.RoundTripper) *jiraClient {
	if transport == nil {
		// Keep enough idle connections for the host's concurrency: the
		// default of 2 per host makes every extra parallel call dial anew.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32
		transport = tr
	}
	timeout, _ := time.ParseDuration(cfg.Timeout)
	auth := authorizer(cfg)
	mk := func(base string) *vendorhttp.Client {
		return vendorhttp.New(vendorhttp.Options{
			BaseURL:   base,
			Timeout:   timeout,
			UserAgent: "itsmbridge-plugin-jira/" + Version,
			Transport: transport,
			Secrets:   []string{cfg.APIToken, cfg.BearerToken},
			Authorize: auth,
		})
	}
	return &jiraClient{http: mk(strings.TrimSuffix(cfg.URL, "/")), assets: mk(cfg.assetsAPIURL())}
}

// authorizer sets Basic (username + API token) or Bearer credentials.
func authorizer(cfg *config) func(context.Context, *http.Request) error {
	var h string
	if cfg.BearerToken != "" {
		h = "Bearer " + cfg.BearerToken
	} else {
		h = "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.APIToken))
	}
	return func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", h)
		return nil
	}
}

// do sends a JSON request and decodes the answer; failures carry Jira's own
// message (ErrorCollection or the JSM error body) in front of the HTTP detail.
func (c *jiraClient) do(ctx context.Context, what, method, path string, query url.Values, in, out any) error {
	return call(ctx, c.http, what, method, path, query, in, out)
}

func (c *jiraClient) doAssets(ctx context.Context, what, method, path string, query url.Values, in, out any) error {
	return call(ctx, c.assets, what, method, path, query, in, out)
}

func call(ctx context.Context, hc *vendorhttp.Client, what, method, path string, query url.Values, in, out any) error {
	err := hc.JSON(ctx, method, path, query, in, out, nil)
	if err == nil {
		return nil
	}
	if msg := vendorMessage(err); msg != "" {
		return &wrapped{msg: what + ": " + msg, err: err}
	}
	return &wrapped{msg: what, err: err}
}

// wrapped prefixes an error with context while keeping its classification
// (sdk.Classify finds the *sdk.Error through Unwrap).
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg + ": " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

// vendorMessage extracts Jira's message from a failed response body.
func vendorMessage(err error) string {
	var se *vendorhttp.StatusError
	if !errors.As(err, &se) || se.Body == "" {
		return ""
	}
	var body struct {
		ErrorMessages []string          `json:"errorMessages"`
		Errors        map[string]string `json:"errors"`
		ErrorMessage  string            `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(se.Body), &body) != nil {
		return ""
	}
	parts := append([]string(nil), body.ErrorMessages...)
	keys := make([]string, 0, len(body.Errors))
	for k := range body.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		parts = append(parts, k+": "+body.Errors[k])
	}
	if body.ErrorMessage != "" {
		parts = append(parts, body.ErrorMessage)
	}
	return strings.Join(parts, "; ")
}

// status returns the HTTP status behind err (0 when none).
func status(err error) int { return vendorhttp.StatusCode(err) }

// definite reports whether a failed write certainly changed nothing: Jira
// answered with a client error. Network errors, timeouts and 5xx leave the
// outcome unknown.
func definite(err error) bool {
	s := status(err)
	return s >= 400 && s < 500 && s != http.StatusRequestTimeout && s != http.StatusTooManyRequests
}

// permanentf builds a permanent error.
func permanentf(format string, args ...any) error { return sdk.Permanent(fmt.Errorf(format, args...)) }

// jqlString quotes s as a JQL string literal.
func jqlString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
