// Package prometheus holds alerting rules for itsmbridge itself
// (itsmbridge.rules.yml) and their promtool unit tests. Its Go tests keep
// the rules in step with the metrics the bridge exports and run promtool.
package prometheus

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/itsmbridge/itsmbridge/core/metrics"
	"github.com/itsmbridge/itsmbridge/core/store"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	b, err := os.ReadFile("itsmbridge.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("itsmbridge.rules.yml: %v", err)
	}
	var out []rule
	for _, g := range f.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatal("itsmbridge.rules.yml has no rules")
	}
	return out
}

// queueStats is a store with one backend queue, for the store gauges.
type queueStats struct{}

func (queueStats) Ping(context.Context) error { return nil }

func (queueStats) QueueStats(context.Context) (store.Stats, error) {
	b := store.BackendStats{Backend: store.BackendID{Type: "servicenow", Name: "prod"}, Pending: 1, Dead: 1, OldestEnqueuedAt: time.Now()}
	return store.Stats{Pending: 1, Dead: 1, Backends: []store.BackendStats{b}}, nil
}

// exported returns every itsmbridge metric family the bridge exports, with
// its label names, after touching each metric once.
func exported(t *testing.T) map[string][]string {
	t.Helper()
	m := metrics.New()
	m.WatchStore(queueStats{}, func() []string { return []string{"servicenow.prod"} })
	m.AlertReceived("prod", "azureMonitorCommonAlertSchema", "accepted")
	m.AuthFailure("prod", "audience")
	m.Delivery("servicenow.prod", "create", "success", time.Millisecond)
	m.PluginRestart("servicenow.prod")
	m.StoreCommit(time.Millisecond)
	m.Purged(1, 1, 1)
	m.RouteMatchError()
	m.Reload(false)
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "itsmbridge_") {
			continue
		}
		var labels []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			labels = append(labels, l.GetName())
		}
		out[f.GetName()] = labels
	}
	return out
}

var (
	metricRe   = regexp.MustCompile(`itsmbridge_[a-z_]+`)
	selectorRe = regexp.MustCompile(`(itsmbridge_[a-z_]+)\{([^}]*)\}`)
	matcherRe  = regexp.MustCompile(`([a-zA-Z_]+)\s*(=~|!~|!=|=)`)
	byRe       = regexp.MustCompile(`by \(([^)]*)\)`)
	// Labels Prometheus adds at scrape time, or that histograms carry.
	targetLabels = []string{"instance", "job", "le"}
)

// family is the metric family a series name belongs to: a histogram's
// _bucket, _sum and _count series belong to the histogram.
func family(families map[string][]string, series string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(series, suffix); ok {
			if _, exported := families[b]; exported {
				return b
			}
		}
	}
	return series
}

// TestRulesMatchExportedMetrics: every metric a rule queries is one the
// bridge exports, and every label it selects or groups by is one of that
// metric's labels, so renaming a metric or a label breaks this test instead
// of silently muting an alert.
func TestRulesMatchExportedMetrics(t *testing.T) {
	families := exported(t)
	for _, r := range loadRules(t) {
		// The metrics the rule queries (a histogram through its series).
		used := map[string]bool{}
		for _, name := range metricRe.FindAllString(r.Expr, -1) {
			base := family(families, name)
			if _, ok := families[base]; !ok {
				t.Errorf("rule %s queries %s, which the bridge does not export", r.Alert, name)
				continue
			}
			used[base] = true
		}
		for _, sel := range selectorRe.FindAllStringSubmatch(r.Expr, -1) {
			base := family(families, sel[1])
			for _, m := range matcherRe.FindAllStringSubmatch(sel[2], -1) {
				if !slices.Contains(families[base], m[1]) && !slices.Contains(targetLabels, m[1]) {
					t.Errorf("rule %s selects label %q of %s, which has labels %v", r.Alert, m[1], base, families[base])
				}
			}
		}
		for _, by := range byRe.FindAllStringSubmatch(r.Expr, -1) {
			for l := range strings.SplitSeq(by[1], ",") {
				l = strings.TrimSpace(l)
				if slices.Contains(targetLabels, l) {
					continue
				}
				for name := range used {
					if !slices.Contains(families[name], l) {
						t.Errorf("rule %s groups %s by %q, which is not one of its labels %v", r.Alert, name, l, families[name])
					}
				}
			}
		}
		switch r.Labels["severity"] {
		case "critical", "warning", "info":
		default:
			t.Errorf("rule %s: severity %q, want critical, warning or info", r.Alert, r.Labels["severity"])
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("rule %s needs a summary and a description", r.Alert)
		}
	}
}

// TestRulesWithPromtool: promtool parses the rules and their unit tests
// (itsmbridge.rules.test.yml, a scenario per rule) pass.
func TestRulesWithPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not installed (Debian package prometheus); CI must run this test")
		}
		t.Skip("promtool is not installed (Debian: apt-get install --no-install-recommends prometheus); skipping the rule unit tests")
	}
	for _, args := range [][]string{
		{"check", "rules", "itsmbridge.rules.yml"},
		{"test", "rules", "itsmbridge.rules.test.yml"},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
