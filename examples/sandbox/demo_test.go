package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	jiraemu "github.com/itsmbridge/itsmbridge/plugins/jira/emulator"
)

// binDir holds the binaries the demo tests build once: itsmbridge and
// plugins/itsmbridge-plugin-{servicenow,jira,cherwell}.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sandbox-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
)

// demoPlugins are the plugins config.hcl uses.
var demoPlugins = []string{"servicenow", "jira", "cherwell"}

// buildBinaries builds the bridge and the plugins (without -race: they are
// the product under test, not this package) or skips the test, saying which
// one does not build yet.
func buildBinaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		const mod = "github.com/itsmbridge/itsmbridge/"
		targets := map[string]string{filepath.Join(binDir, "itsmbridge"): mod + "core/cmd/itsmbridge"}
		for _, p := range demoPlugins {
			targets[filepath.Join(binDir, "plugins", "itsmbridge-plugin-"+p)] = mod + "plugins/" + p
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var errs []string
		for out, pkg := range targets {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", out, pkg)
				if b, err := cmd.CombinedOutput(); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("go build %s: %v\n%s", pkg, err, b))
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			buildErr = fmt.Errorf("%s", strings.Join(errs, "\n"))
		}
	})
	if buildErr != nil {
		t.Skipf("the bridge or a plugin does not build yet, so the demo cannot run: %v", buildErr)
	}
	return binDir
}

// freePorts returns n loopback addresses that were free a moment ago.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

// demoOptionsOnFreePorts runs the real config.hcl on free ports.
func demoOptionsOnFreePorts(t *testing.T, bin string) demoOptions {
	p := freePorts(t, 6)
	return demoOptions{
		Config: topConfig, Bin: bin,
		Sandbox: Addrs{Entra: p[0], ServiceNow: p[1], Jira: p[2], Cherwell: p[3]},
		Listen:  p[4], Admin: p[5], Timeout: 40 * time.Second,
	}
}

// tableRow is one parsed row of the demo's table.
type tableRow struct {
	route, backend, ticket, ci, state, vendor, expected string
}

// parseTable reads the table the demo printed, by alert (rule) name.
func parseTable(t *testing.T, out string) map[string]tableRow {
	t.Helper()
	lines := strings.Split(out, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "ALERT ") {
			start = i + 1
		}
	}
	if start < 0 {
		t.Fatalf("no table in the output:\n%s", out)
	}
	sep := regexp.MustCompile(`\s{2,}`)
	rows := map[string]tableRow{}
	for _, l := range lines[start:] {
		if strings.TrimSpace(l) == "" {
			break
		}
		f := sep.Split(strings.TrimSpace(l), -1)
		if len(f) != 8 {
			t.Fatalf("table row %q has %d columns, want 8", l, len(f))
		}
		rows[f[0]] = tableRow{f[1], f[2], f[3], f[4], f[5], f[6], f[7]}
	}
	return rows
}

// processesRunning lists running processes whose executable is under dir
// (Linux only; nil elsewhere).
func processesRunning(dir string) []string {
	if runtime.GOOS != "linux" {
		return nil
	}
	exes, _ := filepath.Glob("/proc/[0-9]*/exe")
	var out []string
	for _, e := range exes {
		if target, err := os.Readlink(e); err == nil && strings.HasPrefix(target, dir) {
			out = append(out, e+" → "+target)
		}
	}
	return out
}

func TestDemoEndToEndTwice(t *testing.T) {
	bin := buildBinaries(t)
	o := demoOptionsOnFreePorts(t, bin)
	wantRows := map[string]struct {
		route, backend string
		ticket         *regexp.Regexp
		ciBound        bool
		state, vendor  string
	}{
		"test-metricAlertRule":        {"production", "servicenow.demo", regexp.MustCompile(`^INC\d{7}$`), true, "resolved", "6 Resolved"},
		"AcmeRule":                    {"default", "jira.demo", regexp.MustCompile(`^OPS-\d+$`), false, "open", "Open"},
		"test-activityLogAlertRule":   {"production", "servicenow.demo", regexp.MustCompile(`^INC\d{7}$`), true, "open", "1 New"},
		"test-ServiceHealthAlertRule": {"health-events", "cherwell.demo", regexp.MustCompile(`^\d+$`), false, "resolved", "Resolved"},
	}
	// The second run, on the same ports, proves the first left nothing behind.
	for run := 1; run <= 2; run++ {
		var out, errOut bytes.Buffer
		res, err := demo(context.Background(), o, &out, &errOut)
		if err != nil {
			t.Fatalf("run %d: %v\nstdout:\n%s\nstderr:\n%s", run, err, out.String(), errOut.String())
		}
		if !res.OK() {
			t.Fatalf("run %d: problems %v\nstdout:\n%s", run, res.Problems, out.String())
		}
		for _, want := range []string{"→ ✓ 202 Accepted", "→ ✓ 200 OK", "→ ✓ 401 Unauthorized", "Demo OK", "/api/v1/tickets",
			"/api/now/table/incident?sysparm_query=correlation_id=", "/_emulator/tickets?correlation="} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("run %d: output lacks %q", run, want)
			}
		}
		rows := parseTable(t, out.String())
		if len(rows) != len(wantRows) {
			t.Errorf("run %d: %d rows, want %d:\n%s", run, len(rows), len(wantRows), out.String())
		}
		for alert, w := range wantRows {
			r, ok := rows[alert]
			if !ok {
				t.Errorf("run %d: no row for %s:\n%s", run, alert, out.String())
				continue
			}
			if r.route != w.route || r.backend != w.backend || !w.ticket.MatchString(r.ticket) || r.state != w.state ||
				r.vendor != w.vendor || r.expected != "✓ "+w.state || (r.ci != "—") != w.ciBound {
				t.Errorf("run %d: %s: row %+v, want %+v", run, alert, r, w)
			}
		}
		// Everything the demo started is gone: its temporary directory,
		// the bridge and its plugins, and the ports.
		if m := regexp.MustCompile(`Bridge log: (\S+)/bridge\.log`).FindStringSubmatch(out.String()); m == nil {
			t.Errorf("run %d: no bridge log path in the output", run)
		} else if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
			t.Errorf("run %d: the demo's directory %s is still there (%v)", run, m[1], err)
		}
		if ps := processesRunning(bin); len(ps) > 0 {
			t.Errorf("run %d: processes still running: %v", run, ps)
		}
		for _, a := range []string{o.Sandbox.Entra, o.Sandbox.ServiceNow, o.Sandbox.Jira, o.Sandbox.Cherwell, o.Listen, o.Admin} {
			if err := checkFree("port", a); err != nil {
				t.Errorf("run %d: %v", run, err)
			}
		}
	}
}

func TestDemoKeepRunsUntilCancelled(t *testing.T) {
	bin := buildBinaries(t)
	o := demoOptionsOnFreePorts(t, bin)
	o.Keep = true
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	type result struct {
		res *demoResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := demo(ctx, o, &out, &errOut)
		done <- result{res, err}
	}()
	deadline := time.After(45 * time.Second)
	for !strings.Contains(out.String(), "press Ctrl-C") {
		select {
		case r := <-done:
			t.Fatalf("demo returned before Ctrl-C: %v %v\n%s\n%s", r.res, r.err, out.String(), errOut.String())
		case <-deadline:
			t.Fatalf("demo did not reach -keep:\n%s\n%s", out.String(), errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	// Still serving: the bridge answers and the emulator holds the tickets.
	status, _ := do(t, "GET", "http://"+o.Admin+"/readyz", "", nil)
	if status != 200 {
		t.Fatalf("kept bridge /readyz: %d", status)
	}
	cancel()
	select {
	case r := <-done:
		if r.err != nil || !r.res.OK() {
			t.Fatalf("after cancel: %v %+v", r.err, r.res)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop after cancel")
	}
	if ps := processesRunning(bin); len(ps) > 0 {
		t.Errorf("processes still running: %v", ps)
	}
	if err := checkFree("admin", o.Admin); err != nil {
		t.Error(err)
	}
}

func TestDemoFailsLoudly(t *testing.T) {
	bin := buildBinaries(t)
	onlyBridge := t.TempDir()
	b, err := os.ReadFile(filepath.Join(bin, "itsmbridge"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(onlyBridge, "itsmbridge"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	src, _ := os.ReadFile(topConfig)
	badConfig := filepath.Join(t.TempDir(), "bad.hcl")
	bad := strings.Replace(string(src), `project   = "OPS"`, "project   = \"OPS\"\n    bogus     = 1", 1)
	if err := os.WriteFile(badConfig, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		modify func(*demoOptions)
		want   []string
	}{
		{"plugins missing", func(o *demoOptions) { o.Bin = onlyBridge },
			[]string{"missing", "itsmbridge-plugin-servicenow", "make build"}},
		{"bridge refuses the config", func(o *demoOptions) { o.Config = badConfig },
			[]string{"the bridge exited", "bridge stderr", badConfig + ":", "Unsupported argument"}},
		{"bridge port busy", nil, []string{"server.listen", "is busy"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := demoOptionsOnFreePorts(t, bin)
			if c.modify != nil {
				c.modify(&o)
			} else {
				ln, err := net.Listen("tcp", o.Listen)
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
			}
			var out, errOut bytes.Buffer
			_, err := demo(context.Background(), o, &out, &errOut)
			if err == nil {
				t.Fatalf("demo succeeded:\n%s", out.String())
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if ps := processesRunning(bin); len(ps) > 0 {
				t.Errorf("processes still running: %v", ps)
			}
		})
	}
}

func TestBenchConfigValidates(t *testing.T) {
	bin := buildBinaries(t)
	out := t.TempDir()
	dc, err := deriveConfig("bench.hcl", out, deriveOptions{PluginDir: filepath.Join(bin, "plugins"), StorePath: filepath.Join(out, "db")})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "itsmbridge"), "validate", "-config", dc.Path)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("itsmbridge validate bench.hcl: %v\n%s", err, b)
	}
}

func TestDemoReportsAFailingBackend(t *testing.T) {
	bin := buildBinaries(t)
	o := demoOptionsOnFreePorts(t, bin)
	o.beforeSend = func(sb *Sandbox) {
		// Jira refuses every call: the plugin's error is permanent, so the
		// delivery is dead-lettered at once.
		sb.Jira.InjectFault(jiraemu.Fault{Status: http.StatusForbidden})
	}
	var out, errOut bytes.Buffer
	res, err := demo(context.Background(), o, &out, &errOut)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, errOut.String())
	}
	if res.OK() {
		t.Fatalf("demo reported success with Jira failing:\n%s", out.String())
	}
	joined := strings.Join(res.Problems, "\n")
	for _, want := range []string{"AcmeRule → jira.demo", "dead-lettered"} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems lack %q:\n%s", want, joined)
		}
	}
	row := parseTable(t, out.String())["AcmeRule"]
	if !strings.HasPrefix(row.state, "dead") || !strings.HasPrefix(row.expected, "✗") {
		t.Errorf("AcmeRule row %+v, want a dead delivery marked ✗", row)
	}
	if !strings.Contains(errOut.String(), "bridge stderr") {
		t.Errorf("no bridge log tail on stderr:\n%s", errOut.String())
	}
	// The other backends are unaffected.
	if r := parseTable(t, out.String())["test-metricAlertRule"]; r.state != "resolved" {
		t.Errorf("metric row %+v", r)
	}
}
