package main

import (
	"encoding/json"
	"strings"
	"testing"
)

const (
	rtConfig  = "testdata/routetest/routes.hcl"
	rtMetric  = "testdata/routetest/common-testaction-platform-metric-static-fired.json"
	rtHealth  = "testdata/routetest/common-testaction-servicehealth-fired.json"
	rtUnknown = "testdata/routetest/not-an-alert.json"
)

func TestRouteTestText(t *testing.T) {
	t.Setenv("ITSMBRIDGE_TEST_FIELD_SECRET", "f1eld-s3cret")
	// Flags after the file work too.
	code, out, errOut := runCLI("route", "test", "-config", rtConfig, rtMetric, "-all")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"  rule:            test-metricAlertRule",
		"  source:          prod",
		"   1. storage  matched",
		"   2. metric   matched\n",
		`               warning: backend.jira.ops: same ticket as route "storage"; delivered once`,
		"   3. rest     not matched (after routing stopped: no delivery)",
		`  backend.servicenow.prod (route "storage")`,
		`  backend.jira.ops (route "storage")`,
		"    title:       Storage: test-storageAccount",
		`      assignment_group = "Storage"`,
		`      token = "(sensitive)"`,
		"    cmdb:        bind=true create_missing=false",
		"      Azure alert id: /subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.AlertsManagement/alerts/12345678-1234-1234-1234-1234567890ab",
		`note: source "prod" would reject this alert: subscription "11111111-1111-1111-1111-111111111111" is not in its allowed_subscriptions`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, "f1eld-s3cret") {
		t.Errorf("secret printed:\n%s", out)
	}
	// The env() default is a literal of the file, not a secret.
	if strings.Contains(out, "prod (sensitive)") {
		t.Errorf("non-secret redacted:\n%s", out)
	}

	// Without -all, the routes after the stop are skipped.
	_, out, _ = runCLI("route", "test", "-config", rtConfig, rtMetric)
	if !strings.Contains(out, "   3. rest     skipped (an earlier route matched without continue)") {
		t.Errorf("without -all:\n%s", out)
	}
}

func TestRouteTestJSON(t *testing.T) {
	t.Setenv("ITSMBRIDGE_TEST_FIELD_SECRET", "f1eld-s3cret")
	code, out, errOut := runCLI("route", "test", "-config", rtConfig, "-o", "json", rtHealth)
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	var got struct {
		Alert struct {
			Service string `json:"service"`
			Status  string `json:"status"`
		} `json:"alert"`
		Routes []struct {
			Route   string `json:"route"`
			Outcome string `json:"outcome"`
			Error   string `json:"error"`
		} `json:"routes"`
		Deliveries []any `json:"deliveries"`
		Matched    bool  `json:"matched"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got.Alert.Service != "ServiceHealth" || got.Matched || len(got.Deliveries) != 0 || len(got.Routes) != 3 {
		t.Errorf("result = %+v", got)
	}
	// The service health context has no condition: the metric route errors.
	if got.Routes[1].Outcome != "error" || !strings.Contains(got.Routes[1].Error, "condition") {
		t.Errorf("metric route = %+v", got.Routes[1])
	}
	if got.Routes[0].Outcome != "not matched" || got.Routes[2].Outcome != "not matched" {
		t.Errorf("routes = %+v", got.Routes)
	}
}

func TestRouteTestExitCodes(t *testing.T) {
	t.Setenv("ITSMBRIDGE_TEST_FIELD_SECRET", "x")
	tests := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"expect-match fails when unrouted", []string{"-config", rtConfig, "-expect-match", rtHealth}, exitFailed, "no route matched"},
		{"expect-match passes when routed", []string{"-config", rtConfig, "-expect-match", rtMetric}, exitOK, ""},
		{"unrouted without expect-match", []string{"-config", rtConfig, rtHealth}, exitOK, ""},
		{"unknown payload", []string{"-config", rtConfig, rtUnknown}, exitFailed, "not-an-alert.json"},
		{"missing payload", []string{"-config", rtConfig, "testdata/routetest/nope.json"}, exitRuntime, "no such file"},
		{"no payload", []string{"-config", rtConfig}, exitFailed, "usage: itsmbridge route test"},
		{"two payloads", []string{"-config", rtConfig, rtMetric, rtHealth}, exitFailed, "usage"},
		{"bad format", []string{"-config", rtConfig, "-o", "yaml", rtMetric}, exitFailed, "-o must be text or json"},
		{"unknown source", []string{"-config", rtConfig, "-source", "dev", rtMetric}, exitFailed, `no source "dev"`},
		{"invalid config", []string{"-config", "../../config/testdata/broken/match_not_bool.hcl", rtMetric}, exitFailed, "Match is not a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(append([]string{"route", "test"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("exit %d (want %d), stderr:\n%s\nstdout:\n%s", code, tt.code, errOut, out)
			}
		})
	}
}
