package normalize

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/core/alert"
)

const vmID = "/subscriptions/AAAA0A0A-0000-0000-0000-000000000001/resourceGroups/Prod-RG/providers/Microsoft.Compute/virtualMachines/Web-01"

// common builds a common-schema payload; fields is spliced into essentials
// (later duplicates win, so fields can override the defaults) and ctx is the
// raw alertContext.
func common(fields, ctx string) []byte {
	if ctx == "" {
		ctx = "{}"
	}
	return []byte(`{"schemaId":"azureMonitorCommonAlertSchema","data":{"essentials":{` +
		`"alertId":"/subscriptions/s1/providers/Microsoft.AlertsManagement/alerts/a1",` +
		`"alertRule":"rule1","severity":"Sev2","signalType":"Metric","monitorCondition":"Fired",` +
		`"monitoringService":"Platform","alertTargetIDs":["` + vmID + `"],` +
		`"firedDateTime":"2024-01-02T03:04:05Z"` + fields + `},"alertContext":` + ctx + `}}`)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustNormalize(t *testing.T, raw []byte) *alert.Alert {
	t.Helper()
	a, err := Normalize(raw)
	if err != nil {
		t.Fatalf("Normalize: %v\npayload: %s", err, raw)
	}
	return a
}

func TestSeverityLeniency(t *testing.T) {
	for _, tc := range []struct {
		field string
		want  int
	}{
		{`,"severity":"Sev0"`, 0},
		{`,"severity":"sev3"`, 3},
		{`,"severity":"Sev 1"`, 1},
		{`,"severity":"2"`, 2},
		{`,"severity":1`, 1},
		{`,"severity":4.0`, 4},
		{`,"severity":null`, 4},
		{`,"severity":""`, 4},
		{`,"severity":"Critical"`, 0},
		{`,"severity":"warning"`, 1},
		{`,"severity":"Informational"`, 2},
	} {
		t.Run(tc.field, func(t *testing.T) {
			a := mustNormalize(t, common(tc.field, ""))
			if a.Severity != tc.want || a.SeverityName != alert.SeverityName(tc.want) {
				t.Errorf("severity = %d %q, want %d", a.Severity, a.SeverityName, tc.want)
			}
		})
	}
	// Absent entirely: the legacy budget schema has no severity field.
	if a := mustNormalize(t, []byte(`{"schemaId":"AIP Budget Notification","data":{"BudgetName":"b","SubscriptionId":"s"}}`)); a.Severity != 4 {
		t.Errorf("absent severity = %d, want 4", a.Severity)
	}
}

func TestListLeniency(t *testing.T) {
	lower := strings.ToLower(vmID)
	for _, tc := range []struct {
		name        string
		field       string
		wantTargets []string
		wantCIs     []string
	}{
		{"array", `,"alertTargetIDs":["` + vmID + `"]`, []string{lower}, []string{"Web-01"}},
		{"json-encoded array", `,"alertTargetIDs":"[\"` + vmID + `\"]"`, []string{lower}, []string{"Web-01"}},
		{"single string", `,"alertTargetIDs":"` + vmID + `"`, []string{lower}, []string{"Web-01"}},
		{"null", `,"alertTargetIDs":null`, []string{}, []string{}},
		{"duplicates differing in case and trailing slash", `,"alertTargetIDs":["` + vmID + `","` + lower + `/"]`, []string{lower}, []string{"Web-01"}},
		{"CIs as json-encoded array", `,"configurationItems":"[\"web-01\",\"db-01\"]"`, []string{lower}, []string{"web-01", "db-01"}},
		{"CIs with a number and blanks", `,"configurationItems":["web-01",7,"", " "]`, []string{lower}, []string{"web-01", "7"}},
		{"CIs empty: target names", `,"configurationItems":[]`, []string{lower}, []string{"Web-01"}},
		{"CI that is an ARM id is lower-cased", `,"configurationItems":["` + vmID + `"]`, []string{lower}, []string{lower}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustNormalize(t, common(tc.field, ""))
			if !reflect.DeepEqual(a.Targets, tc.wantTargets) {
				t.Errorf("targets = %q, want %q", a.Targets, tc.wantTargets)
			}
			if !reflect.DeepEqual(a.ConfigurationItems, tc.wantCIs) {
				t.Errorf("configuration_items = %q, want %q", a.ConfigurationItems, tc.wantCIs)
			}
		})
	}
}

func TestObjectLeniency(t *testing.T) {
	a := mustNormalize(t, []byte(`{"schemaId":"azureMonitorCommonAlertSchema","data":{"essentials":{"alertId":"x"},
		"alertContext":null,
		"customProperties":{"a":1,"b":true,"c":null,"d":{"x": [1, 2]},"e":"v"}}}`))
	want := map[string]string{"a": "1", "b": "true", "c": "", "d": `{"x":[1,2]}`, "e": "v"}
	if !reflect.DeepEqual(a.Custom, want) {
		t.Errorf("custom = %q, want %q", a.Custom, want)
	}
	if string(a.Context) != "{}" {
		t.Errorf("null alertContext: context = %s, want {}", a.Context)
	}
	if a.Targets == nil || a.ConfigurationItems == nil || a.Custom == nil {
		t.Error("nil slice or map in the alert")
	}
	// customProperties sent as a JSON-encoded object.
	a = mustNormalize(t, []byte(`{"schemaId":"azureMonitorCommonAlertSchema","data":{"essentials":{"alertId":"x"},"customProperties":"{\"k\":\"v\"}"}}`))
	if !reflect.DeepEqual(a.Custom, map[string]string{"k": "v"}) {
		t.Errorf("custom from a JSON string = %q", a.Custom)
	}
	// Service Health properties sent as a JSON-encoded object still resolve.
	a = mustNormalize(t, common(`,"monitoringService":"ServiceHealth","alertTargetIDs":["/subscriptions/S1"]`,
		`{"properties":"{\"trackingId\":\"T-1\",\"stage\":\"Resolved\"}"}`))
	if a.Status != alert.StatusResolved || a.ID != "/subscriptions/s1/providers/microsoft.resourcehealth/events/T-1" {
		t.Errorf("embedded properties: status %q id %q", a.Status, a.ID)
	}
}

func TestTimeLeniency(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"2019-03-22T13:58:24.3713213Z", "2019-03-22T13:58:24.3713213Z"},
		{"2019-03-22T13:56:31.2917159+00:00", "2019-03-22T13:56:31.2917159Z"},
		{"2019-03-22T15:56:31+02:00", "2019-03-22T13:56:31Z"},
		{"2021-11-15T15:16:49", "2021-11-15T15:16:49Z"},
		{"2020-07-09T14:04:49.99000Z", "2020-07-09T14:04:49.99Z"},
		{"3/22/2019 1:36:33 PM", "2019-03-22T13:36:33Z"},
		{"", ""},
	} {
		a := mustNormalize(t, common(`,"firedDateTime":"`+tc.in+`"`, ""))
		if a.FiredAt != tc.want {
			t.Errorf("firedDateTime %q → %q, want %q", tc.in, a.FiredAt, tc.want)
		}
	}
}

func TestStructureIsStrict(t *testing.T) {
	for _, tc := range []struct {
		name, payload, wantPath, wantReason string
	}{
		{"no data", `{"schemaId":"azureMonitorCommonAlertSchema"}`, "data", "missing"},
		{"data is an array", `{"schemaId":"azureMonitorCommonAlertSchema","data":[]}`, "data", "want an object, got an array"},
		{"no essentials", `{"schemaId":"azureMonitorCommonAlertSchema","data":{"alertContext":{}}}`, "data.essentials", "missing"},
		{"alertId null", string(common(`,"alertId":null`, "")), "data.essentials.alertId", "missing"},
		{"targets an object", string(common(`,"alertTargetIDs":{"a":1}`, "")), "data.essentials.alertTargetIDs", "want a list of strings"},
		{"target an array", string(common(`,"alertTargetIDs":[["x"]]`, "")), "data.essentials.alertTargetIDs[0]", "want a string, got an array"},
		{"rule an object", string(common(`,"alertRule":{}`, "")), "data.essentials.alertRule", "want a string, got an object"},
		{"unknown severity", string(common(`,"severity":"High"`, "")), "data.essentials.severity", "invalid severity"},
		{"severity out of range", string(common(`,"severity":"Sev7"`, "")), "data.essentials.severity", "invalid severity"},
		{"bad time", string(common(`,"firedDateTime":"yesterday"`, "")), "data.essentials.firedDateTime", `unrecognized time "yesterday"`},
		{"unknown condition", string(common(`,"monitorCondition":"Maybe"`, "")), "data.essentials.monitorCondition", "unknown status"},
		{"context an array", string(common("", `[1]`)), "data.alertContext", "want an object, got an array"},
		{"service health properties an array", string(common(`,"monitoringService":"ServiceHealth"`, `{"properties":[1]}`)), "data.alertContext.properties", "want an object"},
		{"legacy metric without context", `{"schemaId":"AzureMonitorMetricAlert","data":{"status":"Activated"}}`, "data.context", "missing"},
		{"legacy metric status", `{"schemaId":"AzureMonitorMetricAlert","data":{"status":"Gone","context":{"id":"r"}}}`, "data.status", "unknown status"},
		{"activity log without activityLog", `{"schemaId":"Microsoft.Insights/activityLogs","data":{"context":{}}}`, "data.context.activityLog", "missing"},
		{"log analytics rule name an object", `{"AlertRuleName":{},"SearchQuery":"q"}`, "AlertRuleName", "want a string"},
		{"budget without name", `{"schemaId":"AIP Budget Notification","data":{}}`, "data.BudgetName", "missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Normalize([]byte(tc.payload))
			if a != nil || !errors.Is(err, ErrUnknownSchema) || errors.Is(err, ErrMalformed) {
				t.Fatalf("got %v, %v; want only ErrUnknownSchema", a, err)
			}
			var se *SchemaError
			if !errors.As(err, &se) {
				t.Fatalf("error %T is not a *SchemaError", err)
			}
			if se.Path != tc.wantPath || !strings.Contains(se.Reason, tc.wantReason) || se.Schema == "" {
				t.Errorf("got schema %q path %q reason %q; want path %q reason containing %q", se.Schema, se.Path, se.Reason, tc.wantPath, tc.wantReason)
			}
		})
	}
}

func TestUnknownAndMalformed(t *testing.T) {
	for _, tc := range []struct {
		payload    string
		want       error
		wantSubstr string
	}{
		{``, ErrMalformed, "malformed JSON"},
		{`   `, ErrMalformed, "malformed JSON"},
		{`{`, ErrMalformed, "malformed JSON"},
		{`{"a":1} x`, ErrMalformed, "malformed JSON"},
		{`{"a":1}{}`, ErrMalformed, "malformed JSON"},
		{`[1,]`, ErrMalformed, "malformed JSON"},
		{`{"a":01}`, ErrMalformed, "malformed JSON"},
		{`{"a":"\x"}`, ErrMalformed, "malformed JSON"},
		{`{'a':1}`, ErrMalformed, "malformed JSON"},
		{`null`, ErrUnknownSchema, "the payload is null, not a JSON object"},
		{`[]`, ErrUnknownSchema, "the payload is an array"},
		{`"x"`, ErrUnknownSchema, "the payload is a string"},
		{`{}`, ErrUnknownSchema, "no schemaId, and not a legacy Log Analytics alert"},
		{`{"AlertRuleName":"r"}`, ErrUnknownSchema, "no schemaId"},
		{`{"schemaId":"Foo","data":{}}`, ErrUnknownSchema, `unsupported schemaId "Foo"`},
		{`{"schemaId":{}}`, ErrUnknownSchema, "schemaId is an object, not a string"},
	} {
		t.Run(tc.payload, func(t *testing.T) {
			a, err := Normalize([]byte(tc.payload))
			if a != nil || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, %v; want %v", a, err, tc.want)
			}
			other := ErrMalformed
			if tc.want == ErrMalformed {
				other = ErrUnknownSchema
			}
			if errors.Is(err, other) {
				t.Errorf("%v also matches %v", err, other)
			}
			if !strings.Contains(err.Error(), tc.wantSubstr) || strings.Contains(err.Error(), "\n") {
				t.Errorf("message %q: want one line containing %q", err, tc.wantSubstr)
			}
		})
	}
}

func TestSchemaIDCaseAndSpace(t *testing.T) {
	a := mustNormalize(t, []byte(`{"schemaId":" AzureMonitorCommonAlertSchema ","data":{"essentials":{"alertId":"x"}}}`))
	if a.Schema != alert.SchemaCommon {
		t.Errorf("schema = %q", a.Schema)
	}
}

func TestStatusMapping(t *testing.T) {
	legacyMetric := func(status string) []byte {
		return []byte(`{"schemaId":"AzureMonitorMetricAlert","data":{"status":"` + status + `","context":{"id":"/subscriptions/s/resourceGroups/g/providers/microsoft.insights/metricAlerts/r","name":"r","severity":"3","timestamp":"2024-05-06T07:08:09Z","resourceId":"` + vmID + `"}}}`)
	}
	legacyActivity := func(status string) []byte {
		return []byte(`{"schemaId":"Microsoft.Insights/activityLogs","data":{"status":"` + status + `","context":{"activityLog":{"eventDataId":"e1","eventTimestamp":"2024-05-06T07:08:09Z","resourceId":"` + vmID + `"}}}}`)
	}
	for _, tc := range []struct {
		name                  string
		payload               []byte
		status, fired, solved string
	}{
		{"common Fired", common(`,"monitorCondition":"Fired"`, ""), alert.StatusFired, "2024-01-02T03:04:05Z", ""},
		{"common Resolved", common(`,"monitorCondition":"Resolved","resolvedDateTime":"2024-01-02T04:00:00Z"`, ""), alert.StatusResolved, "2024-01-02T03:04:05Z", "2024-01-02T04:00:00Z"},
		{"common resolved lower-case", common(`,"monitorCondition":"resolved","resolvedDateTime":"2024-01-02T04:00:00Z"`, ""), alert.StatusResolved, "2024-01-02T03:04:05Z", "2024-01-02T04:00:00Z"},
		{"common resolvedDateTime while Fired is ignored", common(`,"resolvedDateTime":"2024-01-02T04:00:00Z"`, ""), alert.StatusFired, "2024-01-02T03:04:05Z", ""},
		{"common no condition", common(`,"monitorCondition":null`, ""), alert.StatusFired, "2024-01-02T03:04:05Z", ""},
		{"legacy metric Activated", legacyMetric("Activated"), alert.StatusFired, "2024-05-06T07:08:09Z", ""},
		{"legacy metric Resolved", legacyMetric("Resolved"), alert.StatusResolved, "", "2024-05-06T07:08:09Z"},
		{"legacy metric Deactivated", legacyMetric("Deactivated"), alert.StatusResolved, "", "2024-05-06T07:08:09Z"},
		{"legacy activity log Activated", legacyActivity("Activated"), alert.StatusFired, "2024-05-06T07:08:09Z", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustNormalize(t, tc.payload)
			if a.Status != tc.status || a.FiredAt != tc.fired || a.ResolvedAt != tc.solved {
				t.Errorf("status %q fired %q resolved %q; want %q %q %q", a.Status, a.FiredAt, a.ResolvedAt, tc.status, tc.fired, tc.solved)
			}
		})
	}
}

// serviceHealth builds a Service Health notification in the common schema
// (legacy=false) or the legacy activity log schema.
func serviceHealthPayload(t *testing.T, legacy bool, sub, stage, status, mitigation, fired string) []byte {
	props := map[string]any{"title": "VMs - West Europe", "trackingId": "ABC1-DEF", "stage": stage, "incidentType": "Incident"}
	if mitigation != "" {
		props["impactMitigationTime"] = mitigation
	}
	event := map[string]any{
		"eventSource": "ServiceHealth", "operationName": "Microsoft.ServiceHealth/incident/action",
		"eventTimestamp": fired, "status": status, "properties": props, "subscriptionId": sub,
	}
	if legacy {
		return mustJSON(t, map[string]any{"schemaId": "Microsoft.Insights/activityLogs",
			"data": map[string]any{"status": "Activated", "context": map[string]any{"activityLog": event}}})
	}
	return mustJSON(t, map[string]any{"schemaId": "azureMonitorCommonAlertSchema", "data": map[string]any{
		"essentials": map[string]any{
			// Every communication is a new alert with its own alertId.
			"alertId":          "/subscriptions/" + sub + "/providers/Microsoft.AlertsManagement/alerts/" + fired,
			"monitorCondition": "Fired", "monitoringService": "ServiceHealth", "signalType": "ActivityLog",
			"alertTargetIDs": []string{"/subscriptions/" + sub}, "firedDateTime": fired,
		},
		"alertContext": event,
	}})
}

func TestServiceHealthResolution(t *testing.T) {
	const sub = "AAAA0A0A-0000-0000-0000-000000000001"
	const id = "/subscriptions/aaaa0a0a-0000-0000-0000-000000000001/providers/microsoft.resourcehealth/events/ABC1-DEF"
	for _, legacy := range []bool{false, true} {
		name := "common"
		if legacy {
			name = "legacy"
		}
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				stage, status, mitigation, fired string
				wantStatus, wantResolvedAt       string
			}{
				{"Active", "Active", "", "2024-01-01T10:00:00Z", alert.StatusFired, ""},
				{"Active", "Active", "", "2024-01-01T11:00:00Z", alert.StatusFired, ""}, // an update
				{"Resolved", "Resolved", "2024-01-01T11:30:00Z", "2024-01-01T12:00:00Z", alert.StatusResolved, "2024-01-01T11:30:00Z"},
				{"Resolved", "Active", "", "2024-01-01T12:00:00Z", alert.StatusResolved, "2024-01-01T12:00:00Z"},
				{"Active", "Resolved", "2024-01-01T11:30:00Z", "2024-01-01T12:00:00Z", alert.StatusResolved, "2024-01-01T11:30:00Z"},
				{"RCA", "Active", "2024-01-01T11:30:00Z", "2024-01-03T09:00:00Z", alert.StatusResolved, "2024-01-01T11:30:00Z"},
				{"Planned", "Active", "", "2024-01-01T10:00:00Z", alert.StatusFired, ""},
				{"Complete", "Active", "", "2024-01-01T10:00:00Z", alert.StatusResolved, "2024-01-01T10:00:00Z"},
			} {
				a := mustNormalize(t, serviceHealthPayload(t, legacy, sub, tc.stage, tc.status, tc.mitigation, tc.fired))
				if a.ID != id {
					t.Errorf("stage %s: id %q, want %q (stable per trackingId)", tc.stage, a.ID, id)
				}
				if a.Status != tc.wantStatus || a.ResolvedAt != tc.wantResolvedAt {
					t.Errorf("stage %s status %s: got %q resolved_at %q, want %q %q", tc.stage, tc.status, a.Status, a.ResolvedAt, tc.wantStatus, tc.wantResolvedAt)
				}
				if a.Service != "ServiceHealth" || a.Signal != "Activity Log" || a.Subscription != strings.ToLower(sub) {
					t.Errorf("service %q signal %q subscription %q", a.Service, a.Signal, a.Subscription)
				}
			}
		})
	}
	// Fired, an update and the resolution are three deliveries on one alert.
	first := mustNormalize(t, serviceHealthPayload(t, false, sub, "Active", "Active", "", "2024-01-01T10:00:00Z"))
	update := mustNormalize(t, serviceHealthPayload(t, false, sub, "Active", "Active", "", "2024-01-01T11:00:00Z"))
	resolved := mustNormalize(t, serviceHealthPayload(t, true, sub, "Resolved", "Resolved", "2024-01-01T11:30:00Z", "2024-01-01T12:00:00Z"))
	if first.DedupKey == update.DedupKey || update.DedupKey == resolved.DedupKey || first.DedupKey == resolved.DedupKey {
		t.Error("service health communications share a dedup key")
	}
	// Another subscription is another event id.
	other := mustNormalize(t, serviceHealthPayload(t, false, "BBBB0000-0000-0000-0000-000000000002", "Active", "Active", "", "2024-01-01T10:00:00Z"))
	if other.ID == first.ID {
		t.Error("service health id does not depend on the subscription")
	}
	// Without a trackingId the alert keeps its alertId.
	a := mustNormalize(t, common(`,"monitoringService":"ServiceHealth"`, `{"properties":{"stage":"Active"}}`))
	if a.ID != "/subscriptions/s1/providers/Microsoft.AlertsManagement/alerts/a1" {
		t.Errorf("no trackingId: id %q", a.ID)
	}
}

func TestResourceHealthResolution(t *testing.T) {
	const want = "/subscriptions/aaaa0a0a-0000-0000-0000-000000000001/resourcegroups/prod-rg/providers/microsoft.compute/virtualmachines/web-01/providers/microsoft.resourcehealth/availabilitystatuses/current"
	commonRH := func(current, at string) []byte {
		return common(`,"monitoringService":"Resource Health","signalType":"Activity Log","alertId":"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/`+at+`","firedDateTime":"`+at+`"`,
			`{"eventSource":"ResourceHealth","operationName":"Microsoft.Resourcehealth/healthevent/Activated/action","eventTimestamp":"`+at+`","properties":{"title":"t","currentHealthStatus":"`+current+`","previousHealthStatus":"x"}}`)
	}
	legacyRH := func(current, at string) []byte {
		return []byte(`{"schemaId":"Microsoft.Insights/activityLogs","data":{"status":"Activated","context":{"activityLog":{` +
			`"eventSource":"ResourceHealth","eventDataId":"` + at + `","eventTimestamp":"` + at + `","resourceId":"` + vmID + `",` +
			`"properties":{"currentHealthStatus":"` + current + `"}}}}}`)
	}
	for _, tc := range []struct {
		name    string
		payload []byte
		status  string
	}{
		{"common unavailable", commonRH("Unavailable", "2024-02-01T10:00:00Z"), alert.StatusFired},
		{"common degraded", commonRH("Degraded", "2024-02-01T10:05:00Z"), alert.StatusFired},
		{"common available", commonRH("Available", "2024-02-01T10:20:00Z"), alert.StatusResolved},
		{"legacy unavailable", legacyRH("Unavailable", "2024-02-01T10:00:00Z"), alert.StatusFired},
		{"legacy available", legacyRH("Available", "2024-02-01T10:20:00Z"), alert.StatusResolved},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustNormalize(t, tc.payload)
			if a.ID != want || a.Status != tc.status {
				t.Errorf("id %q status %q; want %q %q", a.ID, a.Status, want, tc.status)
			}
			if tc.status == alert.StatusResolved && a.ResolvedAt != "2024-02-01T10:20:00Z" {
				t.Errorf("resolved_at %q", a.ResolvedAt)
			}
		})
	}
	down := mustNormalize(t, commonRH("Unavailable", "2024-02-01T10:00:00Z"))
	up := mustNormalize(t, commonRH("Available", "2024-02-01T10:20:00Z"))
	if down.DedupKey == up.DedupKey {
		t.Error("down and up share a dedup key")
	}
}

func TestDedupKey(t *testing.T) {
	fired1 := common(`,"firedDateTime":"2024-01-02T03:04:05Z"`, "")
	resolved := common(`,"monitorCondition":"Resolved","resolvedDateTime":"2024-01-02T03:30:00Z"`, "")
	fired2 := common(`,"firedDateTime":"2024-01-02T05:00:00Z"`, "")
	a1, a2 := mustNormalize(t, fired1), mustNormalize(t, fired1) // two action groups
	if a1.DedupKey != a2.DedupKey || a1.DedupKey == "" {
		t.Errorf("duplicate deliveries: keys %q and %q", a1.DedupKey, a2.DedupKey)
	}
	keys := map[string]bool{}
	for _, p := range [][]byte{fired1, resolved, fired2} {
		a := mustNormalize(t, p)
		if a.ID != a1.ID {
			t.Fatalf("id changed across the sequence: %q", a.ID)
		}
		keys[a.DedupKey] = true
	}
	if len(keys) != 3 {
		t.Errorf("Fired → Resolved → Fired gave %d distinct keys, want 3", len(keys))
	}
	// No time in the payload: only the same notification collapses.
	b1 := `{"schemaId":"AIP Budget Notification","data":{"BudgetName":"b","SubscriptionId":"s","SpendingAmount":"10"}}`
	b2 := `{"schemaId":"AIP Budget Notification","data":{"BudgetName":"b","SubscriptionId":"s","SpendingAmount":"20"}}`
	k1, k1again, k2 := mustNormalize(t, []byte(b1)).DedupKey, mustNormalize(t, []byte(b1)).DedupKey, mustNormalize(t, []byte(b2)).DedupKey
	if k1 != k1again || k1 == k2 {
		t.Errorf("budget keys: %q %q %q", k1, k1again, k2)
	}
}

func TestConfigurationItemRules(t *testing.T) {
	logCtx := func(dims, columns, row string) string {
		return `{"condition":{"allOf":[{"dimensions":[` + dims + `]}]},"SearchResults":{"tables":[{"name":"PrimaryResult","columns":[` + columns + `],"rows":[` + row + `]}]}}`
	}
	dim := func(name, value string) string { return `{"name":"` + name + `","value":"` + value + `"}` }
	col := func(name string) string { return `{"name":"` + name + `","type":"string"}` }
	for _, tc := range []struct {
		name, fields, ctx string
		want              []string
	}{
		{"payload CIs win", `,"signalType":"Log","configurationItems":["given"]`,
			logCtx(dim("Computer", "c1"), "", ""), []string{"given"}},
		{"_ResourceId before Computer", `,"signalType":"Log"`,
			logCtx(dim("Computer", "c1")+","+dim("_ResourceId", vmID), "", ""), []string{strings.ToLower(vmID)}},
		{"ResourceId column before Computer dimension", `,"signalType":"Log"`,
			logCtx(dim("Computer", "c1"), col("TimeGenerated")+","+col("ResourceId"), `["t","/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/app1"],["t",""]`),
			[]string{"/subscriptions/s/resourcegroups/g/providers/microsoft.web/sites/app1"}},
		{"Resource dimension", `,"signalType":"Log"`, logCtx(dim("Resource", "r1")+","+dim("Resource", "r2")+","+dim("Resource", "r1"), "", ""), []string{"r1", "r2"}},
		{"Computer column, all rows", `,"signalType":"Log"`, logCtx("", col("Computer")+","+col("n"), `["c1",1],["c2",2]`), []string{"c1", "c2"}},
		{"log alert without any: target names", `,"signalType":"Log"`, logCtx(dim("IP", "1.1.1.1"), col("x"), `["y"]`), []string{"Web-01"}},
		{"metric dimensions are not CIs", `,"signalType":"Metric"`, logCtx(dim("Computer", "c1"), "", ""), []string{"Web-01"}},
		{"log v1 AffectedConfigurationItems", `,"signalType":"Log"`, `{"AffectedConfigurationItems":["ci1"],"Dimensions":[` + dim("Computer", "c1") + `]}`, []string{"ci1"}},
		{"log v1 Dimensions", `,"signalType":"Log"`, `{"AffectedConfigurationItems":[],"Dimensions":[` + dim("computer", "c1") + `]}`, []string{"c1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := mustNormalize(t, common(tc.fields, tc.ctx))
			if !reflect.DeepEqual(a.ConfigurationItems, tc.want) {
				t.Errorf("configuration_items = %q, want %q", a.ConfigurationItems, tc.want)
			}
		})
	}
}

func TestResourceFields(t *testing.T) {
	a := mustNormalize(t, common(`,"alertTargetIDs":["not an id","/subscriptions/S1/resourceGroups/RG1/providers/Microsoft.Sql/servers/s1/databases/DB1"]`, ""))
	got := []string{a.Subscription, a.ResourceGroup, a.ResourceType, a.ResourceName}
	want := []string{"s1", "RG1", "microsoft.sql/servers/databases", "DB1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resource fields %q, want %q", got, want)
	}
	if !reflect.DeepEqual(a.Targets, []string{"not an id", "/subscriptions/s1/resourcegroups/rg1/providers/microsoft.sql/servers/s1/databases/db1"}) {
		t.Errorf("targets %q", a.Targets)
	}
}

func TestMetricRuleID(t *testing.T) {
	for _, tc := range []struct{ origin, rule, want string }{
		{"3f2d4487-b0fc-4125-8bd5-7ad17384221e_PipeLineAlertRG_microsoft.insights_metricAlerts_WCUS-R2-Gen2_-117781227", "WCUS-R2-Gen2",
			"/subscriptions/3f2d4487-b0fc-4125-8bd5-7ad17384221e/resourceGroups/PipeLineAlertRG/providers/microsoft.insights/metricAlerts/WCUS-R2-Gen2"},
		{"s_rg_with_underscores_microsoft.insights_metricalerts_my_rule_42", "my_rule",
			"/subscriptions/s/resourceGroups/rg_with_underscores/providers/microsoft.insights/metricalerts/my_rule"},
		{"s_rg_microsoft.insights_metricAlerts_other-rule_1", "this-rule", ""},
		{"s_rg_microsoft.insights_metricAlerts_rule_notahash", "rule", ""},
		{"12345678-1234-1234-1234-1234567890ab", "rule", ""},
		{"s_rg_microsoft.insights_metricAlerts_rule_1", "", ""},
	} {
		if got := metricRuleID(tc.origin, tc.rule); got != tc.want {
			t.Errorf("metricRuleID(%q, %q) = %q, want %q", tc.origin, tc.rule, got, tc.want)
		}
	}
}

// Normalize must not keep or alias the caller's buffer.
func TestNoAliasing(t *testing.T) {
	raw := common(`,"customProperties":{"k":"v"}`, `{"a":"b"}`)
	a := mustNormalize(t, raw)
	want := encode(t, a)
	for i := range raw {
		raw[i] = 'x'
	}
	if got := encode(t, a); string(got) != string(want) {
		t.Error("alert changed when the input buffer was overwritten")
	}
}

// Thousands of targets (a hostile or buggy payload) are deduplicated through
// a map, not a quadratic scan; this checks the result is the same.
func TestManyTargets(t *testing.T) {
	ids := make([]string, 0, 6000)
	for i := range 3000 {
		id := "/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/App-" + strconv.Itoa(i)
		ids = append(ids, id, strings.ToUpper(id)) // every target twice, differing in case
	}
	a := mustNormalize(t, common(`,"alertTargetIDs":`+string(mustJSON(t, ids)), ""))
	if len(a.Targets) != 3000 || len(a.ConfigurationItems) != 3000 {
		t.Fatalf("targets %d, configuration items %d; want 3000 each", len(a.Targets), len(a.ConfigurationItems))
	}
	if a.Targets[2999] != strings.ToLower(ids[5998]) || a.ConfigurationItems[2999] != "App-2999" {
		t.Errorf("last target %q, CI %q", a.Targets[2999], a.ConfigurationItems[2999])
	}
}
