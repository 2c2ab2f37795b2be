package route

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/core/normalize"
)

func noEnv(string) (string, bool) { return "", false }

func loadConfig(t *testing.T, path string, env func(string) (string, bool)) *config.Config {
	t.Helper()
	if env == nil {
		env = noEnv
	}
	cfg, diags := config.Load(path, config.Options{LookupEnv: env})
	if diags.HasErrors() {
		var b bytes.Buffer
		_ = cfg.WriteDiagnostics(&b, diags, 0)
		t.Fatalf("load %s:\n%s", path, b.String())
	}
	return cfg
}

func configFrom(t *testing.T, src string, env func(string) (string, bool)) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.hcl")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return loadConfig(t, p, env)
}

func sample(t *testing.T, name string) *alert.Alert {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	a, err := normalize.Normalize(raw)
	if err != nil {
		t.Fatalf("normalize %s: %v", name, err)
	}
	return a
}

// key is the expected ticket key of a backend and group_by values, computed
// independently of the router: SHA-256 of type, name and each value as
// "<len>:<text>\n", first 16 bytes in hex.
func key(typ, name string, values ...string) string {
	var b strings.Builder
	b.WriteString(typ + "\x00" + name + "\x00")
	for _, v := range values {
		fmt.Fprintf(&b, "%d:%s\n", len(v), v)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:16])
}

// idKey is the key for the default group_by, [alert.id].
func idKey(typ, name string, a *alert.Alert) string { return key(typ, name, a.ID) }

func outcomes(rs []Result) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, r.Route+"="+r.Outcome.String())
	}
	return strings.Join(parts, ", ")
}

type wantDelivery struct{ route, backend, key string }

func deliveriesOf(ds []Delivery) []wantDelivery {
	var out []wantDelivery
	for _, d := range ds {
		out = append(out, wantDelivery{d.Route, d.Backend.String(), d.TicketKey})
	}
	return out
}

// TestRouteOfficialSamples routes the official Azure samples through
// testdata/routes.hcl.
func TestRouteOfficialSamples(t *testing.T) {
	cfg := loadConfig(t, "testdata/routes.hcl", nil)
	r, err := New(cfg, hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	const (
		crit  = "critical=not matched"
		winE  = "window=error"
		winNM = "window=not matched"
	)
	tests := []struct {
		sample   string
		outcomes string
		want     func(a *alert.Alert) []wantDelivery
		title    string
	}{
		{
			sample:   "common-log-alerts-v2-fired.json",
			outcomes: crit + ", window=matched, health=not matched, storage=not matched, logs=matched, default=skipped",
			want: func(a *alert.Alert) []wantDelivery {
				return []wantDelivery{
					{"window", "backend.jira.ops", idKey("jira", "ops", a)},
					{"logs", "backend.jira.ops", key("jira", "ops", "AcmeRule")},
				}
			},
			title: "[Sev4] AcmeRule on testvm",
		},
		{
			sample:   "common-platform-metric-static-resolved.json",
			outcomes: crit + ", " + winNM + ", health=not matched, storage=not matched, logs=not matched, default=matched",
			want: func(a *alert.Alert) []wantDelivery {
				return []wantDelivery{{"default", "backend.jira.ops", idKey("jira", "ops", a)}}
			},
			title: "[Sev3] WCUS-R2-Gen2 on wcus-r2-gen2",
		},
		{
			sample:   "common-testaction-activity-log-administrative-fired.json",
			outcomes: crit + ", " + winE + ", health=not matched, storage=not matched, logs=not matched, default=matched",
			want: func(a *alert.Alert) []wantDelivery {
				return []wantDelivery{{"default", "backend.jira.ops", idKey("jira", "ops", a)}}
			},
			title: "[Sev4] test-activityLogAlertRule on test-VM",
		},
		{
			sample:   "common-testaction-log-alerts-v2-fired.json",
			outcomes: crit + ", " + winNM + ", health=not matched, storage=not matched, logs=matched, default=skipped",
			want: func(a *alert.Alert) []wantDelivery {
				return []wantDelivery{{"logs", "backend.jira.ops", key("jira", "ops", "test-logAlertRule-v2")}}
			},
		},
		{
			sample:   "common-testaction-platform-metric-static-fired.json",
			outcomes: crit + ", " + winNM + ", health=not matched, storage=matched, logs=skipped, default=skipped",
			want: func(a *alert.Alert) []wantDelivery {
				return []wantDelivery{{"storage", "backend.servicenow.prod", idKey("servicenow", "prod", a)}}
			},
			title: "[Sev4] test-metricAlertRule on test-storageAccount",
		},
		{
			sample:   "common-testaction-resource-health-fired.json",
			outcomes: crit + ", " + winE + ", health=matched, storage=skipped, logs=skipped, default=skipped",
			want: func(a *alert.Alert) []wantDelivery {
				return []wantDelivery{{"health", "backend.cherwell.csm", key("cherwell", "csm", "test-ResourceHealthAlertRule", "11111111-1111-1111-1111-111111111111")}}
			},
			title: "Resource Health: test-ResourceHealthAlertRule",
		},
		{
			sample:   "common-testaction-servicehealth-fired.json",
			outcomes: crit + ", " + winE + ", health=matched, storage=skipped, logs=skipped, default=skipped",
			want: func(a *alert.Alert) []wantDelivery {
				return []wantDelivery{{"health", "backend.cherwell.csm", key("cherwell", "csm", "test-ServiceHealthAlertRule", "11111111-1111-1111-1111-111111111111")}}
			},
			title: "ServiceHealth: test-ServiceHealthAlertRule",
		},
		{
			sample:   "common-testaction-smartdetector-fired.json",
			outcomes: crit + ", " + winE + ", health=not matched, storage=not matched, logs=not matched, default=matched",
			want: func(a *alert.Alert) []wantDelivery {
				return []wantDelivery{{"default", "backend.jira.ops", idKey("jira", "ops", a)}}
			},
		},
		{
			sample:   "legacy-budget-notification.json",
			outcomes: crit + ", " + winE + ", health=not matched, storage=not matched, logs=not matched, default=matched",
			want: func(a *alert.Alert) []wantDelivery {
				return []wantDelivery{{"default", "backend.jira.ops", idKey("jira", "ops", a)}}
			},
			title: "[Sev4] test-budgetName on test-RG",
		},
		{
			sample:   "legacy-metric-alert-activated.json",
			outcomes: crit + ", " + winNM + ", health=not matched, storage=not matched, logs=not matched, default=matched",
			want: func(a *alert.Alert) []wantDelivery {
				return []wantDelivery{{"default", "backend.jira.ops", idKey("jira", "ops", a)}}
			},
			title: "[Sev3] StorageCheck on diag500",
		},
	}
	errorsBefore := r.MatchErrors()
	wantErrors := uint64(0)
	for _, tt := range tests {
		t.Run(strings.TrimSuffix(tt.sample, ".json"), func(t *testing.T) {
			a := sample(t, tt.sample)
			ds, rs := r.Route(a)
			if got := outcomes(rs); got != tt.outcomes {
				t.Errorf("outcomes:\n got %s\nwant %s", got, tt.outcomes)
			}
			got, want := deliveriesOf(ds), tt.want(a)
			if len(got) != len(want) {
				t.Fatalf("deliveries = %+v, want %+v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("delivery %d = %+v, want %+v", i, got[i], want[i])
				}
			}
			if tt.title != "" && ds[0].Ticket.Title != tt.title {
				t.Errorf("title = %q, want %q", ds[0].Ticket.Title, tt.title)
			}
			for _, d := range ds {
				if d.Route != "storage" && d.Ticket.Severity != a.Severity {
					t.Errorf("severity = %d, want %d", d.Ticket.Severity, a.Severity)
				}
				if !strings.Contains(d.Ticket.Description, "Azure alert id: "+a.ID) {
					t.Errorf("default description lacks the alert id:\n%s", d.Ticket.Description)
				}
			}
		})
		if strings.Contains(tt.outcomes, winE) {
			wantErrors++
		}
	}
	if got := r.MatchErrors() - errorsBefore; got != wantErrors {
		t.Errorf("MatchErrors grew by %d, want %d", got, wantErrors)
	}

	// The storage route renders fields: lookup on custom, a number as a
	// string, a null field left out; severity from an expression.
	ds, _ := r.Route(sample(t, "common-testaction-platform-metric-static-fired.json"))
	f := ds[0].Ticket.Fields
	if len(f) != 2 || f["owner"] != "value1" || f["urgency"] != "4" {
		t.Errorf("fields = %#v", f)
	}
	if ds[0].Ticket.Severity != 3 {
		t.Errorf("severity = %d, want min(4, 3)", ds[0].Ticket.Severity)
	}
}
