package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/core/normalize"
	"github.com/itsmbridge/itsmbridge/core/route"
)

func init() {
	register("route test", command{
		summary: "show which routes match an alert payload and the tickets they would make (sends nothing)",
		run:     runRouteTest,
	})
}

const routeTestUsage = `usage: itsmbridge route test -config PATH [-all] [-o text|json] [-expect-match] [-source NAME] ALERT.json

Normalizes ALERT.json (any Azure Monitor schema), evaluates every route in
order and prints, for each delivery, the backend, the ticket key and the
rendered ticket. Nothing is sent. Exit status: 0, or 1 when the config or the
payload is invalid, or when -expect-match is given and no route matched.
`

func runRouteTest(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("route test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, routeTestUsage); fs.PrintDefaults() }
	path := fs.String("config", "config.hcl", "configuration file, or directory of *.hcl files")
	all := fs.Bool("all", false, "also evaluate the routes after routing stopped (shown as stopped)")
	format := fs.String("o", "text", "output format: text or json")
	expect := fs.Bool("expect-match", false, "exit 1 when no route matches (for CI tests of a routing table)")
	source := fs.String("source", "", "name of the source the alert arrives on (alert.source); default: the only source")

	// Flags may come before or after the payload file.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return exitFailed
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(files) != 1 {
		fs.Usage()
		return exitFailed
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "itsmbridge route test: -o must be text or json, not %q\n", *format)
		return exitFailed
	}

	cfg, diags := config.Load(*path, config.Options{})
	if diags.HasErrors() {
		_ = cfg.WriteDiagnostics(stderr, diags, 100)
		fmt.Fprintf(stderr, "itsmbridge route test: %s is not valid (see itsmbridge validate)\n", *path)
		return exitFailed
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		fmt.Fprintf(stderr, "itsmbridge route test: %v\n", err)
		return exitRuntime
	}
	a, err := normalize.Normalize(raw)
	if err != nil {
		fmt.Fprintf(stderr, "itsmbridge route test: %s: %v\n", files[0], err)
		return exitFailed
	}
	var notes []string
	switch {
	case *source != "":
		if cfg.Source(*source) == nil {
			fmt.Fprintf(stderr, "itsmbridge route test: no source %q in %s\n", *source, *path)
			return exitFailed
		}
		a.Source = *source
	case len(cfg.Sources) == 1:
		a.Source = cfg.Sources[0].Name
	case len(cfg.Sources) > 1:
		notes = append(notes, "alert.source is empty: pass -source NAME to test routes that depend on it")
	}
	if src := cfg.Source(a.Source); src != nil && len(src.AllowedSubscriptions) > 0 &&
		!slices.Contains(src.AllowedSubscriptions, strings.ToLower(a.Subscription)) {
		notes = append(notes, fmt.Sprintf("source %q would reject this alert: subscription %q is not in its allowed_subscriptions", src.Name, a.Subscription))
	}

	// Route warnings go to stderr through the redacting writer; they are
	// also in the results printed below.
	logger := hclog.New(&hclog.LoggerOptions{Name: "route-test", Level: hclog.Error, Output: cfg.RedactWriter(stderr)})
	router, err := route.New(cfg, logger)
	if err != nil {
		fmt.Fprintf(stderr, "itsmbridge route test: %v\n", err)
		return exitFailed
	}
	route := router.Route
	if *all {
		route = router.RouteAll
	}
	deliveries, results := route(a)

	var out bytes.Buffer
	if *format == "json" {
		if err := writeRouteTestJSON(&out, a, results, deliveries, notes); err != nil {
			fmt.Fprintf(stderr, "itsmbridge route test: %v\n", err)
			return exitRuntime
		}
	} else {
		writeRouteTestText(&out, a, results, deliveries, notes)
	}
	_, _ = io.WriteString(stdout, cfg.Redact(out.String()))
	if *expect && len(deliveries) == 0 {
		fmt.Fprintln(stderr, "itsmbridge route test: no route matched (-expect-match)")
		return exitFailed
	}
	return exitOK
}

// routeTestDelivery is a delivery in `-o json` output.
type routeTestDelivery struct {
	Route     string `json:"route"`
	Backend   string `json:"backend"`
	TicketKey string `json:"ticket_key"`
	Ticket    struct {
		Title       string            `json:"title"`
		Description string            `json:"description"`
		Severity    int               `json:"severity"`
		Fields      map[string]string `json:"fields"`
	} `json:"ticket"`
	Lifecycle struct {
		Resolve      bool   `json:"resolve"`
		ReopenWithin string `json:"reopen_within"`
		OnRepeat     string `json:"on_repeat"`
	} `json:"lifecycle"`
	CMDB struct {
		Bind          bool `json:"bind"`
		CreateMissing bool `json:"create_missing"`
	} `json:"cmdb"`
}

func writeRouteTestJSON(w io.Writer, a *alert.Alert, results []route.Result, deliveries []route.Delivery, notes []string) error {
	out := struct {
		Alert      *alert.Alert        `json:"alert"`
		Routes     []route.Result      `json:"routes"`
		Deliveries []routeTestDelivery `json:"deliveries"`
		Matched    bool                `json:"matched"`
		Notes      []string            `json:"notes"`
	}{Alert: a, Routes: results, Deliveries: []routeTestDelivery{}, Matched: len(deliveries) > 0, Notes: notes}
	if out.Notes == nil {
		out.Notes = []string{}
	}
	for _, d := range deliveries {
		var rd routeTestDelivery
		rd.Route, rd.Backend, rd.TicketKey = d.Route, d.Backend.String(), d.TicketKey
		rd.Ticket.Title, rd.Ticket.Description, rd.Ticket.Severity = d.Ticket.Title, d.Ticket.Description, d.Ticket.Severity
		rd.Ticket.Fields = d.Ticket.Fields
		if rd.Ticket.Fields == nil {
			rd.Ticket.Fields = map[string]string{}
		}
		rd.Lifecycle.Resolve, rd.Lifecycle.ReopenWithin, rd.Lifecycle.OnRepeat = d.Lifecycle.Resolve, d.Lifecycle.ReopenWithin.String(), d.Lifecycle.OnRepeat
		rd.CMDB.Bind, rd.CMDB.CreateMissing = d.CMDB.Bind, d.CMDB.CreateMissing
		out.Deliveries = append(out.Deliveries, rd)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeRouteTestText(w io.Writer, a *alert.Alert, results []route.Result, deliveries []route.Delivery, notes []string) {
	field := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-16s %s\n", k+":", v)
		}
	}
	fmt.Fprintln(w, "Alert")
	field("id", a.ID)
	field("schema", a.Schema)
	field("source", a.Source)
	field("status", a.Status)
	field("severity", fmt.Sprintf("%s (%d)", a.SeverityName, a.Severity))
	field("rule", a.Rule)
	field("service", a.Service)
	field("signal", a.Signal)
	field("subscription", a.Subscription)
	field("resource group", a.ResourceGroup)
	field("resource", strings.TrimSpace(a.ResourceName+" "+routeTestParens(a.ResourceType)))
	field("fired at", a.FiredAt)
	field("resolved at", a.ResolvedAt)
	for i, t := range a.Targets {
		if i == 0 {
			field("targets", t)
		} else {
			field("", t)
		}
	}
	field("CIs", strings.Join(a.ConfigurationItems, ", "))

	fmt.Fprintln(w, "\nRoutes (in order)")
	width := 0
	for _, r := range results {
		width = max(width, len(r.Route))
	}
	for i, r := range results {
		verdict := r.Outcome.String()
		switch {
		case r.Outcome == route.Errored:
			verdict = "error: " + r.Error + " (treated as no match)"
		case r.Outcome == route.Skipped:
			verdict = "skipped (an earlier route matched without continue)"
		case r.Stopped:
			verdict += " (after routing stopped: no delivery)"
		}
		fmt.Fprintf(w, "  %2d. %-*s  %s\n", i+1, width, r.Route, verdict)
		for _, warn := range r.Warnings {
			fmt.Fprintf(w, "      %-*s  warning: %s\n", width, "", warn)
		}
	}

	if len(deliveries) == 0 {
		fmt.Fprintln(w, "\nNo route matched: the alert would be stored as unrouted.")
	} else {
		fmt.Fprintln(w, "\nDeliveries")
	}
	for _, d := range deliveries {
		fmt.Fprintf(w, "  %s (route %q)\n", d.Backend, d.Route)
		fmt.Fprintf(w, "    ticket key:  %s\n", d.TicketKey)
		fmt.Fprintf(w, "    title:       %s\n", d.Ticket.Title)
		fmt.Fprintf(w, "    severity:    %d\n", d.Ticket.Severity)
		fmt.Fprintln(w, "    description: |")
		for _, line := range strings.Split(d.Ticket.Description, "\n") {
			fmt.Fprintf(w, "      %s\n", line)
		}
		if len(d.Ticket.Fields) > 0 {
			keys := make([]string, 0, len(d.Ticket.Fields))
			for k := range d.Ticket.Fields {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			fmt.Fprintln(w, "    fields:")
			for _, k := range keys {
				fmt.Fprintf(w, "      %s = %q\n", k, d.Ticket.Fields[k])
			}
		}
		fmt.Fprintf(w, "    lifecycle:   resolve=%t reopen_within=%s on_repeat=%s\n", d.Lifecycle.Resolve, d.Lifecycle.ReopenWithin, d.Lifecycle.OnRepeat)
		fmt.Fprintf(w, "    cmdb:        bind=%t create_missing=%t\n", d.CMDB.Bind, d.CMDB.CreateMissing)
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
	}
}

func routeTestParens(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ")"
}
