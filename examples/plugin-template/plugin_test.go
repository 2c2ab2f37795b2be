package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest"
)

// fileBackend is the conformance kit's view of the "vendor": the file.
// A file cannot answer 429 or hang, so the kit skips its error-classification
// and cancellation checks here; an HTTP plugin's emulator adapter implements
// plugintest.FaultInjector, NetworkBreaker and Staller (see
// plugintest.FaultHandler) and gets those checks too.
type fileBackend struct{ path string }

func (b fileBackend) Reset() {}

func (b fileBackend) CountTickets(key string) int {
	n := 0
	for _, ev := range readEvents(b.path) {
		if ev.Op == "create" && ev.TicketKey == key {
			n++
		}
	}
	return n
}

func readEvents(path string) []event {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev event
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			out = append(out, ev)
		}
	}
	return out
}

func TestConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tickets.jsonl")
	plugintest.Run(t, plugintest.Options{
		Factory: func() sdk.Plugin { return New() },
		Config:  fmt.Sprintf("path = %q\n", path),
		Backend: fileBackend{path: path},
		Binary:  ".",
		BadConfigs: []plugintest.BadConfig{
			{Config: fmt.Sprintf("path = %q\n", filepath.Join(t.TempDir(), "missing-dir", "t.jsonl")), Path: []string{"path"}},
			{Config: fmt.Sprintf("path = %q\n", t.TempDir()), Path: []string{"path"}},
		},
	})
}

// TestFileFormat pins what lands in the file: one event per operation, no
// event for a no-op.
func TestFileFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tickets.jsonl")
	p := configure(t, path)
	ctx := context.Background()
	alert := plugintest.SampleAlert()
	ref, err := p.Create(ctx, &sdk.CreateRequest{TicketKey: "k1", Alert: alert,
		Ticket: sdk.Ticket{Title: "CPU high", Description: "d", Severity: 1, Fields: map[string]string{"assignee": "noc"}}})
	if err != nil {
		t.Fatal(err)
	}
	if ref.Number != "TPL-000001" || ref.State != "new" || ref.URL == "" {
		t.Errorf("ref = %+v", ref)
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"resolve", func() error { return p.Resolve(ctx, &sdk.ResolveRequest{Ref: *ref, TicketKey: "k1", Alert: alert}) }},
		{"resolve again (no-op)", func() error { return p.Resolve(ctx, &sdk.ResolveRequest{Ref: *ref, TicketKey: "k1", Alert: alert}) }},
		{"reopen", func() error { return p.Reopen(ctx, &sdk.ReopenRequest{Ref: *ref, TicketKey: "k1", Alert: alert}) }},
		{"reopen again (no-op)", func() error { return p.Reopen(ctx, &sdk.ReopenRequest{Ref: *ref, TicketKey: "k1", Alert: alert}) }},
		{"comment", func() error {
			return p.Comment(ctx, &sdk.CommentRequest{Ref: *ref, TicketKey: "k1", Text: "still high"})
		}},
		{"bind ci", func() error {
			_, err := p.BindCI(ctx, &sdk.BindCIRequest{Ref: *ref, Item: sdk.ConfigurationItem{ResourceID: alert.Targets[0], Name: "vm-web-01"}})
			return err
		}},
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	var ops []string
	for _, ev := range readEvents(path) {
		ops = append(ops, ev.Op)
	}
	want := []string{"create", "resolve", "reopen", "comment", "bind_ci"}
	if fmt.Sprint(ops) != fmt.Sprint(want) {
		t.Errorf("events = %v, want %v", ops, want)
	}
	if evs := readEvents(path); evs[0].Assignee != "noc" || evs[0].Title != "CPU high" || evs[0].AlertID != alert.ID {
		t.Errorf("create event = %+v", evs[0])
	}
}

func TestErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tickets.jsonl")
	ctx := context.Background()
	tests := []struct {
		name      string
		setup     func(t *testing.T) *Plugin
		run       func(p *Plugin) error
		retryable bool
	}{
		{"unconfigured", func(*testing.T) *Plugin { return New() }, func(p *Plugin) error {
			_, err := p.Create(ctx, &sdk.CreateRequest{TicketKey: "k"})
			return err
		}, false},
		{"empty ticket key", func(t *testing.T) *Plugin { return configure(t, path) }, func(p *Plugin) error {
			_, err := p.Create(ctx, &sdk.CreateRequest{})
			return err
		}, false},
		{"unknown ticket", func(t *testing.T) *Plugin { return configure(t, path) }, func(p *Plugin) error {
			return p.Comment(ctx, &sdk.CommentRequest{Ref: sdk.TicketRef{ID: "tpl-nope"}})
		}, false},
		{"corrupt file", func(t *testing.T) *Plugin {
			bad := filepath.Join(t.TempDir(), "bad.jsonl")
			if err := os.WriteFile(bad, []byte("{not json\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return configure(t, bad)
		}, func(p *Plugin) error {
			_, err := p.Find(ctx, &sdk.FindRequest{TicketKey: "k"})
			return err
		}, false},
		{"cancelled context", func(t *testing.T) *Plugin { return configure(t, path) }, func(p *Plugin) error {
			c, cancel := context.WithCancel(ctx)
			cancel()
			_, err := p.Create(c, &sdk.CreateRequest{TicketKey: "k"})
			return err
		}, true},
		{"directory removed", func(t *testing.T) *Plugin {
			dir := t.TempDir()
			p := configure(t, filepath.Join(dir, "t.jsonl"))
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			return p
		}, func(p *Plugin) error {
			_, err := p.Create(ctx, &sdk.CreateRequest{TicketKey: "k"})
			return err
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(tc.setup(t))
			if err == nil {
				t.Fatal("want error")
			}
			if got := sdk.IsRetryable(err); got != tc.retryable {
				t.Errorf("retryable = %v, want %v (%v)", got, tc.retryable, err)
			}
		})
	}
}

func configure(t *testing.T, path string) *Plugin {
	t.Helper()
	p := New()
	cfg, err := plugintest.DecodeConfig(p.Schema(), fmt.Sprintf("path = %q\n", path))
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Configure(context.Background(), &sdk.ConfigureRequest{Config: cfg}); d.HasErrors() {
		t.Fatal(d.Error())
	}
	return p
}
