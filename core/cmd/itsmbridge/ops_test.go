package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/auth/entratest"
	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/sqlite"
	"github.com/itsmbridge/itsmbridge/sdk"
)

const (
	opsTenant   = "00000000-0000-0000-0000-00000000a2e1"
	opsAudience = "api://itsmbridge"
)

// opsConfig writes a configuration whose store and plugins are in dir.
func opsConfig(t *testing.T, dir, authority string) string {
	t.Helper()
	path := filepath.Join(dir, "config.hcl")
	cfg := fmt.Sprintf(`
plugin_dir = %q
store "sqlite" { path = %q }
source "azure_monitor" "prod" {
  path = "/hook"
  azure_ad {
    tenants   = [%q]
    audiences = [%q]
    authority = %q
  }
}
backend "jsonl" "file" {
  config { path = %q }
}
route "all" {
  match = true
  to    = [backend.jsonl.file]
}
`, filepath.Join(dir, "plugins"), filepath.Join(dir, "db.sqlite"), opsTenant, opsAudience, authority, filepath.Join(dir, "t.jsonl"))
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// openOpsStore opens the SQLite store of opsConfig(dir).
func openOpsStore(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "db.sqlite"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// ingestFire stores a fired alert id with one delivery of ticket key to
// the jsonl backend.
func ingestFire(t *testing.T, st *sqlite.Store, id, key string) store.IngestResult {
	t.Helper()
	res, err := st.Ingest(context.Background(), store.IngestRecord{
		Source:     "prod",
		Alert:      sdk.Alert{ID: id, Status: "fired", Rule: "cpu-high", DedupKey: id + "|fired|t", Targets: []string{}, ConfigurationItems: []string{}, Custom: map[string]string{}},
		Raw:        []byte(`{}`),
		Deliveries: []store.NewDelivery{{Route: "all", Backend: store.BackendID{Type: "jsonl", Name: "file"}, TicketKey: key, Event: store.EventFired}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestAuthCheckExplainsARealToken(t *testing.T) {
	entra := entratest.New()
	authority := entra.Start()
	defer entra.Close()
	cfg := opsConfig(t, t.TempDir(), authority)
	good, err := entra.ActionGroupToken(entratest.TokenOptions{Tenant: opsTenant, Audience: opsAudience})
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("auth", "check", "-config", cfg, "-source", "prod", good)
	if code != exitOK || !strings.Contains(out, "token accepted") || !strings.Contains(out, "signature") {
		t.Fatalf("good token: code %d\n%s%s", code, out, errOut)
	}
	bad, _ := entra.ActionGroupToken(entratest.TokenOptions{Tenant: opsTenant, Audience: "api://someone-else"})
	code, out, _ = runCLI("auth", "check", "-config", cfg, "-source", "prod", bad)
	if code != exitFailed || !strings.Contains(out, "FAIL") || !strings.Contains(out, "bad_audience") {
		t.Fatalf("wrong audience: code %d\n%s", code, out)
	}
	if code, _, errOut := runCLI("auth", "check", "-config", cfg, "-source", "nope", good); code != exitFailed || !strings.Contains(errOut, `no source "nope"`) {
		t.Fatalf("unknown source: %d %s", code, errOut)
	}
}

func TestDLQAndAlertsCommandsOperateOnTheStore(t *testing.T) {
	dir := t.TempDir()
	cfg := opsConfig(t, dir, "http://127.0.0.1:1")
	ctx := context.Background()
	st := openOpsStore(t, dir)
	backend := store.BackendID{Type: "jsonl", Name: "file"}
	res := ingestFire(t, st, "a1", "k1")
	ds, err := st.Claim(ctx, "test", backend, 1, time.Minute)
	if err != nil || len(ds) != 1 {
		t.Fatalf("claim: %v %v", ds, err)
	}
	if err := st.DeadLetter(ctx, ds[0].ID, "test", "ServiceNow 400: Invalid assignment_group"); err != nil {
		t.Fatal(err)
	}
	st.Close()

	code, out, errOut := runCLI("dlq", "list", "-config", cfg)
	if code != exitOK || !strings.Contains(out, "Invalid assignment_group") || !strings.Contains(out, "jsonl.file") {
		t.Fatalf("dlq list: %d\n%s%s", code, out, errOut)
	}
	id := fmt.Sprint(res.Deliveries[0])
	if code, out, errOut := runCLI("dlq", "replay", "-config", cfg, id); code != exitOK || !strings.Contains(out, "replayed") {
		t.Fatalf("dlq replay: %d %s %s", code, out, errOut)
	}
	if code, out, _ := runCLI("dlq", "list", "-config", cfg); code != exitOK || !strings.Contains(out, "no dead letters") {
		t.Fatalf("dlq list after replay: %s", out)
	}
	if code, _, errOut := runCLI("dlq", "drop", "-config", cfg, id); code != exitFailed || !strings.Contains(errOut, "not found") {
		t.Fatalf("dropping a delivery that is no dead letter: %d %s", code, errOut)
	}
	if code, out, _ := runCLI("alerts", "list", "-config", cfg); code != exitOK || !strings.Contains(out, "cpu-high") {
		t.Fatalf("alerts list: %s", out)
	}
	code, out, _ = runCLI("alerts", "show", "-config", cfg, fmt.Sprint(res.AlertID))
	if code != exitOK || !strings.Contains(out, `"TicketKey": "k1"`) {
		t.Fatalf("alerts show: %d %s", code, out)
	}
	if code, _, errOut := runCLI("alerts", "show", "-config", cfg, "999"); code != exitFailed || !strings.Contains(errOut, "not found") {
		t.Fatalf("alerts show 999: %d %s", code, errOut)
	}
}

// TestStoreBackupCommand: store backup writes a checked copy that holds the
// store's alerts, and refuses to overwrite a file.
func TestStoreBackupCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := opsConfig(t, dir, "http://127.0.0.1:1")
	ctx := context.Background()
	st := openOpsStore(t, dir)
	for _, id := range []string{"a1", "a2"} {
		ingestFire(t, st, id, id)
	}
	// The store stays open, as a running server's would.
	defer st.Close()

	out := filepath.Join(dir, "backups", "itsmbridge-backup.sqlite")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI("store", "backup", "-config", cfg, "-out", out)
	if code != exitOK || !strings.Contains(stdout, "2 alerts, 2 deliveries, integrity ok") {
		t.Fatalf("store backup: %d\n%s%s", code, stdout, stderr)
	}
	b, err := sqlite.Open(ctx, out, sqlite.Options{})
	if err != nil {
		t.Fatalf("the backup does not open as a store: %v", err)
	}
	defer b.Close()
	if a, err := b.ListAlerts(ctx, store.AlertFilter{}, store.PageRequest{Limit: 10}); err != nil || len(a.Items) != 2 {
		t.Fatalf("alerts in the backup = %+v, %v; want 2", a, err)
	}
	if code, _, stderr := runCLI("store", "backup", "-config", cfg, "-out", out); code == exitOK || !strings.Contains(stderr, "already exists") {
		t.Fatalf("a second backup to the same file: %d %s", code, stderr)
	}
	if code, _, stderr := runCLI("store", "backup", "-config", cfg); code != exitFailed || !strings.Contains(stderr, "-out FILE is required") {
		t.Fatalf("store backup without -out: %d %s", code, stderr)
	}
}

func TestPluginsListLaunchesPlugins(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the template plugin; skipped in -short")
	}
	dir := t.TempDir()
	cfg := opsConfig(t, dir, "http://127.0.0.1:1")
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "plugins", "itsmbridge-plugin-jsonl"), "../../../examples/plugin-template")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	code, out, errOut := runCLI("plugins", "list", "-config", cfg)
	if code != exitOK || !strings.Contains(out, "jsonl.file") || !strings.Contains(out, "bind_ci") {
		t.Fatalf("plugins list: %d\n%s%s", code, out, errOut)
	}
	// validate runs the plugin's schema against the config block.
	if code, out, errOut := runCLI("validate", "-config", cfg); code != exitOK || strings.Contains(out, "not checked") {
		t.Fatalf("validate: %d\n%s%s", code, out, errOut)
	}
	os.Remove(filepath.Join(dir, "plugins", "itsmbridge-plugin-jsonl"))
	if code, _, errOut := runCLI("plugins", "list", "-config", cfg); code != exitRuntime || !strings.Contains(errOut, "binary not found") {
		t.Fatalf("missing plugin: %d %s", code, errOut)
	}
}
