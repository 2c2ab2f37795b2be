package normalize

import (
	"strings"

	"github.com/itsmbridge/itsmbridge/core/alert"
)

// Service Health and Resource Health notifications are activity log events,
// delivered as the common schema or the legacy activity log schema. Both
// need the same corrections, so both parsers call these.

// isServiceHealth recognizes a Service Health event by the monitoring service
// or by the event itself (eventSource is an enum number in some payloads, so
// the operation name is checked too).
func isServiceHealth(service string, event val) bool {
	return looseEq(service, "servicehealth") ||
		looseEq(soft(event.get("eventSource")), "servicehealth") ||
		hasPrefixFold(soft(event.get("operationName")), "microsoft.servicehealth/")
}

// isResourceHealth is isServiceHealth for Resource Health.
func isResourceHealth(service string, event val) bool {
	return looseEq(service, "resourcehealth") ||
		looseEq(soft(event.get("eventSource")), "resourcehealth") ||
		hasPrefixFold(soft(event.get("operationName")), "microsoft.resourcehealth/")
}

// serviceHealthOver lists the communication stages after which a service
// issue needs no more work: Resolved, the post-incident review that follows
// it (RCA), and the end of planned maintenance (Complete, Canceled). Treating
// RCA as fired would reopen a ticket that the Resolved notice closed.
var serviceHealthOver = map[string]bool{
	"resolved": true, "rca": true, "complete": true, "completed": true, "canceled": true, "cancelled": true,
}

// serviceHealth fixes up a Service Health alert. Azure keeps the monitor
// condition at Fired (legacy: Activated) for every communication of a
// service issue, including its resolution, and each communication arrives
// as a new alert. So:
//   - the id becomes the ARM id of the service health event,
//     /subscriptions/{sub}/providers/microsoft.resourcehealth/events/{trackingId},
//     stable across all communications of the issue in that subscription, so
//     updates and the resolution reach the ticket the first one opened;
//   - stage Resolved (or RCA, Complete, Canceled) or status Resolved resolves
//     it, at impactMitigationTime when given.
func serviceHealth(c *check, a *alert.Alert, event val, subscription string) {
	props := c.object(event.get("properties"))
	if tid := strings.TrimSpace(c.str(props.get("trackingId"))); tid != "" {
		a.ID = serviceHealthEventID(subscription, tid)
	}
	stage := strings.ToLower(strings.TrimSpace(c.str(props.get("stage"))))
	status := strings.TrimSpace(c.str(event.get("status")))
	if serviceHealthOver[stage] || strings.EqualFold(status, "Resolved") {
		a.Status = alert.StatusResolved
		a.ResolvedAt = c.firstTime(props.get("impactMitigationTime"), event.get("eventTimestamp"), event.get("submissionTimestamp"))
		if a.ResolvedAt == "" {
			a.ResolvedAt = a.FiredAt
		}
	}
	if a.Description == "" {
		a.Description = soft(props.get("title"))
	}
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func serviceHealthEventID(subscription, trackingID string) string {
	if subscription == "" {
		return "/providers/microsoft.resourcehealth/events/" + trackingID
	}
	return "/subscriptions/" + strings.ToLower(subscription) + "/providers/microsoft.resourcehealth/events/" + trackingID
}

// resourceHealth fixes up a Resource Health alert: each health transition is
// a new activity log alert, so the id becomes the resource's availability
// status id, {resource}/providers/microsoft.resourcehealth/availabilitystatuses/current,
// and a transition back to Available resolves it.
func resourceHealth(c *check, a *alert.Alert, event val, resource string) {
	props := c.object(event.get("properties"))
	if r := strings.TrimSuffix(strings.TrimSpace(resource), "/"); r != "" {
		a.ID = strings.ToLower(r) + "/providers/microsoft.resourcehealth/availabilitystatuses/current"
	}
	current := strings.TrimSpace(c.str(props.get("currentHealthStatus")))
	op := strings.ToLower(soft(event.get("operationName")))
	if strings.EqualFold(current, "Available") || current == "" && strings.Contains(op, "/resolved/") {
		a.Status = alert.StatusResolved
		a.ResolvedAt = c.firstTime(event.get("eventTimestamp"), event.get("submissionTimestamp"))
		if a.ResolvedAt == "" {
			a.ResolvedAt = a.FiredAt
		}
	}
	if a.Description == "" {
		a.Description = soft(props.get("title"))
	}
}
