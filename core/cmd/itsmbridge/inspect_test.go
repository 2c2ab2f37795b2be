package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const inspectPayload = `{"schemaId":"azureMonitorCommonAlertSchema","data":{"essentials":{
  "alertId":"/subscriptions/S1/providers/Microsoft.AlertsManagement/alerts/a1","alertRule":"cpu-high",
  "severity":"Sev1","signalType":"Metric","monitorCondition":"Resolved","monitoringService":"Platform",
  "alertTargetIDs":["/subscriptions/S1/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/VM1"],
  "firedDateTime":"2024-01-02T03:04:05Z","resolvedDateTime":"2024-01-02T03:14:05+00:00","description":"<b>cpu</b>"},
  "alertContext":{"condition":{"allOf":[]}},"customProperties":{"team":"ops"}}}`

// designKeys are exactly the keys of DESIGN §3.
var designKeys = []string{
	"configuration_items", "context", "custom", "dedup_key", "description", "fired_at", "id", "link",
	"resolved_at", "resource_group", "resource_name", "resource_type", "rule", "rule_id", "schema",
	"service", "severity", "severity_name", "signal", "source", "status", "subscription", "targets",
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "alert.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAlertInspect(t *testing.T) {
	check := func(t *testing.T, code int, out, errb *bytes.Buffer) {
		t.Helper()
		if code != exitOK || errb.Len() != 0 {
			t.Fatalf("exit %d, stderr %q", code, errb)
		}
		var got map[string]any
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, out)
		}
		keys := make([]string, 0, len(got))
		for k := range got {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if strings.Join(keys, ",") != strings.Join(designKeys, ",") {
			t.Errorf("keys %v, want exactly %v", keys, designKeys)
		}
		if got["status"] != "resolved" || got["severity"] != 1.0 || got["resolved_at"] != "2024-01-02T03:14:05Z" ||
			got["resource_name"] != "VM1" || got["description"] != "<b>cpu</b>" || got["source"] != "" {
			t.Errorf("unexpected values: %v", got)
		}
		if !strings.Contains(out.String(), "\n  \"id\"") {
			t.Error("output is not indented")
		}
	}
	t.Run("file", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := run([]string{"alert", "inspect", writeFile(t, inspectPayload)}, &out, &errb)
		check(t, code, &out, &errb)
	})
	t.Run("stdin", func(t *testing.T) {
		old := inspectStdin
		defer func() { inspectStdin = old }()
		inspectStdin = strings.NewReader(inspectPayload)
		var out, errb bytes.Buffer
		code := run([]string{"alert", "inspect", "-"}, &out, &errb)
		check(t, code, &out, &errb)
	})
}

func TestAlertInspectFailures(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     func(t *testing.T) []string
		wantCode int
		wantErr  string
	}{
		{"malformed JSON", func(t *testing.T) []string { return []string{writeFile(t, `{"schemaId":`)} }, exitFailed, "malformed JSON"},
		{"unknown schema", func(t *testing.T) []string { return []string{writeFile(t, `{"schemaId":"nope"}`)} }, exitFailed, `unknown alert schema: unsupported schemaId "nope"`},
		{"broken structure", func(t *testing.T) []string {
			return []string{writeFile(t, `{"schemaId":"azureMonitorCommonAlertSchema","data":{"essentials":[]}}`)}
		}, exitFailed, "data.essentials: want an object, got an array"},
		{"missing file", func(t *testing.T) []string { return []string{filepath.Join(t.TempDir(), "nope.json")} }, exitFailed, "no such file"},
		{"no argument", func(t *testing.T) []string { return nil }, exitFailed, "usage: itsmbridge alert inspect FILE|-"},
		{"two arguments", func(t *testing.T) []string { return []string{"a", "b"} }, exitFailed, "usage:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"alert", "inspect"}, tc.args(t)...), &out, &errb)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d", code, tc.wantCode)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q, want nothing", out.String())
			}
			msg := errb.String()
			if !strings.Contains(msg, tc.wantErr) || strings.Count(msg, "\n") != 1 {
				t.Errorf("stderr %q: want one line containing %q", msg, tc.wantErr)
			}
		})
	}
}
