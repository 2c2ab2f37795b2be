package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// The official samples the demo sends (embedded, unchanged).
const (
	sampleMetric   = "common-testaction-platform-metric-static-fired.json"
	sampleLog      = "common-log-alerts-v2-fired.json"
	sampleActivity = "common-testaction-activity-log-administrative-fired.json"
	sampleHealth   = "common-testaction-servicehealth-fired.json"
)

// demoStep is one delivery the demo makes, as an action group would.
type demoStep struct {
	What     string
	Alert    string // which alert of the story it belongs to (one table row per alert and backend)
	Sample   string
	Variant  string // how the sample is sent: "" as published, or variantResolved / variantActive
	Resolves bool   // the alert's tickets must end resolved
	BadToken bool   // a token for another application: must get 401
	Want     int    // the status the bridge must answer
}

// Sample variants. Azure sends several notifications per alert; the
// official samples show one each, so the demo derives the others.
const (
	// variantResolved is a fired common-schema notification as Azure sends
	// it when the alert resolves: monitorCondition Resolved and a
	// resolvedDateTime, everything else unchanged.
	variantResolved = "as Resolved"
	// variantActive is a service-health communication at stage Active. The
	// official test-action sample is the Resolved communication of its
	// incident (alertContext.status and stage Resolved), so the demo sends
	// the earlier Active one first.
	variantActive = "at stage Active"
)

// demoSteps is the sequence: fires and resolves of the main alert kinds,
// an Azure retry of a delivery already acknowledged, and a bad token.
var demoSteps = []demoStep{
	{What: "metric alert fired", Alert: "metric", Sample: sampleMetric, Want: http.StatusAccepted},
	{What: "same delivery again (an Azure retry)", Alert: "metric", Sample: sampleMetric, Want: http.StatusOK},
	{What: "log search alert fired", Alert: "log", Sample: sampleLog, Want: http.StatusAccepted},
	{What: "activity-log alert fired", Alert: "activity", Sample: sampleActivity, Want: http.StatusAccepted},
	{What: "service-health incident", Alert: "health", Sample: sampleHealth, Variant: variantActive, Want: http.StatusAccepted},
	{What: "token for another app (wrong audience)", Sample: sampleMetric, BadToken: true, Want: http.StatusUnauthorized},
	{What: "metric alert resolved", Alert: "metric", Sample: sampleMetric, Variant: variantResolved, Resolves: true, Want: http.StatusAccepted},
	{What: "service-health incident resolved", Alert: "health", Sample: sampleHealth, Resolves: true, Want: http.StatusAccepted},
}

// demoOptions are the demo's flags.
type demoOptions struct {
	Config    string
	Bin       string
	Keep      bool
	Sandbox   Addrs
	Listen    string // overrides server.listen
	Admin     string // overrides server.admin_listen
	Timeout   time.Duration
	BridgeLog bool

	// beforeSend, when set, runs once the bridge is ready (tests inject
	// emulator faults with it).
	beforeSend func(*Sandbox)
}

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o demoOptions
	fs.StringVar(&o.Config, "config", "config.hcl", "the bridge's configuration (a file or a directory of *.hcl); the demo runs a copy with a fresh store")
	fs.StringVar(&o.Bin, "bin", "bin", "directory with itsmbridge and plugins/itsmbridge-plugin-* (make build)")
	fs.BoolVar(&o.Keep, "keep", false, "keep the sandbox and the bridge running after the demo, until Ctrl-C")
	o.Sandbox.flags(fs)
	fs.StringVar(&o.Listen, "listen", "", "override the bridge's server.listen (e.g. 127.0.0.1:0)")
	fs.StringVar(&o.Admin, "admin", "", "override the bridge's server.admin_listen (e.g. 127.0.0.1:0)")
	fs.DurationVar(&o.Timeout, "timeout", 45*time.Second, "how long to wait for the bridge to start and for the deliveries to settle")
	fs.BoolVar(&o.BridgeLog, "bridge-log", false, "also stream the bridge's log to stderr")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "itsmbridge-sandbox demo: unexpected arguments %q\n", fs.Args())
		return exitFailed
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	res, err := demo(ctx, o, stdout, stderr)
	if err != nil && ctx.Err() != nil {
		fmt.Fprintln(stderr, "itsmbridge-sandbox demo: interrupted; the bridge and the sandbox are stopped")
		return exitRuntime
	}
	if err != nil {
		fmt.Fprintf(stderr, "itsmbridge-sandbox demo: %v\n", err)
		return exitRuntime
	}
	if !res.OK() {
		fmt.Fprintf(stderr, "itsmbridge-sandbox demo: FAILED: %s\n", strings.Join(res.Problems, "; "))
		return exitFailed
	}
	return exitOK
}

// demoResult is what the demo saw.
type demoResult struct {
	Rows     []demoRow
	Problems []string // every expectation that did not hold
}

// OK reports whether every expectation held.
func (r *demoResult) OK() bool { return len(r.Problems) == 0 }

func (r *demoResult) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// demoRow is one line of the table: one alert's ticket in one backend.
type demoRow struct {
	Alert   string // rule name
	Route   string
	Backend string // type.name
	Plugin  string // backend type
	Key     string // ticket key
	Ticket  string // vendor number, or "—"
	CIs     string // bound configuration items, or "—"
	State   string // bridge's ticket state, or the delivery state when not done
	Vendor  string // the ticket's state in the emulator
	Want    string // expected state
}

// sentAlert is an alert of the story and the store records the bridge
// acknowledged for it (the alert_id of each 202 or 200 answer).
type sentAlert struct {
	Name     string
	Records  []int64
	Resolved bool // expected to end resolved
}

// demo runs the sandbox and the bridge, sends the sequence and reports.
// Every process and file it creates is gone when it returns (or panics).
func demo(ctx context.Context, o demoOptions, stdout, stderr io.Writer) (*demoResult, error) {
	start := time.Now()
	bin, err := filepath.Abs(o.Bin)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "itsmbridge-demo-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	logger := hclog.New(&hclog.LoggerOptions{Name: "sandbox", Level: hclog.Warn, Output: stderr})
	sb, err := StartSandbox(o.Sandbox, logger)
	if err != nil {
		return nil, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = sb.Close(sctx)
	}()

	dc, err := deriveConfig(o.Config, tmp, deriveOptions{
		Replace: map[string]string{
			defaultEntraAddr:      hostPort(sb.EntraURL),
			defaultServiceNowAddr: hostPort(sb.ServiceNowURL),
			defaultJiraAddr:       hostPort(sb.JiraURL),
			defaultCherwellAddr:   hostPort(sb.CherwellURL),
		},
		PluginDir: filepath.Join(bin, "plugins"),
		StorePath: filepath.Join(tmp, "itsmbridge.db"),
		Listen:    o.Listen,
		Admin:     o.Admin,
	})
	if err != nil {
		return nil, err
	}
	for _, w := range dc.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	if err := checkBinaries(bin, dc.Plugins); err != nil {
		return nil, err
	}
	for _, a := range []struct{ name, addr string }{{"the bridge's ingress (server.listen)", dc.Listen}, {"the bridge's admin API (server.admin_listen)", dc.Admin}} {
		if err := checkFree(a.name, a.addr); err != nil {
			return nil, err
		}
	}

	fmt.Fprintf(stdout, "Sandbox: Entra ID stand-in %s, ServiceNow %s, Jira %s, Cherwell %s/CherwellAPI (user sandbox / sandbox)\n",
		sb.EntraURL, sb.ServiceNowURL, sb.JiraURL, sb.CherwellURL)

	logPath := filepath.Join(tmp, "bridge.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("bridge log: %w", err)
	}
	defer logFile.Close()
	var logOut io.Writer = logFile
	if o.BridgeLog {
		logOut = io.MultiWriter(logFile, stderr)
	}
	bp, err := startBridge(filepath.Join(bin, "itsmbridge"), dc.Path, logOut)
	if err != nil {
		return nil, err
	}
	defer bp.stop(10 * time.Second)

	// The copy keeps the original's line numbers: name the original in the
	// bridge's diagnostics.
	original := func(err error) error {
		return errors.New(strings.ReplaceAll(err.Error(), dc.Path, o.Config))
	}
	client := &http.Client{Timeout: 10 * time.Second}
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := bp.waitListening(wctx); err != nil {
		return nil, original(err)
	}
	if err := bp.waitReady(wctx, client); err != nil {
		return nil, original(err)
	}
	fmt.Fprintf(stdout, "Bridge:  %s serve -config %s (a copy of %s with a fresh SQLite store)\n", filepath.Join(o.Bin, "itsmbridge"), dc.Path, o.Config)
	fmt.Fprintf(stdout, "         ingress %s%s, admin %s — ready after %s\n\n", bp.Ingress, dc.SourcePath, bp.Admin, time.Since(start).Round(10*time.Millisecond))

	if o.beforeSend != nil {
		o.beforeSend(sb)
	}
	res := &demoResult{}
	sent, err := sendSteps(ctx, client, sb, dc, bp.Ingress+dc.SourcePath, stdout, res)
	if err != nil {
		return nil, err
	}

	admin := &adminClient{base: bp.Admin, client: client}
	settled, err := settle(wctx, admin, bp.exited)
	if err != nil && !settled {
		select {
		case <-bp.exited:
			return nil, bp.failure("waiting for deliveries")
		default:
		}
		res.problem("deliveries did not settle within %s: %v", o.Timeout, err)
	}
	rows, err := collectRows(ctx, admin, sb, sent, res)
	if err != nil {
		return nil, err
	}
	res.Rows = rows
	fmt.Fprintln(stdout)
	printTable(stdout, rows)
	dead, err := admin.deadLetters(ctx)
	if err != nil {
		return nil, err
	}
	for _, d := range dead {
		res.problem("delivery %d (%s → %s) is dead-lettered: %s", d.ID, d.Route, d.Backend, d.DeadReason)
	}
	printWhere(stdout, bp.Admin, sb, rows)
	fmt.Fprintf(stdout, "\nBridge log: %s (removed when the demo ends)\n", logPath)
	if !res.OK() {
		fmt.Fprintf(stderr, "--- bridge stderr (last lines) ---\n%s\n---\n", bp.stderr.String())
	} else {
		fmt.Fprintf(stdout, "Demo OK in %s: every alert has exactly one ticket per backend, in the expected state.\n", time.Since(start).Round(100*time.Millisecond))
	}

	if o.Keep {
		fmt.Fprintln(stdout, "\nEverything keeps running (-keep): explore the URLs above; press Ctrl-C to stop.")
		select {
		case <-ctx.Done():
		case <-bp.exited:
			return res, bp.failure("while kept running")
		}
	}
	fmt.Fprintln(stdout, "Stopping the bridge and the sandbox.")
	return res, nil
}

// hostPort returns the host:port of a base URL.
func hostPort(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	return u.Host
}

// checkBinaries reports every missing binary the demo needs, at once.
func checkBinaries(bin string, plugins []string) error {
	var missing []string
	need := []string{filepath.Join(bin, "itsmbridge")}
	for _, p := range plugins {
		need = append(need, filepath.Join(bin, "plugins", "itsmbridge-plugin-"+p))
	}
	for _, f := range need {
		if _, err := os.Stat(f); err != nil {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s (run `make build` first)", strings.Join(missing, ", "))
	}
	return nil
}

// checkFree fails when addr (with a fixed port) cannot be listened on.
func checkFree(name, addr string) error {
	if addr == "" {
		return nil
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "0" {
		return nil
	}
	ln, err := listen(name, addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

// sendSteps delivers demoSteps and returns the alerts sent, in order.
func sendSteps(ctx context.Context, client *http.Client, sb *Sandbox, dc *demoConfig, ingress string, w io.Writer, res *demoResult) ([]sentAlert, error) {
	tr := TokenRequest{EntraURL: sb.EntraURL, Tenant: dc.Tenant, Audience: dc.Audience}
	if tr.Tenant == "" {
		tr.Tenant = defaultTenant
	}
	if tr.Audience == "" {
		tr.Audience = defaultAudience
	}
	good, err := FetchToken(ctx, client, tr)
	if err != nil {
		return nil, err
	}
	tr.Audience = "api://not-itsmbridge"
	bad, err := FetchToken(ctx, client, tr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "Sending official Azure samples as an action group would (tenant %s, audience %s):\n", tr.Tenant, dc.Audience)
	var sent []sentAlert
	for i, st := range demoSteps {
		payload, err := sample(st.Sample)
		if err != nil {
			return nil, err
		}
		name := st.Sample
		switch st.Variant {
		case variantResolved:
			payload, err = asResolved(payload)
		case variantActive:
			payload, err = asActive(payload)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", st.Sample, err)
		}
		if st.Variant != "" {
			name += " " + st.Variant
		}
		tok := good
		if st.BadToken {
			tok = bad
		}
		resp, err := Post(ctx, client, ingress, tok, payload)
		mark := "✓"
		var got string
		switch {
		case err != nil:
			got, mark = "error: "+err.Error(), "✗"
			res.problem("step %d (%s): %v", i+1, st.What, err)
		default:
			got = resp.Summary()
			if resp.Status != st.Want {
				mark = "✗"
				res.problem("step %d (%s): got %d, want %d", i+1, st.What, resp.Status, st.Want)
			}
		}
		fmt.Fprintf(w, "  %d. %-40s %s\n       → %s %s\n", i+1, st.What, name, mark, got)
		if st.Alert == "" {
			continue
		}
		j := slices.IndexFunc(sent, func(s sentAlert) bool { return s.Name == st.Alert })
		if j < 0 {
			sent = append(sent, sentAlert{Name: st.Alert})
			j = len(sent) - 1
		}
		sent[j].Resolved = sent[j].Resolved || st.Resolves
		if err != nil || !resp.OK() {
			continue
		}
		var ack struct {
			AlertID int64 `json:"alert_id"`
		}
		if json.Unmarshal(resp.Body, &ack) != nil || ack.AlertID == 0 {
			res.problem("step %d (%s): no alert_id in the answer %s", i+1, st.What, resp.Body)
			continue
		}
		if !slices.Contains(sent[j].Records, ack.AlertID) {
			sent[j].Records = append(sent[j].Records, ack.AlertID)
		}
	}
	return sent, nil
}

// asResolved turns a fired common-schema notification into the Resolved
// notification Azure sends later for the same alert: monitorCondition
// Resolved and a resolvedDateTime; everything else unchanged.
func asResolved(payload []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(payload, &doc); err != nil {
		return nil, err
	}
	data, _ := doc["data"].(map[string]any)
	ess, _ := data["essentials"].(map[string]any)
	if ess == nil {
		return nil, errors.New("not a common-schema alert (no data.essentials)")
	}
	resolved := time.Now().UTC()
	if f, ok := ess["firedDateTime"].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, f); err == nil {
			resolved = t.Add(7 * time.Minute)
		}
	}
	ess["monitorCondition"] = "Resolved"
	ess["resolvedDateTime"] = resolved.Format("2006-01-02T15:04:05.000Z")
	return json.Marshal(doc)
}

// asActive turns a service-health communication into one at stage Active
// (alertContext.status and properties.stage Active, no mitigation time).
func asActive(payload []byte) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(payload, &doc); err != nil {
		return nil, err
	}
	data, _ := doc["data"].(map[string]any)
	ctx, _ := data["alertContext"].(map[string]any)
	props, _ := ctx["properties"].(map[string]any)
	if _, ok := props["trackingId"]; !ok {
		return nil, errors.New("not a service-health alert (no data.alertContext.properties.trackingId)")
	}
	ctx["status"] = "Active"
	props["stage"] = "Active"
	delete(props, "impactMitigationTime")
	return json.Marshal(doc)
}

// settle waits until no delivery is pending or in flight, or until gone
// (the bridge's exit; nil when not watched) is closed.
func settle(ctx context.Context, admin *adminClient, gone <-chan struct{}) (bool, error) {
	for {
		st, err := admin.stats(ctx)
		if err == nil && st.Pending == 0 && st.Leased == 0 {
			return true, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("%d pending, %d in flight", st.Pending, st.Leased)
			}
			return false, fmt.Errorf("%w (%v)", err, ctx.Err())
		case <-gone:
			return false, errors.New("the bridge exited")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// collectRows builds the table from the admin API and the emulators, and
// checks the expectations: each alert has a ticket per backend, exactly one
// in the vendor, in the expected state.
func collectRows(ctx context.Context, admin *adminClient, sb *Sandbox, sent []sentAlert, res *demoResult) ([]demoRow, error) {
	var rows []demoRow
	for _, a := range sent {
		want := string(store.TicketOpen)
		if a.Resolved {
			want = string(store.TicketResolved)
		}
		if len(a.Records) == 0 {
			res.problem("alert %q: nothing acknowledged", a.Name)
			continue
		}
		type group struct {
			route   string
			backend store.BackendID
			key     string
			last    store.Delivery // the newest delivery of the ticket key
		}
		var groups []*group
		var rule, azureID string
		for _, id := range a.Records {
			det, err := admin.alert(ctx, id)
			if err != nil {
				return nil, err
			}
			if rule == "" {
				rule, azureID = det.Alert.Rule, det.Alert.AlertID
			} else if det.Alert.AlertID != azureID {
				res.problem("alert %q: the bridge saw two alerts (%s and %s) where Azure sent one", a.Name, azureID, det.Alert.AlertID)
			}
			for _, d := range det.Deliveries {
				i := slices.IndexFunc(groups, func(g *group) bool { return g.backend == d.Backend && g.key == d.TicketKey })
				if i < 0 {
					groups = append(groups, &group{route: d.Route, backend: d.Backend, key: d.TicketKey})
					i = len(groups) - 1
				}
				groups[i].last = d
			}
		}
		if len(groups) == 0 {
			rows = append(rows, demoRow{Alert: rule, Route: "(unrouted)", Backend: "—", Ticket: "—", CIs: "—", State: "unrouted", Vendor: "—", Want: "unrouted"})
			continue
		}
		for _, g := range groups {
			row := demoRow{Alert: rule, Route: g.route, Backend: g.backend.String(), Plugin: g.backend.Type, Key: g.key,
				Ticket: "—", CIs: "—", Want: want}
			t, ok, err := admin.ticket(ctx, g.backend, g.key)
			if err != nil {
				return nil, err
			}
			switch {
			case g.last.State != store.StateDone:
				row.State = string(g.last.State)
				if g.last.LastError != "" {
					row.State += ": " + g.last.LastError
				}
			case !ok:
				row.State = "no ticket (" + g.last.Outcome + ")"
			default:
				row.State = string(t.State)
			}
			if ok {
				row.Ticket = t.Ref.Number
				if row.Ticket == "" {
					row.Ticket = t.Ref.ID
				}
				var cis []string
				for _, b := range t.CIBindings {
					name := b.Ref.Name
					if name == "" {
						name = b.Item
					}
					if b.Ref.Created {
						name += " (created)"
					}
					cis = append(cis, name)
				}
				if len(cis) > 0 {
					row.CIs = strings.Join(cis, ", ")
				}
			}
			n, vstate := sb.VendorTickets(g.backend.Type, g.key)
			switch {
			case n < 0:
				row.Vendor = "—"
			case n == 1:
				row.Vendor = vstate
			default:
				row.Vendor = fmt.Sprintf("%d tickets!", n)
				res.problem("%s: %d tickets in %s for one ticket key (want exactly 1)", rule, n, g.backend)
			}
			if row.State != want {
				res.problem("%s → %s: state %q, want %q", rule, g.backend, row.State, want)
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
}

// printTable writes the rows as an aligned table.
func printTable(w io.Writer, rows []demoRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ALERT\tROUTE\tBACKEND\tTICKET\tCI BOUND\tSTATE\tIN THE EMULATOR\tEXPECTED")
	for _, r := range rows {
		mark := "✓ " + r.Want
		if r.State != r.Want {
			mark = "✗ " + r.Want
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Alert, r.Route, r.Backend, r.Ticket, r.CIs, r.State, r.Vendor, mark)
	}
	_ = tw.Flush()
}

// printWhere shows the admin API and, per ticket, the vendor API call (or
// emulator control URL) that shows it.
func printWhere(w io.Writer, admin string, sb *Sandbox, rows []demoRow) {
	fmt.Fprintf(w, "\nWhere to look\n  Console:    %[1]s/\n  Admin API:  %[1]s/api/v1/alerts  %[1]s/api/v1/tickets  %[1]s/api/v1/deliveries  %[1]s/api/v1/dlq  %[1]s/metrics\n", admin)
	fmt.Fprintln(w, "  Each ticket in its emulator:")
	for _, r := range rows {
		if r.Key == "" {
			continue
		}
		if u := sb.TicketURL(r.Plugin, r.Key, r.Ticket); u != "" {
			fmt.Fprintf(w, "    %-12s %s\n", r.Ticket, u)
		}
	}
	fmt.Fprintf(w, "  Any emulator: <URL>/_emulator/tickets?correlation=KEY (no auth), <URL>/_emulator/calls (what the plugin sent)\n")
}
