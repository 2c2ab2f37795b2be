package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/cherwell/emulator/contract"
)

const specPath = "testdata/cherwell-csm-9.3.2.reconstructed.swagger.json"

var (
	specOnce sync.Once
	spec     *contract.Validator
	specErr  error
)

// validator returns the shared swagger validator.
func validator(t testing.TB) *contract.Validator {
	t.Helper()
	specOnce.Do(func() { spec, specErr = contract.Load(specPath) })
	if specErr != nil {
		t.Fatal(specErr)
	}
	return spec
}

// env is an emulator behind a real HTTP server whose every exchange is
// validated against the swagger.
type env struct {
	t   testing.TB
	e   *Emulator
	srv *httptest.Server
	tok string
}

func newEnv(t testing.TB, opts Options) *env {
	t.Helper()
	e := New(opts)
	v := validator(t)
	srv := httptest.NewServer(v.Wrap(e, BasePath+"/", func(err error) { t.Errorf("contract: %v", err) }))
	t.Cleanup(srv.Close)
	return &env{t: t, e: e, srv: srv}
}

// rawEnv serves the emulator without validation, for deliberately invalid requests.
func rawEnv(t testing.TB, opts Options) *env {
	t.Helper()
	e := New(opts)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &env{t: t, e: e, srv: srv}
}

func (v *env) tokenForm(form url.Values, query string) (int, map[string]any) {
	v.t.Helper()
	u := v.srv.URL + BasePath + "/token"
	if query != "" {
		u += "?" + query
	}
	resp, err := http.Post(u, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		v.t.Fatalf("token response %d not JSON: %s", resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

func passwordForm() url.Values {
	return url.Values{"grant_type": {"password"}, "client_id": {"sandbox"}, "username": {"sandbox"}, "password": {"sandbox"}}
}

// login gets a token pair and keeps the access token for api calls.
func (v *env) login() (access, refresh string) {
	v.t.Helper()
	st, out := v.tokenForm(passwordForm(), "auth_mode=Internal")
	if st != http.StatusOK {
		v.t.Fatalf("login: %d %v", st, out)
	}
	v.tok = out["access_token"].(string)
	return v.tok, out["refresh_token"].(string)
}

// call sends a JSON request with the current token; out may be nil.
func (v *env) call(method, path string, in, out any) int {
	v.t.Helper()
	return v.callTok(v.tok, method, path, in, out)
}

func (v *env) callTok(tok, method, path string, in, out any) int {
	v.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			v.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, v.srv.URL+BasePath+path, body)
	if err != nil {
		v.t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			v.t.Fatalf("%s %s: %d body not JSON: %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// ctl calls the control surface.
func (v *env) ctl(method, path string, in, out any) int {
	v.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, v.srv.URL+"/_emulator"+path, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			v.t.Fatalf("control %s: %v", path, err)
		}
	}
	return resp.StatusCode
}

// field builds a dirty field item for obj.field.
func (v *env) field(obj, name string, value any) map[string]any {
	id := v.e.FieldID(obj, name)
	if id == "" {
		v.t.Fatalf("no field %s.%s", obj, name)
	}
	return map[string]any{"fieldId": id, "name": name, "value": value, "dirty": true}
}

// createIncident saves a new incident and returns its rec id and public id.
func (v *env) createIncident(short, corr string, extra ...map[string]any) (string, string) {
	v.t.Helper()
	fields := []map[string]any{
		v.field("Incident", "ShortDescription", short),
		v.field("Incident", "Description", "desc of "+short),
		v.field("Incident", "CorrelationID", corr),
	}
	fields = append(fields, extra...)
	var out saveResponse
	if st := v.call("POST", "/api/V1/savebusinessobject", map[string]any{"busObId": v.e.BusObID("Incident"), "fields": fields, "persist": true}, &out); st != 200 || out.HasError {
		v.t.Fatalf("create incident: %d %+v", st, out)
	}
	return out.BusObRecID, out.BusObPublicID
}

func fieldValue(r readResponse, name string) string {
	for _, f := range r.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return "<absent>"
}

// newEnvWith serves e through validator val.
func newEnvWith(t testing.TB, e *Emulator, val *contract.Validator) *env {
	t.Helper()
	srv := httptest.NewServer(val.Wrap(e, BasePath+"/", func(err error) { t.Errorf("contract: %v", err) }))
	t.Cleanup(srv.Close)
	return &env{t: t, e: e, srv: srv}
}
