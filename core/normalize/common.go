package normalize

import (
	"strings"

	"github.com/itsmbridge/itsmbridge/core/alert"
)

// The common alert schema: {"schemaId": "azureMonitorCommonAlertSchema",
// "data": {"essentials": {...}, "alertContext": {...}, "customProperties": {...}}}.
// One envelope for every monitoring service; the services differ in
// alertContext, which is kept as sent and read only where a canonical field
// needs it.

const schemaCommon = "azureMonitorCommonAlertSchema"

func init() {
	register(family{name: schemaCommon, detect: schemaIDIs(schemaCommon), parse: parseCommon})
}

func parseCommon(root val, c *check, a *alert.Alert) {
	a.Schema = alert.SchemaCommon
	data := c.needObject(root, "data")
	ess := c.needObject(data, "essentials")
	ctx := c.object(data.get("alertContext"))

	a.ID = strings.TrimSpace(c.str(c.need(ess, "alertId")))
	a.Rule = c.str(ess.get("alertRule"))
	a.RuleID = c.str(ess.get("alertRuleID"))
	if a.RuleID == "" {
		a.RuleID = metricRuleID(soft(ess.get("originAlertId")), a.Rule)
	}
	a.Severity = c.severity(ess.get("severity"))
	a.Signal = canonicalSignal(c.str(ess.get("signalType")))
	a.Service = strings.TrimSpace(c.str(ess.get("monitoringService")))
	a.Status = c.status(ess.get("monitorCondition"))
	a.Targets = c.strs(ess.get("alertTargetIDs"))
	a.ConfigurationItems = c.strs(ess.get("configurationItems"))
	a.FiredAt = c.time(ess.get("firedDateTime"))
	a.ResolvedAt = c.time(ess.get("resolvedDateTime"))
	a.Description = c.str(ess.get("description"))
	a.Custom = c.stringMap(data.get("customProperties"))
	a.Context = rawContext(ctx)
	a.Link = searchLink(c, ctx)
	if a.Status == alert.StatusResolved && a.ResolvedAt == "" {
		a.ResolvedAt = c.firstTime(ctx.get("windowEndTime"), ctx.path("condition", "windowEndTime"))
	}

	switch {
	case isServiceHealth(a.Service, ctx):
		sub := subscriptionOf(a.Targets...)
		if sub == "" {
			sub = subscriptionOf(a.ID) // the alert id is /subscriptions/{sub}/providers/...
		}
		serviceHealth(c, a, ctx, sub)
	case isResourceHealth(a.Service, ctx):
		resource := ""
		if len(a.Targets) > 0 {
			resource = a.Targets[0]
		}
		resourceHealth(c, a, ctx, resource)
	case looseEq(a.Service, "costalerts") || strings.EqualFold(soft(ctx.get("AlertCategory")), "budgets"):
		budget := c.object(ctx.get("AlertData"))
		if a.Rule == "" {
			a.Rule = c.str(budget.get("BudgetName"))
		}
		if a.RuleID == "" {
			a.RuleID = c.str(budget.get("BudgetId"))
		}
		if len(a.Targets) == 0 {
			a.Targets = c.strs(budget.get("Scope")) // what the budget watches
		}
		if a.Signal == "" {
			a.Signal = signalBudget
		}
	}

	if len(nonEmpty(a.ConfigurationItems)) == 0 && a.Signal == "Log" {
		a.ConfigurationItems = c.strs(ctx.get("AffectedConfigurationItems"))
		if len(nonEmpty(a.ConfigurationItems)) == 0 {
			dims := []val{ctx.get("Dimensions")}
			for cond := c.array(ctx.path("condition", "allOf")).first(); cond.exists(); cond = cond.next() {
				dims = append(dims, cond.get("dimensions"))
			}
			tables := ctx.path("SearchResults", "tables")
			if !tables.exists() {
				tables = ctx.path("SearchResult", "tables")
			}
			a.ConfigurationItems = logCIs(c, dims, tables)
		}
	}

	if a.Description == "" {
		a.Description = firstSoft(
			ctx.path("annotations", "summary"), ctx.path("annotations", "description"),
			ctx.get("DetectionSummary"), ctx.path("properties", "title"), ctx.path("properties", "description"),
		)
	}
	if a.Description == "" && a.Signal == "Activity Log" {
		a.Description = firstSoft(ctx.path("properties", "message"), ctx.get("operationName")) // as the legacy schema does
	}
}

// signalBudget is the signal of budget (cost) alerts, which Azure leaves null.
const signalBudget = "Budget"

// subscriptionOf returns the subscription of the first ARM id in ids that has one.
func subscriptionOf(ids ...string) string {
	for _, id := range ids {
		if r, err := alert.ParseResourceID(strings.TrimSpace(id)); err == nil && r.Subscription != "" {
			return r.Subscription
		}
	}
	return ""
}

// metricRuleID rebuilds the rule id of a metric alert from its originAlertId,
// which Azure composes as {subscription}_{resourceGroup}_{namespace}_{ruleType}_{ruleName}_{hash}.
// The rule name is known from essentials, so the split is checked rather than
// guessed; anything that does not fit gives "".
func metricRuleID(origin, rule string) string {
	const marker = "_microsoft.insights_metricalerts_"
	if rule == "" {
		return ""
	}
	i := indexFold(origin, marker)
	if i < 0 {
		return ""
	}
	sub, rg, ok := strings.Cut(origin[:i], "_")
	if !ok || sub == "" || rg == "" {
		return ""
	}
	rest := origin[i+len(marker):]
	if len(rest) <= len(rule)+1 || !strings.EqualFold(rest[:len(rule)], rule) || rest[len(rule)] != '_' {
		return ""
	}
	hash := strings.TrimPrefix(rest[len(rule)+1:], "-")
	if hash == "" || strings.Trim(hash, "0123456789") != "" {
		return ""
	}
	kind := origin[i+1 : i+len(marker)-1] // "microsoft.insights_metricAlerts" as sent
	ns, typ, _ := strings.Cut(kind, "_")
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/" + ns + "/" + typ + "/" + rest[:len(rule)]
}

// indexFold is strings.Index ignoring ASCII case. (Lower-casing origin
// first would shift offsets when it holds invalid UTF-8.)
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return i
		}
	}
	return -1
}

// firstSoft returns the first non-empty scalar of vs.
func firstSoft(vs ...val) string {
	for _, v := range vs {
		if s := strings.TrimSpace(soft(v)); s != "" {
			return s
		}
	}
	return ""
}
