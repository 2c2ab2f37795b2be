package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/plugins/servicenow/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest"
)

// fixture is a configured plugin in front of an emulator.
type fixture struct {
	t   *testing.T
	emu *emulator.Emulator
	srv *httptest.Server
	p   *Plugin
}

// newFixture starts an emulator and configures a plugin with the minimum
// config plus extra HCL attributes.
func newFixture(t *testing.T, opts emulator.Options, extra string) *fixture {
	t.Helper()
	emu := emulator.New(opts)
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	f := &fixture{t: t, emu: emu, srv: srv, p: NewWithLogger(hclog.NewNullLogger())}
	if d := f.configure(f.p, extra); d.HasErrors() {
		t.Fatalf("Configure: %s", d.Error())
	}
	return f
}

// minimal is the demo config: instance_url, username, password.
func (f *fixture) minimal(extra string) string {
	return fmt.Sprintf("instance_url = %q\nusername = \"sandbox\"\npassword = \"sandbox\"\n%s", f.srv.URL, extra)
}

func (f *fixture) configure(p *Plugin, extra string) sdk.Diagnostics {
	f.t.Helper()
	src := extra
	if !strings.Contains(extra, "instance_url") {
		src = f.minimal(extra)
	}
	return configureHCL(f.t, p, src)
}

func configureHCL(t *testing.T, p *Plugin, src string) sdk.Diagnostics {
	t.Helper()
	cfg, err := plugintest.DecodeConfig(p.Schema(), src)
	if err != nil {
		t.Fatalf("decode config: %v", err)
	}
	return p.Configure(ctx(t), &sdk.ConfigureRequest{Config: cfg, Backend: "test"})
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func sampleAlert() sdk.Alert { return plugintest.SampleAlert() }

func createReq(key string) *sdk.CreateRequest {
	a := sampleAlert()
	return &sdk.CreateRequest{TicketKey: key, Alert: a, Ticket: sdk.Ticket{
		Title: "[Sev1] " + a.Rule, Description: a.Description, Severity: a.Severity, Fields: map[string]string{},
	}}
}

func (f *fixture) create(key string) *sdk.TicketRef {
	f.t.Helper()
	ref, err := f.p.Create(ctx(f.t), createReq(key))
	if err != nil {
		f.t.Fatalf("Create(%s): %v", key, err)
	}
	return ref
}

func (f *fixture) incident(id string) map[string]string {
	f.t.Helper()
	rec, ok := f.emu.Record("incident", id)
	if !ok {
		f.t.Fatalf("incident %s not in emulator", id)
	}
	return rec
}

func resolvedAlert() sdk.Alert {
	a := sampleAlert()
	a.Status = sdk.StatusResolved
	a.ResolvedAt = "2025-01-01T12:30:00Z"
	return a
}

// wantKind asserts err's classification.
func wantKind(t *testing.T, what string, err error, kind sdk.ErrorKind) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %s", what, kind)
	}
	if k, _ := sdk.Classify(err); k != kind {
		t.Fatalf("%s: %s error %v, want %s", what, k, err, kind)
	}
}
