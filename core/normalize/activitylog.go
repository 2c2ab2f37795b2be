package normalize

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/itsmbridge/itsmbridge/core/alert"
)

// The legacy activity log alert schema (schemaId "Microsoft.Insights/activityLogs"):
// {"data": {"status": "Activated", "context": {"activityLog": {event}},
// "properties": {custom}}}. Service Health, Resource Health, Security,
// Recommendation, Policy, Autoscale and Administrative events all use it.

const schemaActivityLog = "Microsoft.Insights/activityLogs"

func init() {
	register(family{name: schemaActivityLog, detect: schemaIDIs(schemaActivityLog), parse: parseActivityLog})
}

func parseActivityLog(root val, c *check, a *alert.Alert) {
	a.Schema = alert.SchemaLegacyActivityLog
	a.Signal = "Activity Log"
	data := c.needObject(root, "data")
	ctxv := c.needObject(data, "context")
	ev := c.needObject(ctxv, "activityLog")
	props := c.object(ev.get("properties"))

	a.Status = c.status(data.get("status"))
	a.Severity = alert.DefaultSeverity // activity log alerts have none
	source := strings.TrimSpace(c.str(ev.get("eventSource")))
	a.Service = activityLogService(source)
	a.Description = firstSoft(ev.get("description"), props.get("title"), props.get("description"), ev.get("operationName"))
	a.FiredAt = c.firstTime(ev.get("eventTimestamp"), ev.get("submissionTimestamp"))
	a.Link = soft(props.get("recommendationResourceLink"))
	a.Custom = c.stringMap(data.get("properties"))
	a.Context = rawContext(ctxv)

	// Each event is its own alert; eventDataId identifies it and is the same
	// in every action group's copy.
	a.ID = strings.TrimSpace(c.str(ev.get("eventDataId")))
	if a.ID == "" {
		sum := sha256.Sum256(ev.raw())
		a.ID = "activitylog:" + hex.EncodeToString(sum[:16])
	}

	subscription := strings.TrimSpace(c.str(ev.get("subscriptionId")))
	resource := strings.TrimSpace(c.str(ev.get("resourceId")))
	switch {
	case isServiceHealth(a.Service, ev):
		// A service issue is about the subscription, as in the common schema.
		if subscription != "" {
			a.Targets = []string{"/subscriptions/" + subscription}
		}
		serviceHealth(c, a, ev, subscription)
	case isResourceHealth(a.Service, ev):
		resourceHealth(c, a, ev, resource)
	}
	if len(a.Targets) == 0 && resource != "" {
		a.Targets = []string{resource}
	}
	if len(a.Targets) == 0 {
		a.Targets = c.strs(ev.path("authorization", "scope"))
	}
	a.Subscription = subscription
	a.ResourceGroup = c.str(ev.get("resourceGroupName"))
}

// activityLogService names the monitoring service as the common schema does
// for the same event, so one route matches both schemas.
func activityLogService(eventSource string) string {
	switch {
	case looseEq(eventSource, "servicehealth"):
		return "ServiceHealth"
	case looseEq(eventSource, "resourcehealth"):
		return "Resource Health"
	case eventSource == "":
		return "Activity Log"
	}
	return "Activity Log - " + eventSource
}
