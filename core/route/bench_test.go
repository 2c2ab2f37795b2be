package route

import (
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// benchConfig is 99 routes that each run a regular expression and string
// functions without matching, then a catch-all that renders a templated
// ticket with fields and a group_by: every route is evaluated for the alert.
func benchConfig(readContext bool) string {
	var b strings.Builder
	b.WriteString(header)
	for i := 0; i < 99; i++ {
		fmt.Fprintf(&b, `
route "r%02d" {
  match    = alert.severity <= %d && can(regex("^web-%03d-[a-z]+$", lower(alert.resource_name))) && startswith(alert.subscription, "1111")
  to       = [backend.servicenow.prod]
  group_by = [alert.rule, lower(alert.resource_group)]
  ticket {
    title = "[${alert.severity_name}] ${upper(alert.rule)} on ${alert.resource_name}"
  }
}
`, i, i%5, i)
	}
	match := `contains(["Platform", "Log Alerts V2"], alert.service) && strcontains(lower(alert.rule), "cpu")`
	if readContext {
		match += ` && try(alert.context.condition.windowSize, "") == "PT5M"`
	}
	fmt.Fprintf(&b, `
route "last" {
  match    = %s
  to       = [backend.jira.ops]
  group_by = [alert.rule, lower(alert.resource_group), formatdate("YYYY-MM-DD", alert.fired_at)]
  ticket {
    title       = "[${alert.severity_name}] ${alert.rule} on ${coalesce(alert.resource_name, alert.subscription)}"
    description = "${alert.description}\n\nTargets: ${join(", ", alert.targets)}\nFired: ${alert.fired_at}"
    fields      = { team = lookup(alert.custom, "team", "ops"), sev = alert.severity }
  }
}
`, match)
	return b.String()
}

func benchmarkRoute(b *testing.B, readContext, hclOnly bool) {
	cfg := configFrom(&testing.T{}, benchConfig(readContext), nil)
	r, err := New(cfg, hclog.NewNullLogger())
	if err != nil {
		b.Fatal(err)
	}
	if hclOnly {
		clear(r.fast)
	}
	a := testAlert()
	if ds, rs := r.Route(a); len(ds) != 1 || ds[0].Route != "last" || len(rs) != 100 || r.MatchErrors() != 0 {
		b.Fatalf("unexpected routing: %+v", rs)
	}
	b.ReportAllocs()
	cpu0 := processCPU()
	n := 0
	for b.Loop() {
		r.Route(a)
		n++
	}
	// CPU time (user+system, GC included) per alert: unlike ns/op, it does
	// not grow when other processes compete for the machine's cores.
	b.ReportMetric(float64(processCPU()-cpu0)/float64(n), "cpu-ns/op")
}

// processCPU is the process's user+system CPU time in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkRoute100 routes one alert through 100 routes (regex and string
// functions in every match; the last one matches and renders a ticket).
func BenchmarkRoute100(b *testing.B) { benchmarkRoute(b, false, false) }

// BenchmarkRoute100HCL is BenchmarkRoute100 with the compiled fast path
// disabled: every match is evaluated by HCL (the comparison point).
func BenchmarkRoute100HCL(b *testing.B) { benchmarkRoute(b, false, true) }

// BenchmarkRoute100Context is BenchmarkRoute100 with one expression reading
// alert.context, so the alert context JSON is decoded for every alert.
func BenchmarkRoute100Context(b *testing.B) { benchmarkRoute(b, true, false) }
