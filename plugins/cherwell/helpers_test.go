package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/plugins/cherwell/emulator"
	"github.com/itsmbridge/itsmbridge/plugins/cherwell/emulator/contract"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest"
)

// The swagger lives with the emulator's contract test (one copy in the tree).
const specPath = "emulator/testdata/cherwell-csm-9.3.2.reconstructed.swagger.json"

const (
	testClientID = "bridge-client"
	testUser     = "svc-bridge"
	testPassword = "s3cret-pass-9731"
)

var (
	specOnce sync.Once
	spec     *contract.Validator
	specErr  error
)

func validator(t testing.TB) *contract.Validator {
	t.Helper()
	specOnce.Do(func() { spec, specErr = contract.Load(specPath) })
	if specErr != nil {
		t.Fatal(specErr)
	}
	return spec
}

// testEnv is a configured plugin against an emulator whose every exchange is
// validated against the swagger.
type testEnv struct {
	t    testing.TB
	emu  *emulator.Emulator
	srv  *httptest.Server
	p    *Plugin
	logs *strings.Builder
	mu   sync.Mutex
}

type envOpts struct {
	emu     emulator.Options
	extra   string // more config attributes (HCL)
	plugin  []Option
	val     *contract.Validator
	noCheck bool // do not Configure
}

func newTestEnv(t testing.TB, o envOpts) *testEnv {
	t.Helper()
	if o.emu.ClientID == "" {
		o.emu.ClientID, o.emu.Username, o.emu.Password = testClientID, testUser, testPassword
	}
	emu := emulator.New(o.emu)
	val := o.val
	if val == nil {
		val = validator(t)
	}
	srv := httptest.NewServer(val.Wrap(emu, emulator.BasePath+"/", func(err error) { t.Errorf("contract: %v", err) }))
	t.Cleanup(srv.Close)
	e := &testEnv{t: t, emu: emu, srv: srv, logs: &strings.Builder{}}
	log := hclog.New(&hclog.LoggerOptions{Output: syncWriter{e}, Level: hclog.Trace})
	e.p = New(append([]Option{WithLogger(log)}, o.plugin...)...)
	if !o.noCheck {
		if d := e.configure(o.extra); d.HasErrors() {
			t.Fatalf("Configure: %s", d.Error())
		}
	}
	return e
}

type syncWriter struct{ e *testEnv }

func (w syncWriter) Write(b []byte) (int, error) {
	w.e.mu.Lock()
	defer w.e.mu.Unlock()
	return w.e.logs.Write(b)
}

func (e *testEnv) logText() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.logs.String()
}

func (e *testEnv) baseConfig() string {
	return fmt.Sprintf("url = %q\nclient_id = %q\nusername = %q\npassword = %q\n", e.srv.URL+"/CherwellAPI", testClientID, testUser, testPassword)
}

// config decodes HCL attributes against the plugin schema as the host does.
func (e *testEnv) config(src string) sdk.Config {
	e.t.Helper()
	cfg, err := plugintest.DecodeConfig(e.p.Schema(), src)
	if err != nil {
		e.t.Fatalf("decode config: %v", err)
	}
	return cfg
}

func (e *testEnv) configure(extra string) sdk.Diagnostics {
	e.t.Helper()
	return e.p.Configure(ctx(e.t), &sdk.ConfigureRequest{Config: e.config(e.baseConfig() + extra), Backend: "test"})
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

var testAlert = sdk.Alert{
	ID: "/subscriptions/11111111-2222-3333-4444-555555555555/providers/Microsoft.AlertsManagement/alerts/abc", Schema: "azure.common",
	Status: sdk.StatusFired, Severity: 1, SeverityName: "Sev1", Rule: "High CPU", Service: "Platform", Signal: "Metric",
	Description: "CPU above 90%", Targets: []string{vmID}, ConfigurationItems: []string{vmID},
	Subscription: "11111111-2222-3333-4444-555555555555", ResourceGroup: "rg-prod", ResourceType: "microsoft.compute/virtualmachines",
	ResourceName: "vm-web-01", FiredAt: "2025-01-01T12:00:00Z", Custom: map[string]string{},
}

const vmID = "/subscriptions/11111111-2222-3333-4444-555555555555/resourcegroups/rg-prod/providers/microsoft.compute/virtualmachines/vm-web-01"

func createReq(key string) *sdk.CreateRequest {
	return &sdk.CreateRequest{TicketKey: key, Alert: testAlert,
		Ticket: sdk.Ticket{Title: "[Sev1] High CPU on vm-web-01", Description: "CPU above 90%", Severity: 1}}
}

func resolvedAlert() sdk.Alert {
	a := testAlert
	a.Status, a.ResolvedAt = sdk.StatusResolved, "2025-01-01T12:30:00Z"
	return a
}

// ticket returns the single emulator ticket for key.
func (e *testEnv) ticket(key string) emulator.Ticket {
	e.t.Helper()
	ts := e.emu.Tickets(key)
	if len(ts) != 1 {
		e.t.Fatalf("emulator holds %d tickets for %q, want 1", len(ts), key)
	}
	return ts[0]
}

// countCalls counts logged vendor calls whose path ends with suffix.
func (e *testEnv) countCalls(method, suffix string) int {
	n := 0
	for _, c := range e.emu.Calls() {
		if c.Method == method && strings.HasSuffix(c.Path, suffix) {
			n++
		}
	}
	return n
}

// recorder is a transport that keeps the bodies of /token responses.
type recorder struct {
	mu     sync.Mutex
	tokens []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !strings.HasSuffix(req.URL.Path, "/token") {
		return resp, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	r.mu.Lock()
	r.tokens = append(r.tokens, string(b))
	r.mu.Unlock()
	return resp, nil
}

func (r *recorder) bodies() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.tokens...)
}
