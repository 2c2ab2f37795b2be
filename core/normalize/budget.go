package normalize

import (
	"strings"

	"github.com/itsmbridge/itsmbridge/core/alert"
)

// The legacy budget notification (schemaId "AIP Budget Notification"): flat
// budget fields in "data", no time, no severity, no resource id.

const schemaBudget = "AIP Budget Notification"

func init() {
	register(family{name: schemaBudget, detect: schemaIDIs(schemaBudget), parse: parseBudget})
}

func parseBudget(root val, c *check, a *alert.Alert) {
	a.Schema = alert.SchemaLegacyBudget
	a.Service = "CostAlerts" // as the common schema names it
	a.Signal = signalBudget
	a.Status = alert.StatusFired
	a.Severity = alert.DefaultSeverity
	data := c.needObject(root, "data")
	a.Context = rawContext(data)

	name := strings.TrimSpace(c.str(c.need(data, "BudgetName")))
	sub := strings.TrimSpace(c.str(data.get("SubscriptionId")))
	rg := strings.TrimSpace(c.str(data.get("ResourceGroup")))
	billing := strings.TrimSpace(c.str(data.get("BillingAccountId")))
	var scope string
	switch {
	case sub != "" && rg != "":
		scope = "/subscriptions/" + sub + "/resourceGroups/" + rg
	case sub != "":
		scope = "/subscriptions/" + sub
	case billing != "":
		scope = "/providers/Microsoft.Billing/billingAccounts/" + billing
	}
	if scope != "" && sub != "" {
		a.Targets = []string{scope}
	}
	a.Subscription, a.ResourceGroup = sub, rg
	a.Rule = name
	a.RuleID = scope + "/providers/Microsoft.Consumption/budgets/" + name
	// One budget, one alert: each notification for it is an update, told
	// apart by its amounts (the payload has no time; see alert.DedupKey).
	a.ID = strings.ToLower(a.RuleID)

	unit := c.str(data.get("Unit"))
	amount := func(key string) string {
		s := strings.TrimSpace(c.str(data.get(key)))
		if s != "" && unit != "" {
			s += " " + unit
		}
		return s
	}
	spent, budget, threshold := amount("SpendingAmount"), amount("Budget"), amount("NotificationThresholdAmount")
	var b strings.Builder
	b.WriteString("Budget " + name)
	if spent != "" {
		b.WriteString(": spent " + spent)
		if budget != "" {
			b.WriteString(" of " + budget)
		}
	}
	if threshold != "" {
		b.WriteString(" (notification threshold " + threshold + ")")
	}
	a.Description = b.String()
}
