package emulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/jira/emulator"
	"github.com/itsmbridge/itsmbridge/plugins/jira/internal/contract"
)

// The official descriptions are loaded once per test binary: the platform
// description is 2.4 MB and takes about a second to load.
var (
	specOnce  sync.Once
	validator *contract.Validator
	specErr   error
)

func specs(t testing.TB) *contract.Validator {
	t.Helper()
	specOnce.Do(func() {
		validator, specErr = contract.Load(contract.JiraSpecs("testdata")...)
		if specErr == nil {
			t.Logf("loaded the official OpenAPI descriptions in %v", validator.LoadTime)
		}
	})
	if specErr != nil {
		t.Fatalf("load specs: %v", specErr)
	}
	return validator
}

// env is an emulator behind the contract-validating middleware.
type env struct {
	t   testing.TB
	emu *emulator.Emulator
	srv *httptest.Server
	rec *contract.Recorder
}

func newEnv(t testing.TB, opts emulator.Options) *env {
	t.Helper()
	v := specs(t)
	e := &env{t: t, emu: emulator.New(opts), rec: &contract.Recorder{}}
	e.srv = httptest.NewServer(v.Middleware(e.emu, e.rec))
	t.Cleanup(func() {
		e.srv.Close()
		for _, x := range e.rec.Violations() {
			t.Errorf("contract violation: %v", x.Err)
		}
	})
	return e
}

type reqOpt func(*http.Request)

func withAuth(h string) reqOpt { return func(r *http.Request) { r.Header.Set("Authorization", h) } }
func noAuth() reqOpt           { return func(r *http.Request) { r.Header.Del("Authorization") } }

// do sends a request as the sandbox agent and returns status and body.
func (e *env) do(method, path string, body any, opts ...reqOpt) (int, []byte, http.Header) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth("sandbox", "sandbox")
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// must sends a request and fails unless the status is want; it decodes the
// body into out when out is not nil.
func (e *env) must(want int, method, path string, body, out any, opts ...reqOpt) {
	e.t.Helper()
	st, b, _ := e.do(method, path, body, opts...)
	if st != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, st, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

func adf(text string) map[string]any {
	return map[string]any{"type": "doc", "version": 1, "content": []any{
		map[string]any{"type": "paragraph", "content": []any{map[string]any{"type": "text", "text": text}}},
	}}
}

// createIssue creates an OPS incident through the platform API.
func (e *env) createIssue(summary string, extra map[string]any) string {
	e.t.Helper()
	fields := map[string]any{
		"project": map[string]any{"key": "OPS"}, "issuetype": map[string]any{"name": "Incident"},
		"summary": summary, "description": adf("details of " + summary),
	}
	for k, v := range extra {
		fields[k] = v
	}
	var out struct{ Key string }
	e.must(201, "POST", "/rest/api/3/issue", map[string]any{"fields": fields}, &out)
	return out.Key
}

// invalidOnPurpose marks a request that breaks the description on purpose.
func invalidOnPurpose(why string) reqOpt {
	return func(r *http.Request) { r.Header.Set(contract.InvalidRequestHeader, why) }
}
