package normalize

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/core/alert"
)

// The golden files in testdata/golden were written with -update and then
// checked field by field against the payloads by hand; -update only saves
// the review's starting point.
var update = flag.Bool("update", false, "rewrite testdata/golden/*.json from the current output (review every change by hand)")

// samples are the official payloads copied unchanged from the Azure docs
// (see testdata/samples/SOURCES.md).
const samplesDir = "testdata/samples"

// wrapped gives each alertContext fragment (*-context.json) the essentials
// of the monitoring service its doc section describes. Descriptions are
// empty on purpose, so the schema-specific description fallbacks are
// exercised; there are no configurationItems, so CI derivation is too.
var wrapped = map[string]struct{ service, signal, target string }{
	"common-activity-log-administrative-context":   {"Activity Log - Administrative", "Activity Log", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/PipeLineAlertRG/providers/Microsoft.Compute/virtualMachines/WCUS-R2-ActLog"},
	"common-activity-log-autoscale-context":        {"Activity Log - Autoscale", "Activity Log", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/voiceassistancedemo/providers/Microsoft.Compute/virtualMachineScaleSets/alexademo"},
	"common-activity-log-policy-context":           {"Activity Log - Policy", "Activity Log", "/subscriptions/00000000-0000-0000-0000-000000000001"},
	"common-activity-log-security-context":         {"Activity Log - Security", "Activity Log", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/testRG/providers/Microsoft.Compute/virtualMachines/testVM"},
	"common-application-insights-v1-context":       {"Application Insights", "Log", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/test/providers/microsoft.insights/components/myApplication"},
	"common-log-alerts-v2-context":                 {"Log Alerts V2", "Log", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/Contoso/providers/Microsoft.Compute/virtualMachines/Contoso"},
	"common-log-analytics-v1-context":              {"Log Analytics", "Log", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/test/providers/Microsoft.OperationalInsights/workspaces/test"},
	"common-platform-metric-dynamic-context":       {"Platform", "Metric", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/test-RG/providers/Microsoft.Storage/storageAccounts/teststorage"},
	"common-platform-metric-static-context":        {"Platform", "Metric", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/PipeLineAlertRG/providers/Microsoft.Compute/virtualMachines/WCUS-R2-Gen2"},
	"common-platform-webtest-availability-context": {"Platform", "Metric", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/test/providers/microsoft.insights/components/myApplication"},
	"common-prometheus-context":                    {"Prometheus", "Metric", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/myResourceGroup/providers/microsoft.monitor/accounts/myWorkspace"},
	"common-resourcehealth-context":                {"Resource Health", "Activity Log", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/test/providers/Microsoft.Compute/virtualMachines/myVM"},
	"common-servicehealth-context":                 {"ServiceHealth", "Activity Log", "/subscriptions/00000000-0000-0000-0000-000000000001"},
}

// wrap puts an alertContext fragment into a common-schema envelope.
func wrap(t testing.TB, stem string, fragment []byte) []byte {
	t.Helper()
	w, ok := wrapped[stem]
	if !ok {
		t.Fatalf("no envelope for fragment %s: add it to wrapped", stem)
	}
	var f struct {
		AlertContext json.RawMessage `json:"alertContext"`
	}
	if err := json.Unmarshal(fragment, &f); err != nil || len(f.AlertContext) == 0 {
		t.Fatalf("fragment %s has no alertContext: %v", stem, err)
	}
	env := map[string]any{
		"schemaId": "azureMonitorCommonAlertSchema",
		"data": map[string]any{
			"essentials": map[string]any{
				"alertId":             "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.AlertsManagement/alerts/" + stem,
				"alertRule":           stem,
				"severity":            "Sev2",
				"signalType":          w.signal,
				"monitorCondition":    "Fired",
				"monitoringService":   w.service,
				"alertTargetIDs":      []string{w.target},
				"firedDateTime":       "2019-03-22T13:58:24.3713213Z",
				"description":         "",
				"essentialsVersion":   "1.0",
				"alertContextVersion": "1.0",
			},
			"alertContext": f.AlertContext,
		},
	}
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadSample returns a sample ready for Normalize (fragments wrapped).
func loadSample(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	stem := strings.TrimSuffix(filepath.Base(path), ".json")
	if strings.HasSuffix(stem, "-context") {
		return wrap(t, stem, raw)
	}
	return raw
}

func sampleFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 44 {
		t.Fatalf("want the 44 official samples in %s, found %d", samplesDir, len(files))
	}
	return files
}

// encode renders an alert as `itsmbridge alert inspect` prints it.
func encode(t testing.TB, a *alert.Alert) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(a); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	seen := map[string]bool{}
	for _, path := range sampleFiles(t) {
		stem := strings.TrimSuffix(filepath.Base(path), ".json")
		seen[stem+".json"] = true
		t.Run(stem, func(t *testing.T) {
			raw := loadSample(t, path)
			a, err := Normalize(raw)
			if err != nil {
				t.Fatalf("Normalize: %v", err)
			}
			got := encode(t, a)
			golden := filepath.Join("testdata", "golden", stem+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update, then review the file by hand)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s:\n%s", golden, diffFields(t, want, got))
			}
		})
	}
	if *update {
		return
	}
	goldens, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	for _, g := range goldens {
		if !seen[filepath.Base(g)] {
			t.Errorf("stale golden file %s has no sample", g)
		}
	}
}

// diffFields lists the top-level keys whose values differ.
func diffFields(t *testing.T, want, got []byte) string {
	var w, g map[string]any
	if err := json.Unmarshal(want, &w); err != nil {
		return "golden file is not JSON: " + err.Error()
	}
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for k := range w {
		keys[k] = true
	}
	for k := range g {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if !reflect.DeepEqual(w[k], g[k]) {
			out = append(out, fmt.Sprintf("  %s: want %v, got %v", k, w[k], g[k]))
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "  (same values, different formatting)"
	}
	return strings.Join(out, "\n")
}

// TestSampleContext checks, independently of the golden files, that context
// is exactly the schema's alert context as sent, and that exactly one family
// recognizes each sample (detectors must not overlap).
func TestSampleContext(t *testing.T) {
	contextPath := map[string][]string{
		alert.SchemaCommon:             {"data", "alertContext"},
		alert.SchemaLegacyMetric:       {"data", "context"},
		alert.SchemaLegacyActivityLog:  {"data", "context"},
		alert.SchemaLegacyAppInsights:  {"data"},
		alert.SchemaLegacyBudget:       {"data"},
		alert.SchemaLegacyLogAnalytics: nil, // the whole payload
	}
	for _, path := range sampleFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw := loadSample(t, path)
			a, err := Normalize(raw)
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			keys, ok := contextPath[a.Schema]
			if !ok {
				t.Fatalf("unexpected schema %q", a.Schema)
			}
			for _, k := range keys {
				v = v.(map[string]any)[k]
			}
			var got any
			if err := json.Unmarshal(a.Context, &got); err != nil {
				t.Fatalf("context is not JSON: %v", err)
			}
			if !reflect.DeepEqual(got, v) {
				t.Errorf("context is not %v of the payload", keys)
			}

			p := getParser()
			defer putParser(p)
			root, err := p.parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			var matched []string
			for _, f := range families {
				if f.detect(root) {
					matched = append(matched, f.name)
				}
			}
			if len(matched) != 1 {
				t.Errorf("want exactly one family to detect the sample, got %v", matched)
			}
		})
	}
}

// TestErrorsAreTyped runs the samples through destructive edits: every result
// is an alert or a typed error, never anything else.
func TestErrorsAreTyped(t *testing.T) {
	for _, path := range sampleFiles(t) {
		raw := loadSample(t, path)
		for _, cut := range []int{1, len(raw) / 3, len(raw) / 2, len(raw) - 2} {
			_, err := Normalize(raw[:cut])
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s cut at %d: want ErrMalformed, got %v", filepath.Base(path), cut, err)
			}
		}
	}
}
