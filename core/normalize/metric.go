package normalize

import (
	"sort"
	"strings"

	"github.com/itsmbridge/itsmbridge/core/alert"
)

// The legacy metric alert schema (schemaId "AzureMonitorMetricAlert"):
// {"data": {"status": "Activated", "context": {rule, resource, condition},
// "properties": {custom}}}.

const schemaMetric = "AzureMonitorMetricAlert"

func init() {
	register(family{name: schemaMetric, detect: schemaIDIs(schemaMetric), parse: parseMetric})
}

func parseMetric(root val, c *check, a *alert.Alert) {
	a.Schema = alert.SchemaLegacyMetric
	a.Service = "Platform"
	a.Signal = "Metric"
	data := c.needObject(root, "data")
	ctx := c.needObject(data, "context")

	a.Status = c.status(data.get("status"))
	a.Rule = c.str(ctx.get("name"))
	a.RuleID = strings.TrimSpace(c.str(ctx.get("id")))
	a.Severity = c.severity(ctx.get("severity"))
	a.Description = c.str(ctx.get("description"))
	a.Link = soft(ctx.get("portalLink"))
	a.Custom = c.stringMap(data.get("properties"))
	a.Context = rawContext(ctx)
	// timestamp is when the status changed: the fire or the resolution.
	if at := c.time(ctx.get("timestamp")); a.Status == alert.StatusResolved {
		a.ResolvedAt = at
	} else {
		a.FiredAt = at
	}

	resource := strings.TrimSpace(c.str(ctx.get("resourceId")))
	if resource == "" {
		sub, rg := c.str(ctx.get("subscriptionId")), c.str(ctx.get("resourceGroupName"))
		typ, name := c.str(ctx.get("resourceType")), c.str(ctx.get("resourceName"))
		if sub != "" && rg != "" && typ != "" && name != "" {
			resource = "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/" + typ + "/" + name
		}
		a.Subscription, a.ResourceGroup = sub, rg
	}
	if resource != "" {
		a.Targets = []string{resource}
	}
	if a.RuleID == "" && a.Rule == "" {
		c.failMember(ctx, "id", "missing (neither rule id nor name)")
	}

	// Azure keeps one alert per rule, resource and dimension combination
	// (time series); the payload has no alert id, so that triple is the id.
	parts := []string{strings.ToLower(a.RuleID), strings.ToLower(resource)}
	if a.RuleID == "" {
		parts[0] = a.Rule
	}
	var dims []string
	for cond := c.array(ctx.path("condition", "allOf")).first(); cond.exists(); cond = cond.next() {
		for e := c.array(c.object(cond).get("dimensions")).first(); e.exists(); e = e.next() {
			d := c.object(e)
			dims = append(dims, c.str(d.get("name"))+"="+c.str(d.get("value")))
		}
	}
	sort.Strings(dims)
	a.ID = strings.Join(append(parts, dedupe(dims)...), "|")
}
