package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/admin"
	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/core/console"
	"github.com/itsmbridge/itsmbridge/core/ingest"
	"github.com/itsmbridge/itsmbridge/core/normalize"
	"github.com/itsmbridge/itsmbridge/core/pluginhost"
	"github.com/itsmbridge/itsmbridge/core/route"
	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/sqlite"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/hostclient"
)

const (
	hostileRule = `<script>alert("pwned")</script>`
	// secretValue is what env("SNOW_PASSWORD") returns; it must never show.
	secretValue = "hunter2-very-secret"
	adminToken  = "admin-token-for-tests"
)

var backendID = store.BackendID{Type: "jsonl", Name: "file"}

// fakeRuntime is the running bridge as the console and the admin API see it,
// backed by a real configuration, router and store.
type fakeRuntime struct {
	cfg    *config.Config
	router *route.Router
	st     store.Store

	mu      sync.Mutex
	reloads int
}

func (f *fakeRuntime) Config() *config.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg
}
func (f *fakeRuntime) LastReload() console.Reload {
	return console.Reload{At: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), OK: false, Diagnostics: "config.hcl:3,1: Unsupported block type <b>"}
}
func (f *fakeRuntime) Backends() []console.Backend {
	return []console.Backend{{
		ID:     backendID,
		Status: pluginhost.Status{Running: true, Restarts: 2, Info: hostclient.Info{Name: "jsonl", Version: "0.1.0", APIVersions: []string{"1"}, Capabilities: []string{"create", "resolve", "bind_ci"}}},
		Info:   pluginhost.Info{Type: "jsonl", Name: "jsonl", Version: "0.1.0", Path: "/opt/plugins/itsmbridge-plugin-jsonl"},
	}}
}

// adminRuntime is the same runtime as the admin API sees it, for the API the
// console's buttons call.
type adminRuntime struct{ *fakeRuntime }

func (a adminRuntime) Backends() any { return a.fakeRuntime.Backends() }

func (f *fakeRuntime) Ready(context.Context) error { return nil }
func (f *fakeRuntime) Reload(context.Context) (any, bool) {
	f.mu.Lock()
	f.reloads++
	f.mu.Unlock()
	return map[string]any{"ok": true}, true
}
func (f *fakeRuntime) ConfigDump() any { return f.Config().Dump() }
func (f *fakeRuntime) ReplayQuarantine(context.Context, int64) (store.IngestResult, error) {
	return store.IngestResult{}, fmt.Errorf("%w: still of no known schema", store.ErrInvalid)
}

type env struct {
	t   *testing.T
	dir string
	st  *sqlite.Store
	rt  *fakeRuntime
	srv *httptest.Server
	now time.Time
}

const testConfig = `
plugin_dir = "plugins"
server {
  admin_token    = env("ADMIN_TOKEN")
  max_body_bytes = 65536
}
store "sqlite" { path = "db.sqlite" }
source "azure_monitor" "prod" {
  path = "/hook"
  azure_ad {
    tenants   = ["00000000-0000-0000-0000-00000000a2e1"]
    audiences = ["api://itsmbridge"]
  }
}
backend "jsonl" "file" {
  config {
    path     = "tickets.jsonl"
    password = env("SNOW_PASSWORD")
  }
}
route "critical" {
  match = alert.severity <= 1
  to    = [backend.jsonl.file]
}
route "everything" {
  match = true
  to    = [backend.jsonl.file]
  ticket {
    title = "[${alert.severity_name}] ${alert.rule} (${env("SNOW_PASSWORD")})"
  }
}
route "broken" {
  match = alert.custom.nope == "x"
  to    = [backend.jsonl.file]
}
`

// loadConfig loads HCL text as the bridge would, with the test's env.
func loadConfig(t *testing.T, dir, text, token string) *config.Config {
	t.Helper()
	path := filepath.Join(dir, "config.hcl")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := func(name string) (string, bool) {
		switch name {
		case "SNOW_PASSWORD":
			return secretValue, true
		case "ADMIN_TOKEN":
			return token, true
		}
		return "", false
	}
	cfg, diags := config.Load(path, config.Options{LookupEnv: lookup})
	if diags.HasErrors() {
		t.Fatalf("config: %s", diags.Error())
	}
	return cfg
}

// newEnv serves the admin API with the console mounted, as the bridge does.
func newEnv(t *testing.T, token string) *env {
	t.Helper()
	dir := t.TempDir()
	cfg := loadConfig(t, dir, testConfig, token)
	router, err := route.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "db.sqlite"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, dir: dir, st: st, rt: &fakeRuntime{cfg: cfg, router: router, st: st}, now: time.Now()}
	con := console.New(console.Options{Store: st, Runtime: e.rt, Now: func() time.Time { return e.now }})
	h := admin.New(admin.Options{Store: st, Runtime: adminRuntime{e.rt}, Token: token, Extra: con.Mount})
	e.srv = httptest.NewServer(console.WithLogin(h, token))
	t.Cleanup(e.srv.Close)
	return e
}

// payload is the official sample as a fired alert with its own id, rule
// and severity.
func payload(t *testing.T, n int, rule string, sev int) []byte {
	t.Helper()
	return payloadFor(t, n, rule, sev, fmt.Sprintf("vm%d", n))
}

// payloadFor is payload about the virtual machine vm.
func payloadFor(t *testing.T, n int, rule string, sev int, vm string) []byte {
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
	ess["alertTargetIDs"] = []string{"/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/" + vm}
	ess["alertRule"] = rule
	ess["severity"] = fmt.Sprintf("Sev%d", sev)
	ess["monitorCondition"] = "Fired"
	delete(ess, "resolvedDateTime")
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ingest runs a payload through the real normalize → route → store path.
func (e *env) ingest(raw []byte, receivedAt time.Time) store.IngestResult {
	e.t.Helper()
	a, err := normalize.Normalize(raw)
	if err != nil {
		e.t.Fatal(err)
	}
	a.Source = "prod"
	routed, _ := e.rt.router.Route(a)
	rec := store.IngestRecord{Source: "prod", Alert: *a, Raw: raw, ReceivedAt: receivedAt}
	for _, d := range routed {
		nd, err := ingest.NewDelivery(a, d)
		if err != nil {
			e.t.Fatal(err)
		}
		rec.Deliveries = append(rec.Deliveries, nd)
	}
	res, err := e.st.Ingest(context.Background(), rec)
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// claim leases the delivery id as a dispatcher worker would.
func (e *env) claim(id int64) store.Delivery {
	e.t.Helper()
	ds, err := e.st.Claim(context.Background(), "test-worker", backendID, 100, time.Minute)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, d := range ds {
		if d.ID == id {
			return d
		}
	}
	e.t.Fatalf("delivery %d not claimable", id)
	return store.Delivery{}
}

// fixture is a store with a ticketed alert, a dead-lettered hostile alert
// and a quarantined hostile payload.
type fixture struct {
	okAlert, deadAlert, quarantined int64
	okDelivery, deadDelivery        int64
	ticketKey                       string
}

func (e *env) seed() fixture {
	e.t.Helper()
	ctx := context.Background()
	var f fixture
	ok := e.ingest(payload(e.t, 1, "High CPU", 1), time.Time{})
	f.okAlert, f.okDelivery = ok.AlertID, ok.Deliveries[0]
	d := e.claim(f.okDelivery)
	f.ticketKey = d.TicketKey
	err := e.st.Complete(ctx, d.ID, "test-worker", store.Outcome{Action: "created", Ticket: &store.Ticket{
		Backend: backendID, Key: d.TicketKey, Generation: 1, State: store.TicketOpen, LastDeliveryID: d.ID,
		Ref:        sdk.TicketRef{ID: "sys-1", Number: "INC0010001", URL: "https://acme.service-now.com/nav_to.do?uri=incident.do%3Fsys_id%3Dsys-1"},
		CIBindings: []store.CIBinding{{Item: "/subscriptions/x/vm1", Ref: sdk.CIRef{ID: "ci-9", Name: "vm1", Class: "cmdb_ci_vm"}}},
	}})
	if err != nil {
		e.t.Fatal(err)
	}

	bad := e.ingest(payload(e.t, 2, hostileRule, 3), time.Time{})
	f.deadAlert, f.deadDelivery = bad.AlertID, bad.Deliveries[0]
	d = e.claim(f.deadDelivery)
	if err := e.st.DeadLetter(ctx, d.ID, "test-worker", `permanent: ServiceNow 400: <img src=x onerror=alert(1)>`); err != nil {
		e.t.Fatal(err)
	}

	if f.quarantined, err = e.st.Quarantine(ctx, store.QuarantineRecord{
		Source: "prod", Raw: []byte(`{"kind":"</pre><script>alert(2)</script>"}`), Reason: "no parser: <b>unknown</b>",
	}); err != nil {
		e.t.Fatal(err)
	}
	return f
}

type response struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(method, path string, body io.Reader, header http.Header) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func (e *env) get(path string) response { return e.do(http.MethodGet, path, nil, nil) }

func TestPagesRender(t *testing.T) {
	e := newEnv(t, "")
	f := e.seed()
	ticket := "/ticket?" + url.Values{"backend": {"jsonl.file"}, "key": {f.ticketKey}}.Encode()
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/", []string{"<h1>Overview</h1>", `id="live"`, "Dead letters", "jsonl.file", "jsonl 0.1.0", "healthy",
			"The last configuration reload was rejected"}},
		{"/overview/live", []string{"Alerts last minute", "jsonl.file", "created"}},
		{"/alerts", []string{"High CPU", fmt.Sprintf(`href="/alerts/%d"`, f.okAlert), "Sev1", `<option>prod</option>`}},
		{"/alerts?severity=1&status=fired&source=prod&window=1h", []string{"High CPU", `value="1" checked`}},
		{"/alerts?rule=nothing-like-this", []string{"No alerts match these filters."}},
		{fmt.Sprintf("/alerts/%d", f.okAlert), []string{
			"INC0010001", `href="https://acme.service-now.com/nav_to.do?uri=incident.do%3Fsys_id%3Dsys-1"`,
			"ticket history", "Attempts", "created", // delivery with its outcome
			"At ingest this alert matched: <strong>critical</strong>",
			"re-evaluated now with the running configuration", // the routes re-run, and said so
			"outcome-matched", "outcome-error", "(after routing stopped: no delivery)",
			"Raw payload, as received", "WCUS-R2-Gen2" /* not in the normalized fields: proves the raw payload is shown */, "vm1",
		}},
		{"/tickets", []string{"INC0010001", "open", f.ticketKey}},
		{ticket, []string{"Generation 1", "INC0010001", "cmdb_ci_vm", "ci-9", fmt.Sprintf(`href="/alerts/%d"`, f.okAlert)}},
		{"/dlq", []string{fmt.Sprintf(`data-action="/api/v1/dlq/%d/replay"`, f.deadDelivery), fmt.Sprintf(`data-action="/api/v1/dlq/%d/drop"`, f.deadDelivery), "data-confirm="}},
		{"/quarantine", []string{fmt.Sprintf(`href="/quarantine/%d"`, f.quarantined), fmt.Sprintf(`data-action="/api/v1/quarantine/%d/replay"`, f.quarantined)}},
		{fmt.Sprintf("/quarantine/%d", f.quarantined), []string{"Quarantined payload", fmt.Sprintf(`data-action="/api/v1/quarantine/%d/drop"`, f.quarantined)}},
		{"/config", []string{"Routes, in evaluation order", "critical", "everything", "broken", "create", "bind_ci", "/opt/plugins/itsmbridge-plugin-jsonl",
			"rejected", "Unsupported block type &lt;b&gt;", `data-action="/api/v1/reload"`, "(sensitive)"}},
		{"/route-test", []string{`<textarea id="payload" name="payload"`, `<label for="payload">`}},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := e.get(tc.path)
			if r.status != http.StatusOK {
				t.Fatalf("GET %s = %d\n%s", tc.path, r.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("GET %s lacks %q", tc.path, w)
				}
			}
		})
	}
}

// TestRoutesFollowReload: the alert page and the route tester evaluate the
// configuration running now, not the one the console started with.
func TestRoutesFollowReload(t *testing.T) {
	e := newEnv(t, "")
	res := e.ingest(payload(t, 7, "Latency", 2), time.Time{})
	page := fmt.Sprintf("/alerts/%d", res.AlertID)
	if body := e.get(page).body; strings.Contains(body, "fresh-route") {
		t.Fatal("route appears before the reload")
	}
	next := loadConfig(t, e.dir, testConfig+"\nroute \"fresh-route\" {\n  match = true\n  to = [backend.jsonl.file]\n}\n", "")
	e.rt.mu.Lock()
	e.rt.cfg = next
	e.rt.mu.Unlock()
	body := e.get(page).body
	if !strings.Contains(body, "<th scope=\"row\">fresh-route</th>") {
		t.Fatal("the alert page does not evaluate the reloaded routes")
	}
	// At ingest the alert matched "everything"; that stays as recorded.
	if !strings.Contains(body, "At ingest this alert matched: <strong>everything</strong>") {
		t.Error("the ingest-time routes changed with the reload")
	}
}

// TestOrderOfRoutes checks that the config page lists routes in evaluation
// order.
func TestOrderOfRoutes(t *testing.T) {
	e := newEnv(t, "")
	body := e.get("/config").body
	i, j, k := strings.Index(body, ">critical<"), strings.Index(body, ">everything<"), strings.Index(body, ">broken<")
	if i < 0 || !(i < j && j < k) {
		t.Fatalf("routes not in declaration order: %d %d %d", i, j, k)
	}
}

// TestHostileContentIsInert: alert content is attacker-controlled (anyone who
// can create an Azure alert rule names it). Every page that shows it must
// escape it, and the CSP must forbid inline script anyway.
func TestHostileContentIsInert(t *testing.T) {
	e := newEnv(t, "")
	f := e.seed()
	escapedRule := html.EscapeString(hostileRule) // &lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;
	form := url.Values{"payload": {string(payload(t, 9, hostileRule, 0))}, "source": {"prod"}, "all": {"true"}}
	for _, tc := range []struct {
		name, method, path string
		body               string
		raw                []string // must not appear
		escaped            []string // must appear
	}{
		{"alert list", "GET", "/alerts", "", []string{hostileRule}, []string{escapedRule}},
		{"alert detail", "GET", fmt.Sprintf("/alerts/%d", f.deadAlert), "", []string{hostileRule, "<img src=x"},
			[]string{escapedRule, "&lt;img src=x onerror=alert(1)&gt;"}},
		{"dead letters", "GET", "/dlq", "", []string{"<img src=x"}, []string{"&lt;img src=x onerror=alert(1)&gt;"}},
		{"quarantine", "GET", "/quarantine", "", []string{"<b>unknown</b>"}, []string{"&lt;b&gt;unknown&lt;/b&gt;"}},
		{"quarantined payload", "GET", fmt.Sprintf("/quarantine/%d", f.quarantined), "", []string{"<script>alert(2)", "</pre><script>"},
			[]string{"&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;"}},
		{"route tester", "POST", "/route-test", form.Encode(), []string{hostileRule}, []string{escapedRule}},
		{"overview fragment", "GET", "/overview/live", "", []string{"<script"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			h := http.Header{}
			if tc.body != "" {
				body = strings.NewReader(tc.body)
				h.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			r := e.do(tc.method, tc.path, body, h)
			if r.status != http.StatusOK {
				t.Fatalf("%s %s = %d\n%s", tc.method, tc.path, r.status, r.body)
			}
			for _, s := range tc.raw {
				if strings.Contains(r.body, s) {
					t.Errorf("page contains raw %q", s)
				}
			}
			for _, s := range tc.escaped {
				if !strings.Contains(r.body, s) {
					t.Errorf("page lacks escaped %q", s)
				}
			}
			// The only script element is the console's own.
			if n := strings.Count(r.body, "<script"); n > 1 || (n == 1 && !strings.Contains(r.body, `<script src="/static/console.js?v=`)) {
				t.Errorf("page has %d script elements", n)
			}
			if tc.path != "/overview/live" && !strings.Contains(r.header.Get("Content-Security-Policy"), "script-src 'self'") {
				t.Errorf("CSP = %q", r.header.Get("Content-Security-Policy"))
			}
		})
	}
}

func TestVendorLinksOnlyForHTTP(t *testing.T) {
	for _, tc := range []struct {
		name, url string
		wantLink  bool
	}{
		{"https", "https://acme.service-now.com/incident/1", true},
		{"http", "http://127.0.0.1:8081/browse/OPS-1", true},
		{"file", "file:///var/lib/tickets.jsonl#tpl-1", false},
		{"javascript", "javascript:alert(1)", false},
		{"none", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "")
			res := e.ingest(payload(t, 3, "Disk", 2), time.Time{})
			d := e.claim(res.Deliveries[0])
			if err := e.st.Complete(context.Background(), d.ID, "test-worker", store.Outcome{Action: "created", Ticket: &store.Ticket{
				Backend: backendID, Key: d.TicketKey, Generation: 1, State: store.TicketOpen, Ref: sdk.TicketRef{ID: "x1", Number: "TPL-000001", URL: tc.url},
			}}); err != nil {
				t.Fatal(err)
			}
			body := e.get("/tickets").body
			link := regexp.MustCompile(`<a class="vendor" href="([^"]*)"`).FindStringSubmatch(body)
			if tc.wantLink != (link != nil) {
				t.Fatalf("vendor link = %v, want link %v", link, tc.wantLink)
			}
			if link != nil && html.UnescapeString(link[1]) != tc.url {
				t.Errorf("href = %q, want %q", link[1], tc.url)
			}
			if !strings.Contains(body, "TPL-000001") {
				t.Errorf("ticket number missing")
			}
			if strings.Contains(body, `href="javascript:`) {
				t.Errorf("javascript: link rendered")
			}
		})
	}
}

func TestTimesCarryUTCAndDatetime(t *testing.T) {
	e := newEnv(t, "")
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	res := e.ingest(payload(t, 4, "Mem", 2), at)
	body := e.get(fmt.Sprintf("/alerts/%d", res.AlertID)).body
	want := `<time datetime="2026-02-03T04:05:06Z" title="2026-02-03 04:05:06 UTC">2026-02-03 04:05:06 UTC</time>`
	if !strings.Contains(body, want) {
		t.Fatalf("page lacks %s", want)
	}
}

func TestOverviewRateAndQueues(t *testing.T) {
	e := newEnv(t, "")
	e.now = time.Now().Truncate(time.Second)
	for i, ago := range []time.Duration{10 * time.Second, 30 * time.Second, 2 * time.Minute, 4 * time.Minute, 10 * time.Minute} {
		e.ingest(payload(t, 10+i, "r", 3), e.now.Add(-ago))
	}
	body := e.get("/overview/live").body
	// 2 in the last minute; 4 in the last 5 minutes = 0.8/min.
	for _, want := range []string{"<dt>Alerts last minute</dt><dd>2</dd>", "<dt>Alerts / min (5 min avg)</dt><dd>0.8</dd>",
		`<dt>Alerts stored</dt><dd><a href="/alerts">5</a></dd>`} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %s", want)
		}
	}
	// Five pending deliveries on jsonl.file, the oldest received 10 minutes
	// ago (EnqueuedAt is the store's clock at ingest, so only its presence
	// is checked).
	row := regexp.MustCompile(`(?s)<th scope="row">jsonl.file</th>.*?</tr>`).FindString(body)
	if !strings.Contains(row, `<td class="num">5</td>`) || !strings.Contains(row, " ago ") {
		t.Errorf("backend row = %s", row)
	}

	// The history totals are counted at most once a minute (full scans);
	// the queue figures at every refresh.
	e.ingest(payload(t, 20, "r", 3), e.now)
	body = e.get("/overview/live").body
	if !strings.Contains(body, `<dt>Alerts stored</dt><dd><a href="/alerts">5</a></dd>`) {
		t.Error("the alert total was counted again within a minute")
	}
	row = regexp.MustCompile(`(?s)<th scope="row">jsonl.file</th>.*?</tr>`).FindString(body)
	if !strings.Contains(row, `<td class="num">6</td>`) {
		t.Errorf("the queue figures were not read again: backend row = %s", row)
	}
	e.now = e.now.Add(time.Minute)
	if body = e.get("/overview/live").body; !strings.Contains(body, `<dt>Alerts stored</dt><dd><a href="/alerts">6</a></dd>`) {
		t.Error("the alert total was not counted again after a minute")
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, "")
	for _, tc := range []struct {
		path   string
		status int
		want   string
	}{
		{"/alerts?severity=9", 400, "severity must be 0-4"},
		{"/alerts?status=open", 400, "status must be fired or resolved"},
		{"/alerts?since=yesterday", 400, "RFC 3339"},
		{"/alerts?window=forever", 400, "window must be a duration"},
		{"/alerts?limit=-1", 400, "limit"},
		{"/alerts?cursor=%21%21garbage", 400, ""},
		{"/alerts/abc", 400, "positive integer"},
		{"/alerts/424242", 404, "not found"},
		{"/tickets?backend=nodot", 400, "TYPE.NAME"},
		{"/tickets?state=weird", 400, "open or resolved"},
		{"/ticket?backend=jsonl.file", 400, "key is required"},
		{"/ticket?backend=jsonl.file&key=nope", 404, "not found"},
		{"/dlq?backend=x", 400, "TYPE.NAME"},
		{"/quarantine/0", 400, "positive integer"},
		{"/quarantine/99", 404, "not found"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := e.get(tc.path)
			if r.status != tc.status {
				t.Fatalf("GET %s = %d, want %d\n%s", tc.path, r.status, tc.status, r.body)
			}
			if !strings.Contains(r.body, "<h1>") || !strings.Contains(r.body, tc.want) {
				t.Errorf("error page lacks %q:\n%s", tc.want, r.body)
			}
		})
	}
}

func TestRouteTester(t *testing.T) {
	e := newEnv(t, "")
	post := func(v url.Values) response {
		return e.do(http.MethodPost, "/route-test", strings.NewReader(v.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	}
	sev0 := string(payload(t, 5, "Disk full", 0))
	for _, tc := range []struct {
		name   string
		form   url.Values
		status int
		want   []string
		not    []string
	}{
		{"first match wins", url.Values{"payload": {sev0}, "source": {"prod"}}, 200,
			[]string{"Disk full", "outcome-matched", "outcome-skipped", "jsonl.file", "Tickets it would produce", "<dt>source</dt><dd>prod</dd>"},
			[]string{"(after routing stopped: no delivery)"}},
		{"all routes", url.Values{"payload": {sev0}, "source": {"prod"}, "all": {"true"}}, 200,
			[]string{"(after routing stopped: no delivery)", "outcome-error"}, nil},
		{"rendered ticket redacts secrets", url.Values{"payload": {string(payload(t, 6, "Quiet", 3))}, "all": {"true"}}, 200,
			[]string{"[Sev3] Quiet ((sensitive))", "route everything", "outcome-not-matched"}, []string{secretValue}},
		{"malformed", url.Values{"payload": {`{"schemaId": `}}, 422, []string{"does not normalize"}, nil},
		{"unknown schema", url.Values{"payload": {`{"hello": "world"}`}}, 422, []string{"quarantine"}, nil},
		{"empty", url.Values{"payload": {"  "}}, 422, []string{"Paste an alert payload"}, nil},
		{"too large", url.Values{"payload": {`{"x":"` + strings.Repeat("a", 70000) + `"}`}}, 422, []string{"max_body_bytes"}, nil},
		{"unknown source", url.Values{"payload": {sev0}, "source": {"nope"}}, 400, []string{"no source"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := post(tc.form)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d\n%s", r.status, tc.status, r.body)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("lacks %q", w)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(r.body, w) {
					t.Errorf("contains %q", w)
				}
			}
		})
	}
	// Nothing was stored.
	st, err := e.st.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Alerts != 0 || st.Pending != 0 {
		t.Fatalf("the route tester stored something: %+v", st)
	}
}

func TestConfigRedactsSecrets(t *testing.T) {
	e := newEnv(t, adminToken)
	r := e.do(http.MethodGet, "/config", nil, http.Header{"Authorization": {"Bearer " + adminToken}})
	if r.status != 200 {
		t.Fatalf("GET /config = %d", r.status)
	}
	for _, s := range []string{secretValue, adminToken} {
		if strings.Contains(r.body, s) {
			t.Errorf("config page shows secret %q", s)
		}
	}
}

// TestActionsUseTheAdminAPI reads the buttons a page offers and performs
// them as the page's script does: POST to the data-action URL. The URLs must
// be admin API endpoints that do what the button says.
func TestActionsUseTheAdminAPI(t *testing.T) {
	e := newEnv(t, "")
	f := e.seed()
	ctx := context.Background()
	actions := func(path string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`data-action="([^"]+)"`).FindAllStringSubmatch(e.get(path).body, -1) {
			if !strings.HasPrefix(m[1], "/api/v1/") {
				t.Errorf("%s: action %s is not an admin API endpoint", path, m[1])
			}
			out = append(out, m[1])
		}
		return out
	}
	dlq := actions("/dlq")
	if len(dlq) != 2 {
		t.Fatalf("dlq actions = %v", dlq)
	}
	if r := e.do(http.MethodPost, dlq[0], nil, nil); r.status != 200 || !strings.Contains(r.body, "replayed") {
		t.Fatalf("POST %s = %d %s", dlq[0], r.status, r.body)
	}
	d, err := e.st.GetDelivery(ctx, f.deadDelivery)
	if err != nil || d.State != store.StatePending {
		t.Fatalf("after replay: %v %v", d.State, err)
	}

	q := actions(fmt.Sprintf("/quarantine/%d", f.quarantined))
	if r := e.do(http.MethodPost, q[0], nil, nil); r.status != 400 || !strings.Contains(r.body, "still of no known schema") {
		t.Fatalf("POST %s = %d %s", q[0], r.status, r.body)
	}
	if r := e.do(http.MethodPost, q[1], nil, nil); r.status != 200 {
		t.Fatalf("POST %s = %d %s", q[1], r.status, r.body)
	}
	if _, err := e.st.GetQuarantine(ctx, f.quarantined); err == nil {
		t.Fatal("quarantined payload still there after drop")
	}

	reload := actions("/config")
	if len(reload) != 1 || reload[0] != "/api/v1/reload" {
		t.Fatalf("config actions = %v", reload)
	}
	if r := e.do(http.MethodPost, reload[0], nil, nil); r.status != 200 || e.rt.reloads != 1 {
		t.Fatalf("reload = %d, reloads %d", r.status, e.rt.reloads)
	}

	// The console's own routes are read-only: only the route tester takes a
	// POST, and it stores nothing.
	for _, p := range []string{"/", "/alerts", "/dlq", "/quarantine", "/config"} {
		if r := e.do(http.MethodPost, p, nil, nil); r.status != http.StatusMethodNotAllowed {
			t.Errorf("POST %s = %d, want 405", p, r.status)
		}
	}
}

func TestStaticAssets(t *testing.T) {
	e := newEnv(t, "")
	page := e.get("/").body
	for _, name := range []string{"console.css", "console.js"} {
		m := regexp.MustCompile(`/static/` + regexp.QuoteMeta(name) + `\?v=[0-9a-f]+`).FindString(page)
		if m == "" {
			t.Fatalf("page does not reference %s", name)
		}
		r := e.get(m)
		if r.status != 200 || len(r.body) < 100 || !strings.Contains(r.header.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s = %d, %d bytes, Cache-Control %q", m, r.status, len(r.body), r.header.Get("Cache-Control"))
		}
	}
	if r := e.get("/static/"); r.status != 404 {
		t.Errorf("directory listing: %d", r.status)
	}
	if r := e.get("/static/console.js"); r.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("unversioned asset Cache-Control = %q", r.header.Get("Cache-Control"))
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t, adminToken)
	htmlAccept := http.Header{"Accept": {"text/html,application/xhtml+xml"}}

	// A browser without the token is sent to the login page, keeping its target.
	r := e.do(http.MethodGet, "/alerts?status=fired", nil, htmlAccept)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/login?next=%2Falerts%3Fstatus%3Dfired" {
		t.Fatalf("GET /alerts = %d → %q", r.status, r.header.Get("Location"))
	}
	// The API and non-browser clients keep the API's 401.
	for _, p := range []string{"/api/v1/stats", "/alerts"} {
		if r := e.get(p); r.status != http.StatusUnauthorized {
			t.Errorf("GET %s without token = %d, want 401", p, r.status)
		}
	}
	if r := e.do(http.MethodGet, "/api/v1/stats", nil, htmlAccept); r.status != http.StatusUnauthorized {
		t.Errorf("API with Accept: text/html = %d, want 401", r.status)
	}
	if r := e.get("/login?next=/dlq"); r.status != 200 || !strings.Contains(r.body, `<label for="token">`) || !strings.Contains(r.body, `value="/dlq"`) {
		t.Fatalf("login page = %d\n%s", r.status, r.body)
	}

	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if r := e.do(http.MethodPost, "/login", strings.NewReader("token=wrong&next=/dlq"), form); r.status != http.StatusUnauthorized || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("wrong token = %d, cookie %q", r.status, r.header.Get("Set-Cookie"))
	}
	r = e.do(http.MethodPost, "/login", strings.NewReader(url.Values{"token": {adminToken}, "next": {"/dlq"}}.Encode()), form)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/dlq" {
		t.Fatalf("login = %d → %q", r.status, r.header.Get("Location"))
	}
	cookie := r.header.Get("Set-Cookie")
	for _, want := range []string{console.CookieName + "=" + adminToken, "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("Set-Cookie %q lacks %s", cookie, want)
		}
	}
	withCookie := http.Header{"Accept": {"text/html"}, "Cookie": {console.CookieName + "=" + adminToken}}
	if r := e.do(http.MethodGet, "/dlq", nil, withCookie); r.status != 200 || !strings.Contains(r.body, "<h1>Dead letters</h1>") {
		t.Fatalf("GET /dlq with cookie = %d", r.status)
	}
	// The cookie works for the API calls the buttons make.
	if r := e.do(http.MethodGet, "/api/v1/stats", nil, withCookie); r.status != 200 {
		t.Fatalf("API with cookie = %d", r.status)
	}
	if r := e.do(http.MethodPost, "/logout", nil, nil); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout = %d %q", r.status, r.header.Get("Set-Cookie"))
	}
}

func TestLoginRedirectStaysLocal(t *testing.T) {
	e := newEnv(t, adminToken)
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	for next, want := range map[string]string{
		"/alerts/3":            "/alerts/3",
		"//evil.example/":      "/",
		"/\\evil.example":      "/",
		"https://evil.example": "/",
		"javascript:alert(1)":  "/",
		"":                     "/",
	} {
		r := e.do(http.MethodPost, "/login", strings.NewReader(url.Values{"token": {adminToken}, "next": {next}}.Encode()), form)
		if got := r.header.Get("Location"); got != want {
			t.Errorf("next=%q → %q, want %q", next, got, want)
		}
	}
}
