package bridge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/auth/entratest"
	"github.com/itsmbridge/itsmbridge/core/pluginhost"
	"github.com/itsmbridge/itsmbridge/core/retention"
)

const (
	tenant   = "00000000-0000-0000-0000-00000000a2e1"
	audience = "api://itsmbridge"
)

var (
	pluginDir string // holds itsmbridge-plugin-jsonl (examples/plugin-template)
	hostBin   string // bin/itsmbridge, for the SIGKILL test
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bridge-test")
	if err != nil {
		panic(err)
	}
	pluginDir = filepath.Join(dir, "plugins")
	hostBin = filepath.Join(dir, "itsmbridge")
	for _, b := range [][2]string{
		{filepath.Join(pluginDir, pluginhost.BinaryPrefix+"jsonl"), "../../examples/plugin-template"},
		{hostBin, "../cmd/itsmbridge"},
	} {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", b[1], err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type testEnv struct {
	t           *testing.T
	dir         string
	entra       *entratest.Server
	cfgPath     string
	ticketsFile string
	storeAttrs  string // extra attributes of the store block
	serverAttrs string // extra attributes and blocks of the server block
	opts        Options
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	e := &testEnv{t: t, dir: t.TempDir(), entra: entratest.New()}
	e.entra.Start()
	t.Cleanup(e.entra.Close)
	e.cfgPath = filepath.Join(e.dir, "config.hcl")
	e.ticketsFile = filepath.Join(e.dir, "tickets.jsonl")
	e.writeConfig("", "127.0.0.1:0", "127.0.0.2:0")
	return e
}

// writeConfig writes the test configuration; extra is appended verbatim.
func (e *testEnv) writeConfig(extra, listen, admin string) {
	e.t.Helper()
	cfg := fmt.Sprintf(`
plugin_dir = %q
server {
  listen       = %q
  admin_listen = %q
  shutdown_timeout = "2s"
  %s
}
store "sqlite" {
  path = %q
  %s
}
source "azure_monitor" "test" {
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
  lifecycle {
    resolve       = true
    reopen_within = "1h"
  }
}
%s
`, pluginDir, listen, admin, e.serverAttrs, filepath.Join(e.dir, "db.sqlite"), e.storeAttrs, tenant, audience, e.entra.Authority(), e.ticketsFile, extra)
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) start() *Bridge {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	o := e.opts
	o.ConfigPath, o.Logger = e.cfgPath, hclog.NewNullLogger()
	b, err := Start(ctx, o)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.Shutdown(sctx)
	})
	if err := b.WaitReady(ctx); err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *testEnv) token() string {
	e.t.Helper()
	tok, err := e.entra.ActionGroupToken(entratest.TokenOptions{Tenant: tenant, Audience: audience, TTL: time.Hour})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// metricAlert builds a common-schema metric alert from the official
// resolved sample, with its own alert id and condition.
func metricAlert(t testing.TB, n int, fired bool) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/common-platform-metric-static-resolved.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	ess := m["data"].(map[string]any)["essentials"].(map[string]any)
	ess["alertId"] = fmt.Sprintf("/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.AlertsManagement/alerts/%08d-0000-0000-0000-000000000000", n)
	ess["alertTargetIDs"] = []string{fmt.Sprintf("/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm%d", n)}
	if fired {
		ess["monitorCondition"] = "Fired"
		delete(ess, "resolvedDateTime")
	}
	out, _ := json.Marshal(m)
	return out
}

func post(t testing.TB, url, token string, body []byte) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// fileEvents reads the jsonl plugin's file: op counts per ticket key.
func fileEvents(t testing.TB, path string) (creates map[string]int, ops map[string][]string) {
	t.Helper()
	creates, ops = map[string]int{}, map[string][]string{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	idKey := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct{ Op, ID, TicketKey string }
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			continue // a line being written
		}
		ev.Op, _ = raw["op"].(string)
		ev.ID, _ = raw["id"].(string)
		ev.TicketKey, _ = raw["ticket_key"].(string)
		if ev.Op == "create" {
			idKey[ev.ID] = ev.TicketKey
			creates[ev.TicketKey]++
		}
		key := idKey[ev.ID]
		ops[key] = append(ops[key], ev.Op)
	}
	return
}

func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// fireThenResolve posts one alert fired then resolved and waits until the
// ITSM file shows its ticket created then resolved.
func (e *testEnv) fireThenResolve(ingress string) {
	e.t.Helper()
	tok := e.token()
	for _, fired := range []bool{true, false} {
		if code, err := post(e.t, ingress, tok, metricAlert(e.t, 1, fired)); err != nil || code != http.StatusAccepted {
			e.t.Fatalf("post fired=%v: %d %v", fired, code, err)
		}
	}
	waitFor(e.t, "create then resolve in the ITSM", 15*time.Second, func() bool {
		_, ops := fileEvents(e.t, e.ticketsFile)
		for _, o := range ops {
			if strings.Join(o, ",") == "create,resolve" {
				return true
			}
		}
		return false
	})
}

func TestEndToEndFireThenResolve(t *testing.T) {
	e := newTestEnv(t)
	b := e.start()
	ingress := "http://" + b.Addr("ingress") + "/hook"
	admin := "http://" + b.Addr("admin")
	e.fireThenResolve(ingress)
	creates, _ := fileEvents(t, e.ticketsFile)
	if len(creates) != 1 {
		t.Fatalf("creates = %v", creates)
	}

	var tickets struct {
		Items []struct {
			State string
			Ref   struct{ Number string }
		} `json:"items"`
	}
	waitFor(t, "ticket resolved in the store", 5*time.Second, func() bool {
		getJSON(t, admin+"/api/v1/tickets", &tickets)
		return len(tickets.Items) == 1 && tickets.Items[0].State == "resolved"
	})
	if !strings.HasPrefix(tickets.Items[0].Ref.Number, "TPL-") {
		t.Fatalf("ticket = %+v", tickets.Items[0])
	}
	if code := getJSON(t, admin+"/readyz", nil); code != 200 {
		t.Fatalf("/readyz = %d", code)
	}
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`itsmbridge_alerts_received_total{outcome="accepted"`, `itsmbridge_deliveries_total{backend="jsonl.file"`, `itsmbridge_queue_depth{backend="jsonl.file"} 0`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestReloadRejectsInvalidConfigAndKeepsRunning(t *testing.T) {
	e := newTestEnv(t)
	b := e.start()
	good, _ := os.ReadFile(e.cfgPath)
	if err := os.WriteFile(e.cfgPath, append(good, []byte("\nroute \"bad\" {\n  match = true\n  to = [backend.jsonl.fiel]\n}\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	var res ReloadResult
	resp, err := http.Post("http://"+b.Addr("admin")+"/api/v1/reload", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&res)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity || res.OK || !strings.Contains(res.Diagnostics, "jsonl.file") {
		t.Fatalf("reload = %d %+v, want 422 with a did-you-mean diagnostic", resp.StatusCode, res)
	}
	// The old configuration still serves.
	if code, _ := post(t, "http://"+b.Addr("ingress")+"/hook", e.token(), metricAlert(t, 7, true)); code != http.StatusAccepted {
		t.Fatalf("post after rejected reload = %d", code)
	}
	// A valid change applies.
	if err := os.WriteFile(e.cfgPath, append(good, []byte("\nroute \"extra\" {\n  match = false\n  to = [backend.jsonl.file]\n}\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := b.Reload(context.Background()); !res.OK {
		t.Fatalf("valid reload rejected: %s", res.Diagnostics)
	}
	if n := len(b.Config().Routes); n != 2 {
		t.Fatalf("routes after reload = %d", n)
	}
	waitFor(t, "alert delivered after reloads", 10*time.Second, func() bool {
		c, _ := fileEvents(t, e.ticketsFile)
		return len(c) == 1
	})
}

// TestHostSIGKILLMidStream runs the real binary, SIGKILLs it while alerts
// stream in, restarts it on the same database and checks that every
// acknowledged alert got exactly one ticket (DESIGN §8.1, §8.6).
func TestHostSIGKILLMidStream(t *testing.T) {
	e := newTestEnv(t)
	e.writeConfig("", "127.0.0.1:18491", "127.0.0.1:18492")
	ingress := "http://127.0.0.1:18491/hook"
	tok := e.token()
	const total = 120

	startHost := func() *exec.Cmd {
		cmd := exec.Command(hostBin, "serve", "-config", e.cfgPath, "-log-level", "warn")
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "host ready", 20*time.Second, func() bool {
			resp, err := http.Get("http://127.0.0.1:18492/readyz")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
		return cmd
	}
	host := startHost()
	acked := make([]bool, total)
	var mu sync.Mutex
	send := func(from, to int) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		for i := from; i < to; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				code, err := post(t, ingress, tok, metricAlert(t, i, true))
				if err == nil && (code == http.StatusAccepted || code == http.StatusOK) {
					mu.Lock()
					acked[i] = true
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	done := make(chan struct{})
	go func() { send(0, total); close(done) }()
	time.Sleep(300 * time.Millisecond)
	if err := host.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	host.Wait()
	<-done
	// Azure retries what was not acknowledged; do the same on the new host.
	host = startHost()
	defer func() { host.Process.Signal(os.Interrupt); host.Wait() }()
	var missing []int
	for i, ok := range acked {
		if !ok {
			missing = append(missing, i)
		}
	}
	for _, i := range missing {
		if code, err := post(t, ingress, tok, metricAlert(t, i, true)); err != nil || (code != 202 && code != 200) {
			t.Fatalf("resend %d: %d %v", i, code, err)
		}
	}
	t.Logf("%d alerts acknowledged before the kill, %d resent after", total-len(missing), len(missing))
	waitFor(t, "a ticket for every alert", 60*time.Second, func() bool {
		c, _ := fileEvents(t, e.ticketsFile)
		return len(c) == total
	})
	creates, _ := fileEvents(t, e.ticketsFile)
	for key, n := range creates {
		if n != 1 {
			t.Errorf("ticket key %s created %d times", key, n)
		}
	}
}

// TestReloadRemovesAndRestoresBackendWithoutLosingWork removes the only
// backend while alerts are queued for it: the work stays in the store and is
// delivered once the backend is configured again.
func TestReloadRemovesAndRestoresBackendWithoutLosingWork(t *testing.T) {
	e := newTestEnv(t)
	b := e.start()
	good, _ := os.ReadFile(e.cfgPath)
	// Route to a second backend, then remove that backend: its deliveries wait.
	other := strings.Replace(string(good), `to    = [backend.jsonl.file]`, `to    = [backend.jsonl.other]`, 1) +
		fmt.Sprintf("\nbackend \"jsonl\" \"other\" {\n  config { path = %q }\n}\n", e.ticketsFile+".other")
	if err := os.WriteFile(e.cfgPath, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := b.Reload(context.Background()); !res.OK {
		t.Fatalf("reload: %s", res.Diagnostics)
	}
	if err := b.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The original config has no "other" backend: reloading it removes the
	// backend while alerts routed to it may still be queued.
	removed := string(good)
	for i := range 5 {
		if code, _ := post(t, "http://"+b.Addr("ingress")+"/hook", e.token(), metricAlert(t, 100+i, true)); code != http.StatusAccepted {
			t.Fatalf("post = %d", code)
		}
	}
	if err := os.WriteFile(e.cfgPath, []byte(removed), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := b.Reload(context.Background()); !res.OK {
		t.Fatalf("reload removing the backend: %s", res.Diagnostics)
	}
	ctx := context.Background()
	st, err := b.Store().Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var queued int64
	for _, bs := range st.Backends {
		if bs.Backend.Name == "other" {
			queued = bs.Depth()
		}
	}
	done, _ := fileEvents(t, e.ticketsFile+".other")
	if queued+int64(len(done)) != 5 {
		t.Fatalf("after removing the backend: %d queued + %d delivered, want 5 in all", queued, len(done))
	}
	// Put the backend back: every queued delivery is delivered.
	if err := os.WriteFile(e.cfgPath, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := b.Reload(ctx); !res.OK {
		t.Fatalf("reload restoring the backend: %s", res.Diagnostics)
	}
	waitFor(t, "queued deliveries delivered after the backend came back", 15*time.Second, func() bool {
		c, _ := fileEvents(t, e.ticketsFile+".other")
		return len(c) == 5
	})
}

// TestSIGHUPReloads sends SIGHUP to the real binary after changing its config.
func TestSIGHUPReloads(t *testing.T) {
	e := newTestEnv(t)
	e.writeConfig("", "127.0.0.1:18493", "127.0.0.1:18494")
	cmd := exec.Command(hostBin, "serve", "-config", e.cfgPath, "-log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	admin := "http://127.0.0.1:18494"
	waitFor(t, "host ready", 20*time.Second, func() bool {
		resp, err := http.Get(admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	e.writeConfig("route \"added-by-sighup\" {\n  match = false\n  to = [backend.jsonl.file]\n}\n", "127.0.0.1:18493", "127.0.0.1:18494")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new route in the running config", 15*time.Second, func() bool {
		var v struct {
			Config struct {
				Routes []struct{ Name string } `json:"routes"`
			} `json:"config"`
		}
		getJSON(t, admin+"/api/v1/config", &v)
		for _, r := range v.Config.Routes {
			if r.Name == "added-by-sighup" {
				return true
			}
		}
		return false
	})
}

// TestRetentionPurgesFinishedHistory: with retention set, the bridge
// deletes alerts whose deliveries are done and resolved tickets once they
// are older than the retention, and counts them in /metrics. (The loop's
// clock runs two hours ahead, so the one-hour retention applies now.)
func TestRetentionPurgesFinishedHistory(t *testing.T) {
	e := newTestEnv(t)
	e.storeAttrs = `retention = "1h"`
	e.writeConfig("", "127.0.0.1:0", "127.0.0.2:0")
	e.opts.Retention = retention.Options{Delay: 10 * time.Millisecond, Every: 50 * time.Millisecond,
		Now: func() time.Time { return time.Now().Add(2 * time.Hour) }}
	b := e.start()
	ingress := "http://" + b.Addr("ingress") + "/hook"
	admin := "http://" + b.Addr("admin")
	e.fireThenResolve(ingress)
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	waitFor(t, "alerts and ticket purged", 15*time.Second, func() bool {
		getJSON(t, admin+"/api/v1/alerts", &page)
		alerts := len(page.Items)
		getJSON(t, admin+"/api/v1/tickets", &page)
		return alerts == 0 && len(page.Items) == 0
	})
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`itsmbridge_store_purged_total{kind="alert"} 2`, `itsmbridge_store_purged_total{kind="delivery"} 2`, `itsmbridge_store_purged_total{kind="ticket"} 1`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
