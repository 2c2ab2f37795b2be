package console_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/auth/entratest"
	"github.com/itsmbridge/itsmbridge/core/bridge"
	"github.com/itsmbridge/itsmbridge/core/pluginhost"
	"github.com/itsmbridge/itsmbridge/core/store"
)

// chromiumPath is Debian's chromium (apt-get install -y chromium).
const chromiumPath = "/usr/bin/chromium"

const (
	e2eTenant   = "00000000-0000-0000-0000-00000000a2e1"
	e2eAudience = "api://itsmbridge"
	e2eToken    = "e2e-admin-token"
)

// e2eConfig has two jsonl backends. "broken" starts with a corrupt line in
// its file: the plugin's Create reads the file first and reports a corrupt
// line as a permanent error, so its delivery is dead-lettered at once, with
// no timing involved. Emptying the file repairs the backend, and a replay
// then succeeds.
const e2eConfig = `
plugin_dir = %q
server {
  listen           = "127.0.0.1:0"
  admin_listen     = "127.0.0.2:0"
  admin_token      = %q
  shutdown_timeout = "2s"
}
store "sqlite" { path = %q }
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
backend "jsonl" "broken" {
  config {
    path          = %q
    number_prefix = "BRK-"
  }
}
route "broken" {
  match = alert.resource_name == "vm-broken"
  to    = [backend.jsonl.broken]
}
route "all" {
  match = true
  to    = [backend.jsonl.file]
}
`

// buildPlugin builds the template plugin (examples/plugin-template) into a
// fresh plugin directory.
func buildPlugin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, pluginhost.BinaryPrefix+"jsonl"), "../../examples/plugin-template")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("building the template plugin: %v\n%s", err, out.String())
	}
	return dir
}

func artifactDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("ITSMBRIDGE_ARTIFACTS"); d != "" {
		dir := filepath.Join(d, "console-e2e")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// TestConsoleInBrowser drives the console in headless Chromium against a
// real bridge: sign in, watch the overview refresh, follow an alert to its
// ticket, and replay a dead letter by clicking (accepting the confirmation).
// Screenshots of each step go to $ITSMBRIDGE_ARTIFACTS/console-e2e.
func TestConsoleInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("browser test: %s not found; .ci/run installs Debian's chromium, so CI must have it", chromiumPath)
		}
		t.Skipf("browser test skipped: %s not found; install Debian's Chromium with `apt-get install -y chromium`", chromiumPath)
	}
	shots := artifactDir(t)
	t.Logf("screenshots: %s", shots)

	// The bridge, with its plugin and a local Entra ID stand-in.
	dir := t.TempDir()
	entra := entratest.New()
	entra.Start()
	t.Cleanup(entra.Close)
	goodFile, brokenFile := filepath.Join(dir, "tickets.jsonl"), filepath.Join(dir, "broken.jsonl")
	if err := os.WriteFile(brokenFile, []byte("this line is not JSON\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.hcl")
	cfg := fmt.Sprintf(e2eConfig, buildPlugin(t), e2eToken, filepath.Join(dir, "db.sqlite"), e2eTenant, e2eAudience, entra.Authority(), goodFile, brokenFile)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startCtx, cancelStart := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancelStart()
	b, err := bridge.Start(startCtx, bridge.Options{ConfigPath: cfgPath, Logger: hclog.NewNullLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		b.Shutdown(ctx)
	})
	if err := b.WaitReady(startCtx); err != nil {
		t.Fatal(err)
	}
	admin := "http://" + b.Addr("admin")

	tok, err := entra.ActionGroupToken(entratest.TokenOptions{Tenant: e2eTenant, Audience: e2eAudience, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i, vm := range []string{"vm-ok", "vm-broken"} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+b.Addr("ingress")+"/hook", bytes.NewReader(payloadFor(t, 100+i, "CPU high on "+vm, 2, vm)))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("posting the %s alert: %d", vm, resp.StatusCode)
		}
	}
	st := b.Store()
	ctx := context.Background()
	waitFor(t, "a ticket for vm-ok and a dead letter for vm-broken", 20*time.Second, func() bool {
		tickets, err1 := st.ListTickets(ctx, store.TicketFilter{}, store.PageRequest{})
		dead, err2 := st.ListDeadLetters(ctx, store.BackendID{}, store.PageRequest{})
		return err1 == nil && err2 == nil && len(tickets.Items) == 1 && len(dead.Items) == 1
	})
	dead, _ := st.ListDeadLetters(ctx, store.BackendID{}, store.PageRequest{})
	deadID, deadAlert := dead.Items[0].ID, dead.Items[0].AlertID

	// The browser: Debian's Chromium with a fresh profile, in a time zone
	// other than UTC so that localised times differ from the UTC text.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1366, 900),
		chromedp.Env("TZ=Asia/Kolkata"),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	bctx, cancel := context.WithTimeout(browser, 45*time.Second)
	defer cancel()

	// Script errors anywhere fail the test; dialogs (the confirmations) are
	// accepted and remembered.
	var mu sync.Mutex
	var exceptions, dialogs []string
	go func() {
		for ev, err := range chromedp.Events(bctx, runtime.ExceptionThrown) {
			if err != nil {
				return
			}
			mu.Lock()
			exceptions = append(exceptions, fmt.Sprintf("%s:%d: %s", ev.ExceptionDetails.URL, ev.ExceptionDetails.LineNumber, ev.ExceptionDetails.Text))
			mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range chromedp.Events(bctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			mu.Lock()
			dialogs = append(dialogs, string(ev.Type)+": "+ev.Message)
			mu.Unlock()
			if _, err := chromedp.Call(bctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil {
				t.Errorf("accepting the dialog: %v", err)
			}
		}
	}()

	step := 0
	shot := func(name string) {
		t.Helper()
		step++
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(shots, fmt.Sprintf("%02d-%s.png", step, name))
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", path)
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			shot("failed")
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			shot("failed")
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}
	click := func(what string, sel chromedp.Search) {
		t.Helper()
		if _, err := chromedp.RunResponse(bctx, chromedp.Click(sel)); err != nil {
			shot("failed")
			t.Fatalf("%s: %v", what, err)
		}
	}

	// Sign in: the console sends a browser without the token to /login.
	do("opening the console", chromedp.Navigate(admin+"/"), chromedp.WaitVisible(chromedp.ID("token")))
	shot("login")
	do("typing the token", chromedp.SendKeys(chromedp.ID("token"), e2eToken))
	click("signing in", chromedp.Search(`//button[@type="submit"]`))
	do("waiting for the overview", chromedp.WaitVisible(chromedp.ID("live")))
	if h := text("h1"); h != "Overview" {
		t.Fatalf("after sign-in the page is %q", h)
	}
	if got := text(".card.warn dd"); got != "1" {
		t.Errorf("dead letters card = %q, want 1", got)
	}
	// The overview refreshes in place: its "Updated" time changes without
	// a navigation, and times are shown in the browser's zone.
	before, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("#live time").getAttribute("datetime")`))
	if err != nil {
		t.Fatal(err)
	}
	do("waiting for the overview to refresh",
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector("#live time").getAttribute("datetime") !== %q`, before),
			chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))
	local, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`(function(){var t=document.querySelector("#live time");return [t.textContent, t.title];})()`))
	if err != nil {
		t.Fatal(err)
	}
	if len(local) != 2 || local[0] == local[1] || !strings.HasSuffix(local[1], " UTC") {
		t.Errorf("time not localised: text %q, title %q", local[0], local[1])
	}
	shot("overview")

	// Follow the good alert to its ticket.
	do("opening alerts", chromedp.Navigate(admin+"/alerts"), chromedp.WaitVisible(chromedp.CSS("table.list")))
	shot("alerts")
	click("opening the vm-ok alert", chromedp.Search(`//td/a[normalize-space()="CPU high on vm-ok"]`))
	do("waiting for the alert", chromedp.WaitVisible(chromedp.ID("h-deliveries")))
	if body := text("main"); !strings.Contains(body, "TPL-000001") || !strings.Contains(body, "Routes re-evaluated now") {
		t.Errorf("alert page lacks its ticket or its routes:\n%s", body)
	}
	shot("alert")
	click("following the alert to its ticket", chromedp.Search(`//a[normalize-space()="ticket history"]`))
	do("waiting for the ticket", chromedp.WaitVisible(chromedp.ID("h-gen")))
	if body := text("main"); !strings.Contains(body, "Generation 1") || !strings.Contains(body, "TPL-000001") || !strings.Contains(body, "created") {
		t.Errorf("ticket page lacks the ticket or its history:\n%s", body)
	}
	shot("ticket")

	// Repair the broken backend, then replay its dead letter by clicking.
	if err := os.WriteFile(brokenFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	do("opening dead letters", chromedp.Navigate(admin+"/dlq"), chromedp.WaitVisible(chromedp.ID(fmt.Sprintf("dl-%d", deadID))))
	if body := text("main"); !strings.Contains(body, "corrupt line") {
		t.Errorf("dead letter page lacks the reason:\n%s", body)
	}
	shot("dead-letters")
	do("clicking Replay",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[data-action="/api/v1/dlq/%d/replay"]`, deadID))),
		chromedp.Poll[chromedp.Void](`document.getElementById("flash").textContent.indexOf("replayed") >= 0`, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.WaitNotPresent(chromedp.ID(fmt.Sprintf("dl-%d", deadID))),
	)
	shot("dead-letter-replayed")
	mu.Lock()
	if len(dialogs) != 1 || !strings.Contains(dialogs[0], fmt.Sprintf("Replay dead letter %d", deadID)) {
		t.Errorf("confirmation dialogs = %q", dialogs)
	}
	mu.Unlock()

	// The replayed delivery reaches the repaired backend.
	waitFor(t, "the replayed delivery to be done", 15*time.Second, func() bool {
		d, err := st.GetDelivery(ctx, deadID)
		return err == nil && d.State == store.StateDone
	})
	do("opening the replayed alert", chromedp.Navigate(fmt.Sprintf("%s/alerts/%d", admin, deadAlert)), chromedp.WaitVisible(chromedp.ID("h-deliveries")))
	if body := text("main"); !strings.Contains(body, "BRK-000001") {
		t.Errorf("replayed alert page lacks its new ticket:\n%s", body)
	}
	shot("alert-after-replay")

	// A payload of no known schema is quarantined; the page shows it.
	req, _ := http.NewRequest(http.MethodPost, "http://"+b.Addr("ingress")+"/hook", strings.NewReader(`{"kind":"not an Azure alert"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("posting an unknown payload: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	do("opening quarantine", chromedp.Navigate(admin+"/quarantine"), chromedp.WaitVisible(chromedp.CSS(`button[data-action$="/replay"]`)))
	shot("quarantine")

	// The route tester evaluates a pasted payload.
	do("testing a payload",
		chromedp.Navigate(admin+"/route-test"),
		chromedp.SetValue(chromedp.ID("payload"), string(payloadFor(t, 200, "Disk full", 1, "vm-broken"))),
	)
	click("submitting the route test", chromedp.Search(`//button[normalize-space()="Test routes"]`))
	do("waiting for the route test", chromedp.WaitVisible(chromedp.ID("h-result")))
	if body := text("#result"); !strings.Contains(body, "jsonl.broken") || !strings.Contains(body, "[Sev1] Disk full on vm-broken") {
		t.Errorf("route test result lacks the ticket:\n%s", body)
	}
	shot("route-tester")

	do("opening config", chromedp.Navigate(admin+"/config"), chromedp.WaitVisible(chromedp.ID("h-routes")))
	if body := text("main"); strings.Contains(body, e2eToken) || !strings.Contains(body, "jsonl 0.1.0") {
		t.Errorf("config page shows the token or lacks the plugin:\n%s", body)
	}
	shot("config")

	mu.Lock()
	defer mu.Unlock()
	if len(exceptions) > 0 {
		t.Errorf("script errors in the console: %q", exceptions)
	}
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
