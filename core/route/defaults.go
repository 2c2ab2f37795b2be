package route

import (
	"fmt"
	"strings"

	"github.com/itsmbridge/itsmbridge/core/alert"
)

// DefaultTitle is the title of a route without ticket.title:
// "[SevN] <rule> on <resource>".
func DefaultTitle(a *alert.Alert) string {
	sev := a.SeverityName
	if sev == "" {
		sev = fmt.Sprintf("Sev%d", a.Severity)
	}
	rule := a.Rule
	if rule == "" {
		rule = "Azure Monitor alert"
	}
	title := "[" + sev + "] " + rule
	if res := resource(a); res != "" {
		title += " on " + res
	}
	return title
}

// resource names what the alert is about, as specifically as it can.
func resource(a *alert.Alert) string {
	switch {
	case a.ResourceName != "":
		return a.ResourceName
	case len(a.Targets) > 0:
		return a.Targets[0]
	case a.Subscription != "":
		return "subscription " + a.Subscription
	}
	return ""
}

// DefaultDescription is the description of a route without
// ticket.description: everything a human needs to get back to the alert.
func DefaultDescription(a *alert.Alert) string {
	var b strings.Builder
	if a.Description != "" {
		b.WriteString(a.Description)
		b.WriteString("\n\n")
	}
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	line("Alert rule", a.Rule)
	sev := a.SeverityName
	if sev == "" {
		sev = fmt.Sprintf("Sev%d", a.Severity)
	}
	line("Severity", sev)
	line("Status", a.Status)
	line("Monitoring service", a.Service)
	line("Signal", a.Signal)
	line("Fired at", a.FiredAt)
	line("Resolved at", a.ResolvedAt)
	line("Azure alert id", a.ID)
	line("Link", a.Link)
	if len(a.Targets) > 0 {
		b.WriteString("Targets:\n")
		for _, t := range a.Targets {
			b.WriteString("  - ")
			b.WriteString(t)
			b.WriteString("\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}
