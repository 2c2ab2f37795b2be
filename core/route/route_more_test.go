package route

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/itsmbridge/itsmbridge/core/alert"
)

const header = `
source "azure_monitor" "test" {
  path = "/webhooks/azure/test"
  azure_ad {
    tenants   = ["00000000-0000-0000-0000-00000000a2e1"]
    audiences = ["api://itsmbridge"]
  }
}
backend "servicenow" "prod" {}
backend "jira" "ops" {}
`

func testAlert() *alert.Alert {
	return &alert.Alert{
		ID:                 "/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.AlertsManagement/alerts/aaaa",
		Schema:             alert.SchemaCommon,
		Status:             alert.StatusFired,
		Severity:           1,
		SeverityName:       "Sev1",
		Rule:               "cpu-high",
		Service:            "Platform",
		Signal:             "Metric",
		Description:        "CPU above 90%",
		Targets:            []string{"/subscriptions/11111111-1111-1111-1111-111111111111/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"},
		ConfigurationItems: []string{"vm1"},
		Subscription:       "11111111-1111-1111-1111-111111111111",
		ResourceGroup:      "rg",
		ResourceType:       "microsoft.compute/virtualmachines",
		ResourceName:       "vm1",
		FiredAt:            "2024-05-01T13:04:05Z",
		Link:               "https://portal.azure.com/#alert",
		Custom:             map[string]string{"team": "payments"},
		Context:            []byte(`{"flag":"yes","condition":{"windowSize":"PT5M"}}`),
	}
}

// TestContinueAndDedupe: a continuing route fans out to two backends; a later
// route choosing the same ticket is delivered once; first match stops.
func TestContinueAndDedupe(t *testing.T) {
	cfg := configFrom(t, header+`
route "critical" {
  match    = alert.severity <= 1
  to       = [backend.servicenow.prod, backend.jira.ops]
  continue = true
  lifecycle {
    reopen_within = "2h"
    on_repeat     = "ignore"
  }
  cmdb {}
}
route "vm" {
  match = alert.resource_type == "microsoft.compute/virtualmachines"
  to    = [backend.servicenow.prod]
}
route "never" {
  match = true
  to    = [backend.jira.ops]
}
`, nil)
	r, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := testAlert()
	ds, rs := r.Route(a)
	if got := outcomes(rs); got != "critical=matched, vm=matched, never=skipped" {
		t.Errorf("outcomes = %s", got)
	}
	if len(ds) != 2 || ds[0].Backend.String() != "backend.servicenow.prod" || ds[1].Backend.String() != "backend.jira.ops" {
		t.Fatalf("deliveries = %+v", deliveriesOf(ds))
	}
	if ds[0].TicketKey == ds[1].TicketKey {
		t.Error("two backends got the same ticket key")
	}
	if len(rs[1].Warnings) != 1 || !strings.Contains(rs[1].Warnings[0], `same ticket as route "critical"`) {
		t.Errorf("vm warnings = %v", rs[1].Warnings)
	}
	d := ds[0]
	if d.Lifecycle.ReopenWithin.String() != "2h0m0s" || d.Lifecycle.OnRepeat != "ignore" || !d.Lifecycle.Resolve {
		t.Errorf("lifecycle = %+v", d.Lifecycle)
	}
	if !d.CMDB.Bind || d.CMDB.CreateMissing {
		t.Errorf("cmdb = %+v (an empty cmdb block binds)", d.CMDB)
	}

	// RouteAll evaluates the routes after the stop, without deliveries.
	ds2, rs2 := r.RouteAll(a)
	if len(ds2) != 2 || rs2[2].Outcome != Matched || !rs2[2].Stopped || rs2[0].Stopped {
		t.Errorf("RouteAll: %d deliveries, results %+v", len(ds2), rs2)
	}

	// Nothing matches: no deliveries (the caller records it as unrouted).
	b := testAlert()
	b.Severity, b.ResourceType = 4, "microsoft.storage/storageaccounts"
	cfg2 := configFrom(t, header+`
route "critical" {
  match = alert.severity <= 1
  to    = [backend.jira.ops]
}
`, nil)
	r2, _ := New(cfg2, nil)
	if ds, rs := r2.Route(b); len(ds) != 0 || rs[0].Outcome != NotMatched {
		t.Errorf("unrouted alert: %v %v", ds, rs)
	}
}

// TestRuntimeErrors: a match that fails or is not a bool is an error result,
// logged and counted; rendering failures fall back to defaults.
func TestRuntimeErrors(t *testing.T) {
	cfg := configFrom(t, header+`
route "flag" {
  match    = alert.context.flag
  to       = [backend.jira.ops]
  continue = true
}
route "missing" {
  match    = alert.context.nope == "x"
  to       = [backend.jira.ops]
  continue = true
}
route "render" {
  match    = true
  to       = [backend.servicenow.prod]
  group_by = [alert.context.nope]
  ticket {
    title       = "${alert.context.nope} down"
    description = tonumber(alert.rule)
    severity    = alert.severity + 7
    fields = {
      ok  = alert.custom.team
      bad = alert.context.nope
    }
  }
}
`, nil)
	var logs bytes.Buffer
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Warn})
	r, err := New(cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	a := testAlert()
	ds, rs := r.Route(a)
	if got := outcomes(rs); got != "flag=error, missing=error, render=matched" {
		t.Fatalf("outcomes = %s", got)
	}
	if rs[0].Error != "match evaluated to string, not a bool" {
		t.Errorf("flag error = %q", rs[0].Error)
	}
	if !strings.Contains(rs[1].Error, `Unsupported attribute`) || !strings.Contains(rs[1].Error, `"nope"`) {
		t.Errorf("missing error = %q", rs[1].Error)
	}
	if r.MatchErrors() != 2 {
		t.Errorf("MatchErrors = %d, want 2", r.MatchErrors())
	}
	if !strings.Contains(logs.String(), "route match failed") || !strings.Contains(logs.String(), "route=flag") {
		t.Errorf("match errors not logged:\n%s", logs.String())
	}

	// Rendering: every broken part falls back and is reported.
	d := ds[0]
	if d.Ticket.Title != DefaultTitle(a) || d.Ticket.Description != DefaultDescription(a) || d.Ticket.Severity != 1 {
		t.Errorf("ticket = %+v", d.Ticket)
	}
	if d.TicketKey != idKey("servicenow", "prod", a) {
		t.Errorf("group_by failure should use [alert.id]: %s", d.TicketKey)
	}
	if len(d.Ticket.Fields) != 1 || d.Ticket.Fields["ok"] != "payments" {
		t.Errorf("fields = %v", d.Ticket.Fields)
	}
	if r.RenderErrors() != 5 || len(rs[2].Warnings) != 5 {
		t.Errorf("RenderErrors = %d, warnings %q", r.RenderErrors(), rs[2].Warnings)
	}
}

// TestGroupByKeys: explicit [alert.id] equals the default; keys are stable
// and distinguish values.
func TestGroupByKeys(t *testing.T) {
	cfg := configFrom(t, header+`
route "explicit" {
  match    = alert.rule == "explicit"
  to       = [backend.jira.ops]
  group_by = [alert.id]
}
route "storm" {
  match    = alert.rule == "storm"
  to       = [backend.jira.ops]
  group_by = [alert.resource_group, alert.severity, alert.severity == 1, formatdate("YYYY-MM-DD", alert.fired_at)]
}
route "default" {
  match = true
  to    = [backend.jira.ops]
}
`, nil)
	r, _ := New(cfg, nil)
	keyOf := func(mut func(*alert.Alert)) string {
		a := testAlert()
		mut(a)
		ds, _ := r.Route(a)
		return ds[0].TicketKey
	}
	def := keyOf(func(a *alert.Alert) {})
	explicit := keyOf(func(a *alert.Alert) { a.Rule = "explicit" })
	if def != explicit || def != idKey("jira", "ops", testAlert()) {
		t.Errorf("default %s, explicit [alert.id] %s", def, explicit)
	}
	storm1 := keyOf(func(a *alert.Alert) { a.Rule = "storm"; a.ID = "one" })
	storm2 := keyOf(func(a *alert.Alert) { a.Rule = "storm"; a.ID = "two"; a.FiredAt = "2024-05-01T23:59:59Z" })
	storm3 := keyOf(func(a *alert.Alert) { a.Rule = "storm"; a.FiredAt = "2024-05-02T00:00:00Z" })
	if storm1 != storm2 {
		t.Error("alerts of one storm got different keys")
	}
	if storm1 == storm3 {
		t.Error("the next day's storm got the same key")
	}
	if want := key("jira", "ops", "rg", "1", "true", "2024-05-01"); storm1 != want {
		t.Errorf("storm key = %s, want %s", storm1, want)
	}
	if len(storm1) != 32 {
		t.Errorf("key %q is not 32 hex digits", storm1)
	}
}

func TestDefaultTicket(t *testing.T) {
	a := testAlert()
	if got := DefaultTitle(a); got != "[Sev1] cpu-high on vm1" {
		t.Errorf("title = %q", got)
	}
	want := `CPU above 90%

Alert rule: cpu-high
Severity: Sev1
Status: fired
Monitoring service: Platform
Signal: Metric
Fired at: 2024-05-01T13:04:05Z
Azure alert id: /subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.AlertsManagement/alerts/aaaa
Link: https://portal.azure.com/#alert
Targets:
  - /subscriptions/11111111-1111-1111-1111-111111111111/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1`
	if got := DefaultDescription(a); got != want {
		t.Errorf("description:\n%s\nwant:\n%s", got, want)
	}
	tests := []struct {
		mut  func(*alert.Alert)
		want string
	}{
		{func(a *alert.Alert) { a.ResourceName = "" }, "[Sev1] cpu-high on " + a.Targets[0]},
		{func(a *alert.Alert) { a.ResourceName, a.Targets = "", nil }, "[Sev1] cpu-high on subscription 11111111-1111-1111-1111-111111111111"},
		{func(a *alert.Alert) { a.ResourceName, a.Targets, a.Subscription, a.Rule = "", nil, "", "" }, "[Sev1] Azure Monitor alert"},
		{func(a *alert.Alert) { a.SeverityName = ""; a.Severity = 4 }, "[Sev4] cpu-high on vm1"},
	}
	for _, tt := range tests {
		b := testAlert()
		tt.mut(b)
		if got := DefaultTitle(b); got != tt.want {
			t.Errorf("title = %q, want %q", got, tt.want)
		}
	}
}

// TestNoSecretInLogs: error messages that would carry a secret (here a
// failed number conversion quoting its input) are redacted before logging
// and in results.
func TestNoSecretInLogs(t *testing.T) {
	env := func(k string) (string, bool) { return map[string]string{"TOKEN": "tok-s3cret"}[k], k == "TOKEN" }
	cfg := configFrom(t, header+`
route "leaky" {
  match    = tonumber("${env("TOKEN")}${alert.rule}") > 1
  to       = [backend.jira.ops]
  continue = true
}
route "render" {
  match = true
  to    = [backend.jira.ops]
  ticket {
    title = tonumber("${alert.rule}${env("TOKEN")}")
  }
}
`, env)
	var logs bytes.Buffer
	r, _ := New(cfg, hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Trace}))
	_, rs := r.Route(testAlert())
	if rs[0].Outcome != Errored || len(rs[1].Warnings) != 1 {
		t.Fatalf("results = %+v", rs)
	}
	all := logs.String() + rs[0].Error + strings.Join(rs[1].Warnings, "")
	if strings.Contains(all, "s3cret") {
		t.Errorf("secret leaked:\n%s", all)
	}
	if !strings.Contains(all, "(sensitive)") {
		t.Errorf("expected a redacted error, got:\n%s", all)
	}
}

func TestConcurrentRoute(t *testing.T) {
	cfg := loadConfig(t, "testdata/routes.hcl", nil)
	r, _ := New(cfg, nil)
	a := sample(t, "common-log-alerts-v2-fired.json")
	want, _ := r.Route(a)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				got, _ := r.Route(a)
				if len(got) != len(want) || got[0].TicketKey != want[0].TicketKey {
					t.Errorf("concurrent result differs")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestReadsContext(t *testing.T) {
	tests := []struct {
		src  string
		want bool
	}{
		{`alert.severity <= 1`, false},
		{`alert.context.x == 1`, true},
		{`alert["context"]`, true},
		{`try(alert.context.a.b, "")`, true},
		{`jsonencode(alert)`, true},
		{`"${alert.rule}"`, false},
	}
	for _, tt := range tests {
		e, diags := hclsyntax.ParseExpression([]byte(tt.src), "t", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		if got := readsContext(e); got != tt.want {
			t.Errorf("readsContext(%s) = %v", tt.src, got)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	if _, err := New(nil, nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}
