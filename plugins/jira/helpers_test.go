package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/plugins/jira/emulator"
	"github.com/itsmbridge/itsmbridge/plugins/jira/internal/contract"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest"
)

// The official descriptions (copied unchanged into emulator/testdata, see
// SOURCES.md there) are loaded once per test binary.
var (
	specOnce  sync.Once
	validator *contract.Validator
	specErr   error
)

func specs(t testing.TB) *contract.Validator {
	t.Helper()
	specOnce.Do(func() {
		validator, specErr = contract.Load(contract.JiraSpecs("emulator/testdata")...)
	})
	if specErr != nil {
		t.Fatalf("load specs: %v", specErr)
	}
	return validator
}

// fixture is an emulator behind the kit's fault handler and the contract
// middleware, and a plugin configured against it. Every exchange between
// plugin and emulator is validated against the official descriptions.
type fixture struct {
	t      testing.TB
	emu    *emulator.Emulator
	faults *plugintest.FaultHandler
	srv    *httptest.Server
	rec    *contract.Recorder
	p      *Plugin
}

func newServer(t testing.TB, opts emulator.Options) *fixture {
	t.Helper()
	f := &fixture{t: t, emu: emulator.New(opts), rec: &contract.Recorder{}}
	f.faults = plugintest.NewFaultHandler(specs(t).Middleware(f.emu, f.rec))
	f.srv = httptest.NewServer(f.faults)
	t.Cleanup(func() {
		f.srv.Close()
		for _, x := range f.rec.Violations() {
			t.Errorf("contract violation: %v", x.Err)
		}
	})
	return f
}

// newFixture starts an emulator and configures a plugin with the minimum
// demo config (url, username, api_token, project) plus extra HCL.
func newFixture(t testing.TB, opts emulator.Options, extra string) *fixture {
	t.Helper()
	f := newServer(t, opts)
	f.p = f.plugin(extra)
	return f
}

// plugin returns a fresh plugin (a "restart") configured with extra.
func (f *fixture) plugin(extra string) *Plugin {
	f.t.Helper()
	p := NewWithLogger(hclog.NewNullLogger())
	if d := f.configure(p, extra); d.HasErrors() {
		f.t.Fatalf("Configure: %s", d.Error())
	}
	return p
}

func (f *fixture) minimal(extra string) string {
	project := "project = \"OPS\"\n"
	if strings.HasPrefix(extra, "project =") || strings.Contains(extra, "\nproject =") {
		project = ""
	}
	return fmt.Sprintf("url = %q\nusername = \"sandbox\"\napi_token = \"sandbox\"\n%s%s", f.srv.URL, project, extra)
}

func (f *fixture) configure(p *Plugin, extra string) sdk.Diagnostics {
	f.t.Helper()
	src := extra
	if !strings.Contains(extra, "url ") && !strings.Contains(extra, "url=") {
		src = f.minimal(extra)
	}
	return configureHCL(f.t, p, src)
}

func configureHCL(t testing.TB, p *Plugin, src string) sdk.Diagnostics {
	t.Helper()
	cfg, err := plugintest.DecodeConfig(p.Schema(), src)
	if err != nil {
		t.Fatalf("decode config: %v", err)
	}
	return p.Configure(ctx(t), &sdk.ConfigureRequest{Config: cfg, Backend: "test"})
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func createReq(key string) *sdk.CreateRequest {
	a := plugintest.SampleAlert()
	return &sdk.CreateRequest{TicketKey: key, Alert: a, Ticket: sdk.Ticket{
		Title:       "[Sev1] " + a.Rule + " on " + a.ResourceName,
		Description: a.Description + "\n\nAlert id: " + a.ID + "\nPortal: https://portal.azure.com/#blade/x",
		Severity:    1, Fields: map[string]string{},
	}}
}

func (f *fixture) create(p *Plugin, key string) *sdk.TicketRef {
	f.t.Helper()
	ref, err := p.Create(ctx(f.t), createReq(key))
	if err != nil {
		f.t.Fatalf("Create(%s): %v", key, err)
	}
	return ref
}

func (f *fixture) ticket(key string) emulator.Ticket {
	f.t.Helper()
	tk, ok := f.emu.Ticket(key)
	if !ok {
		f.t.Fatalf("no issue %s in the emulator", key)
	}
	return tk
}

// transition moves an issue along a transition id directly in the emulator's API.
func (f *fixture) transition(key, id string, resolution string) {
	f.t.Helper()
	body := map[string]any{"transition": map[string]any{"id": id}}
	if resolution != "" {
		body["fields"] = map[string]any{"resolution": map[string]any{"name": resolution}}
	}
	if err := f.p.st.client.do(ctx(f.t), "test transition", "POST", "/rest/api/3/issue/"+key+"/transitions", nil, body, nil); err != nil {
		f.t.Fatalf("transition %s %s: %v", key, id, err)
	}
}
