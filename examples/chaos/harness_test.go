package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/itsmbridge/itsmbridge/core/auth/entratest"
	"github.com/itsmbridge/itsmbridge/core/pluginhost"
	"github.com/itsmbridge/itsmbridge/core/store/pgtest"
	"github.com/itsmbridge/itsmbridge/plugins/servicenow/emulator"
)

const (
	tenant   = "00000000-0000-0000-0000-00000000a2e1"
	audience = "api://itsmbridge"
	hookPath = "/webhooks/azure"
	// backendName is the backend every test routes to.
	backendName  = "servicenow.chaos"
	pluginBinary = pluginhost.BinaryPrefix + "servicenow"
	subscription = "11111111-1111-1111-1111-111111111111"

	// settleTimeout bounds the wait for the queue to drain after the chaos.
	settleTimeout = 90 * time.Second
)

var (
	hostBin   string // itsmbridge
	pluginDir string // holds itsmbridge-plugin-servicenow
	sample    []byte // the official metric alert sample
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "itsmbridge-chaos")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	hostBin = filepath.Join(dir, "itsmbridge")
	pluginDir = filepath.Join(dir, "plugins")
	if sample, err = os.ReadFile("testdata/common-platform-metric-static-resolved.json"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The binaries are built without -race even under `go test -race`: they
	// are what ships, and the detector's slowdown would stretch every scenario.
	builds := [][2]string{
		{hostBin, "../../core/cmd/itsmbridge"},
		{filepath.Join(pluginDir, pluginBinary), "../../plugins/servicenow"},
		{filepath.Join(pluginDir, pluginhost.BinaryPrefix+"noop"), "./noopplugin"},
	}
	errs := make([]error, len(builds))
	var wg sync.WaitGroup
	for i, b := range builds {
		wg.Go(func() {
			out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput()
			if err != nil {
				errs[i] = fmt.Errorf("go build %s: %w\n%s", b[1], err, out)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return pgtest.Main(m) // stops the PostgreSQL server the replica tests start
}

// env is one bridge (a real itsmbridge process with its plugin) in front of
// one ServiceNow emulator, with its own ports, database and Entra stand-in.
// Replicas (env.replica) are further bridges sharing the emulator, the Entra
// stand-in and the alert ids, each with its own ports, config and log.
type env struct {
	t       testing.TB
	name    string // the host's name in logs and failure messages
	ns      uint32 // namespaces the alert ids of this test
	dir     string
	cfgPath string
	logPath string
	ingress string // webhook URL
	admin   string // admin base URL
	entra   *entratest.Server
	snow    *emulator.Emulator
	snowURL string
	token   string
	client  *http.Client
	host    *hostProc
}

type envOptions struct {
	maxConcurrency int
	maxAge         string
	// name labels the host in logs and failure messages (default "itsmbridge").
	name string
	// store is the config's store block (default: SQLite in the env's directory).
	store string
	// snowUser is the ServiceNow account the backend uses (default sandbox).
	snowUser string
	// snowUsers are emulator accounts (role itil, password sandbox) beyond
	// sandbox; newEnv only, replicas share the emulator.
	snowUsers []string
	// noop routes every alert to the no-op plugin (examples/chaos/noopplugin)
	// instead of ServiceNow (benchmarks).
	noop bool
}

// hostProc is a running `itsmbridge serve`.
type hostProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
	err  error         // cmd.Wait's result, set before done closes
}

func (h *hostProc) pid() int { return h.cmd.Process.Pid }

func (h *hostProc) exited() bool {
	select {
	case <-h.done:
		return true
	default:
		return false
	}
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("chaos tests find the plugin process through Linux's /proc")
	}
	e := &env{
		t:      t,
		ns:     crc32.ChecksumIEEE([]byte(t.Name())),
		client: &http.Client{Timeout: 15 * time.Second},
	}

	e.entra = entratest.New()
	e.entra.Start()
	t.Cleanup(e.entra.Close)
	tok, err := e.entra.ActionGroupToken(entratest.TokenOptions{Tenant: tenant, Audience: audience, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	e.token = tok

	users := []emulator.User{{UserName: "sandbox", Password: "sandbox", Name: "Sandbox Integration", Roles: []string{"itil"}}}
	for _, u := range o.snowUsers {
		users = append(users, emulator.User{UserName: u, Password: "sandbox", Name: u, Roles: []string{"itil"}})
	}
	e.snow = emulator.New(emulator.Options{MaxCalls: 1 << 20, Users: users})
	snowSrv := httptest.NewServer(e.snow)
	t.Cleanup(snowSrv.Close)
	e.snowURL = snowSrv.URL

	e.configure(o)
	return e
}

// replica returns another bridge in front of e's emulator, trusting e's
// Entra stand-in and sending e's alert ids. Give both a shared store (o.store)
// to make them replicas of one bridge.
func (e *env) replica(o envOptions) *env {
	e.t.Helper()
	r := &env{t: e.t, ns: e.ns, entra: e.entra, snow: e.snow, snowURL: e.snowURL, token: e.token, client: e.client}
	r.configure(o)
	return r
}

// configure gives e its directory, ports and config file.
func (e *env) configure(o envOptions) {
	t := e.t
	t.Helper()
	e.dir = t.TempDir()
	e.name = o.name
	if e.name == "" {
		e.name = "itsmbridge"
	}
	e.cfgPath = filepath.Join(e.dir, "config.hcl")
	e.logPath = filepath.Join(e.dir, "itsmbridge.log")
	// Cleanups run last-registered first: the host stops before the
	// emulator closes, and its log is shown once it is complete.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log (warnings and errors), last lines:\n%s", e.name, e.logTail(60))
		}
	})

	ingress, admin := freeAddrs(t)
	e.ingress = "http://" + ingress + hookPath
	e.admin = "http://" + admin
	if o.maxConcurrency == 0 {
		o.maxConcurrency = 8
	}
	if o.maxAge == "" {
		o.maxAge = "1h"
	}
	if o.store == "" {
		o.store = fmt.Sprintf("store \"sqlite\" {\n  path = %q\n}", filepath.Join(e.dir, "itsmbridge.db"))
	}
	if o.snowUser == "" {
		o.snowUser = "sandbox"
	}
	backend := fmt.Sprintf(`backend "servicenow" "chaos" {
  max_concurrency = %d
  max_age         = %q
  timeout         = "10s"
  config {
    instance_url = %q
    username     = %q
    password     = "sandbox"
  }
}`, o.maxConcurrency, o.maxAge, e.snowURL, o.snowUser)
	backendRef := "backend.servicenow.chaos"
	if o.noop {
		backend = fmt.Sprintf(`backend "noop" "chaos" {
  max_concurrency = %d
  max_age         = %q
  timeout         = "10s"
  config {}
}`, o.maxConcurrency, o.maxAge)
		backendRef = "backend.noop.chaos"
	}
	cfg := fmt.Sprintf(`
plugin_dir = %q
server {
  listen           = %q
  admin_listen     = %q
  shutdown_timeout = "2s"
}
%s
source "azure_monitor" "azure" {
  path = %q
  azure_ad {
    tenants   = [%q]
    audiences = [%q]
    authority = %q
  }
}
%s
route "all" {
  match = true
  to    = [%s]
  lifecycle {
    resolve = true
  }
}
`, pluginDir, ingress, admin, o.store, hookPath, tenant, audience, e.entra.Authority(), backend, backendRef)
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if e.host != nil {
			e.stopHost()
		}
	})
}

// freeAddrs picks two free loopback ports (both listeners are open at once,
// so the two differ) for the ingress and the admin API.
func freeAddrs(t testing.TB) (string, string) {
	t.Helper()
	var addrs [2]string
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		addrs[i] = ln.Addr().String()
	}
	return addrs[0], addrs[1]
}

// startHost starts `itsmbridge serve` and waits until /readyz answers 200
// (store open, plugin running).
func (e *env) startHost() {
	e.t.Helper()
	e.launchHost()
	e.waitReady()
}

// launchHost starts `itsmbridge serve` without waiting for it.
func (e *env) launchHost() {
	e.t.Helper()
	logf, err := os.OpenFile(e.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(hostBin, "serve", "-config", e.cfgPath, "-log-level", "warn")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("starting %s: %v", e.name, err)
	}
	h := &hostProc{cmd: cmd, done: make(chan struct{})}
	go func() { h.err = cmd.Wait(); close(h.done) }()
	e.host = h
}

// waitReady waits until the launched host's /readyz answers 200.
func (e *env) waitReady() {
	e.t.Helper()
	h := e.host
	e.waitFor(e.name+" ready (/readyz 200)", 30*time.Second, func() bool {
		if h.exited() {
			e.t.Fatalf("%s exited before it was ready: %v", e.name, h.err)
		}
		resp, err := e.client.Get(e.admin + "/readyz")
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// killHost SIGKILLs the host and waits for it to be gone.
func (e *env) killHost() {
	e.t.Helper()
	if err := e.host.cmd.Process.Kill(); err != nil && !e.host.exited() {
		e.t.Fatalf("SIGKILL %s: %v", e.name, err)
	}
	<-e.host.done
}

// stopHost asks the host to shut down (SIGTERM), and kills it if it does
// not within 10 s.
func (e *env) stopHost() {
	if e.host.exited() {
		return
	}
	_ = e.host.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.host.done:
	case <-time.After(10 * time.Second):
		e.t.Errorf("%s did not stop within 10s of SIGTERM; killing it", e.name)
		_ = e.host.cmd.Process.Kill()
		<-e.host.done
	}
}

func (e *env) logTail(n int) string {
	b, err := os.ReadFile(e.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// waitFor polls cond every 10 ms until it holds, failing the test after timeout.
func (e *env) waitFor(what string, timeout time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ---- alerts ----

// alertID is the Azure alert id of alert i of this test.
func (e *env) alertID(i int) string {
	return fmt.Sprintf("/subscriptions/%s/providers/Microsoft.AlertsManagement/alerts/%08x-%04x-4000-8000-000000000000", subscription, e.ns, i)
}

// payload is the official metric alert sample as alert i: Fired (the sample
// with monitorCondition Fired and no resolvedDateTime) or Resolved (as is).
func (e *env) payload(i int, resolved bool) []byte {
	e.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(sample, &m); err != nil {
		e.t.Fatal(err)
	}
	ess := m["data"].(map[string]any)["essentials"].(map[string]any)
	ess["alertId"] = e.alertID(i)
	ess["alertTargetIDs"] = []string{fmt.Sprintf("/subscriptions/%s/resourcegroups/chaos-rg/providers/microsoft.compute/virtualmachines/vm-%d", subscription, i)}
	ess["configurationItems"] = []string{fmt.Sprintf("vm-%d", i)}
	if !resolved {
		ess["monitorCondition"] = "Fired"
		delete(ess, "resolvedDateTime")
	}
	out, err := json.Marshal(m)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// answer is the ingress's reply to one post.
type answer struct {
	Code    int    `json:"-"`
	Status  string `json:"status"`
	AlertID int64  `json:"alert_id"`
	Error   string `json:"error"`
}

// acked reports whether Azure would consider the post delivered.
func (a answer) acked() bool {
	return (a.Code == http.StatusAccepted && a.Status == "accepted") || (a.Code == http.StatusOK && a.Status == "duplicate")
}

// post sends one signed webhook call, as an action group does.
func (e *env) post(body []byte) (answer, error) {
	req, err := http.NewRequest(http.MethodPost, e.ingress, bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	a := answer{Code: resp.StatusCode}
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(raw, &a); err != nil {
		return a, fmt.Errorf("answer %d is not JSON: %q", resp.StatusCode, raw)
	}
	return a, nil
}

// ledger records which payloads the bridge acknowledged.
type ledger struct {
	n        int
	resolves func(i int) bool // which alerts also get a resolve

	mu       sync.Mutex
	fired    map[int]bool
	resolved map[int]bool
	refused  map[string]int // non-2xx answers and errors seen, by kind
}

func newLedger(n int, resolves func(int) bool) *ledger {
	return &ledger{n: n, resolves: resolves, fired: map[int]bool{}, resolved: map[int]bool{}, refused: map[string]int{}}
}

func (l *ledger) ack(i int, resolved bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if resolved {
		l.resolved[i] = true
	} else {
		l.fired[i] = true
	}
}

func (l *ledger) isAcked(i int, resolved bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if resolved {
		return l.resolved[i]
	}
	return l.fired[i]
}

func (l *ledger) refuse(kind string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refused[kind]++
}

// refusals describes the refused or failed posts, "" when none.
func (l *ledger) refusals() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.refused) == 0 {
		return ""
	}
	return fmt.Sprint(l.refused)
}

func (l *ledger) ackedFired() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.fired)
}

// complete reports whether alert i is fully acknowledged.
func (l *ledger) complete(i int) bool {
	return l.isAcked(i, false) && (!l.resolves(i) || l.isAcked(i, true))
}

// send posts what alert i still lacks: its fired payload, then — once that
// was acknowledged — its resolved payload when the alert gets one. A refusal
// or error leaves the payload unacknowledged for a later pass.
func (e *env) send(l *ledger, i int, lim *rate.Limiter) {
	for _, resolved := range []bool{false, true} {
		if resolved && !l.resolves(i) {
			return
		}
		if l.isAcked(i, resolved) {
			continue
		}
		if lim != nil {
			_ = lim.Wait(context.Background())
		}
		a, err := e.post(e.payload(i, resolved))
		switch {
		case err != nil:
			l.refuse("error")
			return
		case a.acked():
			l.ack(i, resolved)
		default:
			l.refuse(fmt.Sprintf("%d %s", a.Code, a.Status+a.Error))
			return
		}
	}
}

// stream sends every incomplete alert once, with workers in parallel and at
// most lim posts a second (nil: unpaced).
func (e *env) stream(l *ledger, workers int, lim *rate.Limiter) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				e.send(l, i, lim)
			}
		})
	}
	for i := range l.n {
		if !l.complete(i) {
			next <- i
		}
	}
	close(next)
	wg.Wait()
}

// deliverAll retries, as Azure does, until every alert is acknowledged.
func (e *env) deliverAll(l *ledger) {
	e.t.Helper()
	for pass := range 20 {
		missing := 0
		for i := range l.n {
			if !l.complete(i) {
				missing++
			}
		}
		if missing == 0 {
			if r := l.refusals(); r != "" {
				e.t.Logf("posts refused or failed on the way (then re-sent): %s", r)
			}
			return
		}
		if pass > 0 {
			time.Sleep(250 * time.Millisecond) // Azure's retries are spaced too
		}
		e.stream(l, 8, nil)
	}
	e.t.Fatalf("alerts still unacknowledged after 20 passes; refusals seen: %s", l.refusals())
}

// ---- the bridge's admin API ----

type alertRec struct {
	ID         int64
	AlertID    string
	Status     string
	Deliveries int
}

type deliveryRec struct {
	ID         int64
	AlertID    int64
	TicketKey  string
	Event      string
	State      string
	Attempts   int
	Outcome    string
	LastError  string
	DeadReason string
}

type ticketRec struct {
	Key        string
	Generation int
	State      string
	Ref        struct{ ID, Number string }
}

type backendRec struct {
	Backend string `json:"backend"`
	Plugin  struct {
		Running  bool
		Restarts int64
	} `json:"plugin"`
}

func (e *env) getJSON(path string, v any) {
	e.t.Helper()
	resp, err := e.client.Get(e.admin + path)
	if err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		e.t.Fatalf("GET %s: %v in %q", path, err, body)
	}
}

// listAll reads every page of an admin API listing.
func listAll[T any](e *env, path string, query url.Values) []T {
	e.t.Helper()
	var out []T
	q := url.Values{}
	for k, v := range query {
		q[k] = v
	}
	q.Set("limit", "1000")
	for {
		var page struct {
			Items []T    `json:"items"`
			Next  string `json:"next"`
		}
		e.getJSON(path+"?"+q.Encode(), &page)
		out = append(out, page.Items...)
		if page.Next == "" {
			return out
		}
		q.Set("cursor", page.Next)
	}
}

func (e *env) backend() backendRec {
	e.t.Helper()
	var bs []backendRec
	e.getJSON("/api/v1/backends", &bs)
	for _, b := range bs {
		if b.Backend == backendName {
			return b
		}
	}
	e.t.Fatalf("backend %s missing from /api/v1/backends: %+v", backendName, bs)
	return backendRec{}
}

// waitSettled waits until no delivery is pending or leased.
func (e *env) waitSettled() {
	e.t.Helper()
	deadline := time.Now().Add(settleTimeout)
	for {
		var open []deliveryRec
		for _, st := range []string{"pending", "leased"} {
			open = append(open, listAll[deliveryRec](e, "/api/v1/deliveries", url.Values{"state": {st}})...)
		}
		if len(open) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, d := range open[:min(len(open), 10)] {
				fmt.Fprintf(&b, "\n  delivery %d (%s, ticket key %s) %s after %d attempts, last error: %s", d.ID, d.Event, d.TicketKey, d.State, d.Attempts, d.LastError)
			}
			e.t.Fatalf("%d deliveries still unfinished %s after the chaos ended:%s", len(open), settleTimeout, b.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// incidents counts the incidents in the emulator.
func (e *env) incidents() int { return len(e.snow.Records("incident", "")) }

// ---- the verdict ----

// summary is what verify saw, for scenario-specific assertions.
type summary struct {
	alerts    int // distinct acknowledged alerts
	resolves  int // acknowledged resolves
	retried   int // deliveries that needed more than one attempt
	incidents int
	// recreated counts ticket keys whose create was attempted more than
	// once (the plugin looked the key up again before creating): the
	// interrupted creates the idempotent lookup had to catch.
	recreated int
}

// verify waits for the bridge to settle, then checks DESIGN §8's promises
// for every acknowledged alert, in the bridge and in ServiceNow:
//   - one stored alert record per acknowledged payload, one delivery each,
//     done (nothing dead-lettered), the fire "created", the resolve "resolved";
//   - one ticket key per alert, distinct across alerts, with one ticket
//     (generation 1) that is resolved exactly when a resolve was acknowledged;
//   - in the emulator, exactly one incident per ticket key (by correlation_id),
//     the same sys_id the bridge recorded, in state 6 Resolved when the
//     resolve was acknowledged and 1 New otherwise, and no other incidents.
func (e *env) verify(l *ledger) summary {
	t := e.t
	t.Helper()
	e.waitSettled()
	var sum summary

	for _, d := range listAll[deliveryRec](e, "/api/v1/dlq", nil) {
		t.Errorf("delivery %d (%s, ticket key %s) was dead-lettered after %d attempts: %s", d.ID, d.Event, d.TicketKey, d.Attempts, d.DeadReason)
	}

	alerts := listAll[alertRec](e, "/api/v1/alerts", nil)
	deliveries := listAll[deliveryRec](e, "/api/v1/deliveries", nil)
	tickets := listAll[ticketRec](e, "/api/v1/tickets", nil)

	index := map[string]int{} // Azure alert id → i
	for i := range l.n {
		index[e.alertID(i)] = i
	}
	type stored struct{ fired, resolved []alertRec }
	records := map[int]*stored{}
	for _, a := range alerts {
		i, ok := index[a.AlertID]
		if !ok {
			t.Errorf("stored alert %d has an Azure alert id this test never sent: %q", a.ID, a.AlertID)
			continue
		}
		s := records[i]
		if s == nil {
			s = &stored{}
			records[i] = s
		}
		switch a.Status {
		case "fired":
			s.fired = append(s.fired, a)
		case "resolved":
			s.resolved = append(s.resolved, a)
		default:
			t.Errorf("stored alert %d (alert %d) has status %q", a.ID, i, a.Status)
		}
	}
	byAlert := map[int64][]deliveryRec{}
	for _, d := range deliveries {
		byAlert[d.AlertID] = append(byAlert[d.AlertID], d)
		if d.Attempts > 1 {
			sum.retried++
		}
	}
	ticketsByKey := map[string][]ticketRec{}
	for _, tk := range tickets {
		ticketsByKey[tk.Key] = append(ticketsByKey[tk.Key], tk)
	}

	// oneDelivery checks the single delivery of a stored alert and returns its ticket key.
	oneDelivery := func(i int, rec alertRec, outcome string) string {
		ds := byAlert[rec.ID]
		if len(ds) != 1 || rec.Deliveries != 1 {
			t.Errorf("alert %d (%s): stored record %d has %d deliveries (record says %d), want 1: %+v", i, rec.Status, rec.ID, len(ds), rec.Deliveries, ds)
			return ""
		}
		d := ds[0]
		if d.State != "done" || d.Outcome != outcome {
			t.Errorf("alert %d (%s): delivery %d is %s/%q, want done/%q (last error %q)", i, rec.Status, d.ID, d.State, d.Outcome, outcome, d.LastError)
		}
		return d.TicketKey
	}

	keyOwner := map[string]int{}
	for i := range l.n {
		if !l.isAcked(i, false) {
			t.Errorf("alert %d: fired payload never acknowledged (the scenario must deliver everything, as Azure retries)", i)
			continue
		}
		sum.alerts++
		wantResolved := l.isAcked(i, true)
		if l.resolves(i) && !wantResolved {
			t.Errorf("alert %d: resolved payload never acknowledged", i)
		}
		s := records[i]
		if s == nil {
			t.Errorf("alert %d (%s): acknowledged but not in the store (DESIGN §8.1)", i, e.alertID(i))
			continue
		}
		if len(s.fired) != 1 {
			t.Errorf("alert %d: %d stored fired records, want exactly 1 (DESIGN §8.2): %+v", i, len(s.fired), s.fired)
			continue
		}
		key := oneDelivery(i, s.fired[0], "created")
		if wantResolved {
			sum.resolves++
			if len(s.resolved) != 1 {
				t.Errorf("alert %d: %d stored resolved records, want exactly 1: %+v", i, len(s.resolved), s.resolved)
			} else if rk := oneDelivery(i, s.resolved[0], "resolved"); rk != key {
				t.Errorf("alert %d: fire and resolve have different ticket keys %q and %q", i, key, rk)
			}
		} else if len(s.resolved) != 0 {
			t.Errorf("alert %d: %d stored resolved records but no resolve was acknowledged", i, len(s.resolved))
		}
		if key == "" {
			continue
		}
		if j, dup := keyOwner[key]; dup {
			t.Errorf("alerts %d and %d share ticket key %s; group_by [alert.id] must separate them", j, i, key)
			continue
		}
		keyOwner[key] = i

		wantState, wantSNState := "open", "1"
		if wantResolved {
			wantState, wantSNState = "resolved", "6"
		}
		tks := ticketsByKey[key]
		if len(tks) != 1 {
			t.Errorf("alert %d: the bridge holds %d tickets for key %s, want 1: %+v", i, len(tks), key, tks)
			continue
		}
		tk := tks[0]
		if tk.Generation != 1 || tk.State != wantState || tk.Ref.ID == "" {
			t.Errorf("alert %d: bridge ticket %+v, want generation 1, state %s and a sys_id", i, tk, wantState)
		}

		incs := e.snow.Tickets(key)
		if len(incs) != 1 {
			t.Errorf("alert %d: ServiceNow holds %d incidents with correlation_id %s, want exactly 1: %+v", i, len(incs), key, incs)
			continue
		}
		inc := incs[0]
		if inc.SysID != tk.Ref.ID || inc.Number != tk.Ref.Number {
			t.Errorf("alert %d: ServiceNow incident %s (%s) is not the one the bridge recorded, %s (%s)", i, inc.Number, inc.SysID, tk.Ref.Number, tk.Ref.ID)
		}
		if inc.State != wantSNState {
			t.Errorf("alert %d: incident %s is in state %s, want %s (resolve acknowledged: %v)", i, inc.Number, inc.State, wantSNState, wantResolved)
		}
		if rec, ok := e.snow.Record("incident", inc.SysID); !ok || !strings.Contains(rec["description"], e.alertID(i)) {
			t.Errorf("alert %d: incident %s does not name its Azure alert id in the description: %q", i, inc.Number, rec["description"])
		}
	}
	if len(ticketsByKey) != len(keyOwner) {
		for key, tks := range ticketsByKey {
			if _, ok := keyOwner[key]; !ok {
				t.Errorf("the bridge holds tickets for key %s, which no acknowledged alert has: %+v", key, tks)
			}
		}
	}

	all := e.snow.Records("incident", "")
	sum.incidents = len(all)
	if len(all) != sum.alerts {
		var stray []string
		for _, r := range all {
			if _, ok := keyOwner[r["correlation_id"]]; !ok {
				stray = append(stray, r["number"]+" correlation_id="+strconv.Quote(r["correlation_id"]))
			}
		}
		slices.Sort(stray)
		t.Errorf("ServiceNow holds %d incidents for %d acknowledged alerts, want one each; incidents of no acknowledged alert: %v", len(all), sum.alerts, stray)
	}
	if log := e.logTail(1 << 20); strings.Contains(log, "panic") {
		t.Errorf("itsmbridge or its plugin logged a panic")
	}
	for _, n := range e.createLookups() {
		if n > 1 {
			sum.recreated++
		}
	}
	t.Logf("%d alerts, %d resolves, %d incidents; %d deliveries needed more than one attempt; %d creates were attempted again",
		sum.alerts, sum.resolves, sum.incidents, sum.retried, sum.recreated)
	return sum
}

// createLookups counts, per correlation key, the plugin's lookups before a
// create in the emulator's call log, whatever their answer.
func (e *env) createLookups() map[string]int {
	out := map[string]int{}
	for _, c := range e.snow.Calls() {
		if key := lookupKey(c); key != "" {
			out[key]++
		}
	}
	return out
}

// lookupKey returns the correlation key when c is the plugin's lookup
// before a create (GET …/incident?sysparm_query=correlation_id=KEY^…), else "".
// Only creates look keys up, and a key has one fired delivery, so the
// lookups of one key are the attempts of one delivery.
func lookupKey(c emulator.Call) string {
	if c.Method != http.MethodGet || !strings.HasSuffix(c.Path, "/table/incident") {
		return ""
	}
	q, err := url.ParseQuery(c.Query)
	if err != nil {
		return ""
	}
	rest, ok := strings.CutPrefix(q.Get("sysparm_query"), "correlation_id=")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(rest, "^")
	return key
}

// ---- processes ----

// pluginPIDs lists the live itsmbridge-plugin-servicenow processes whose
// parent is ppid (pgrep -f, restricted to one host's children).
func pluginPIDs(t testing.TB, ppid int) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		state, parent, ok := procStat(pid)
		if !ok || parent != ppid || state == "Z" {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue // gone meanwhile
		}
		argv0, _, _ := strings.Cut(string(cmdline), "\x00")
		if filepath.Base(argv0) == pluginBinary {
			out = append(out, pid)
		}
	}
	return out
}

// procStat reads a process's state and parent pid from /proc/<pid>/stat.
func procStat(pid int) (state string, ppid int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, false
	}
	// "pid (comm) state ppid ...": comm may contain spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0], ppid, err == nil
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	state, _, ok := procStat(pid)
	return ok && state != "Z"
}

// pluginPID waits until the host runs exactly one plugin process whose pid
// is not old and the supervisor reports it running after at least restarts
// restarts, and returns its pid.
func (e *env) pluginPID(old int, restarts int64) int {
	e.t.Helper()
	var pid int
	e.waitFor(fmt.Sprintf("plugin running (pid ≠ %d, ≥ %d restarts)", old, restarts), 30*time.Second, func() bool {
		if b := e.backend(); !b.Plugin.Running || b.Plugin.Restarts < restarts {
			return false
		}
		pids := pluginPIDs(e.t, e.host.pid())
		if len(pids) != 1 || pids[0] == old {
			return false
		}
		pid = pids[0]
		return true
	})
	return pid
}
