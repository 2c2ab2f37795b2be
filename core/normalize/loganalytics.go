package normalize

import (
	"strings"

	"github.com/itsmbridge/itsmbridge/core/alert"
)

// The legacy Log Analytics log search alert (API up to 2018-04-16) has no
// envelope and no schemaId: the rule and its results are the top-level
// object. It is recognized by its fields.

const nameLogAnalytics = "Log Analytics log search alert (no schemaId)"

func init() {
	register(family{name: nameLogAnalytics, detect: detectLogAnalytics, parse: parseLogAnalytics})
}

func detectLogAnalytics(root val) bool {
	return !root.get("schemaId").exists() && !root.get("data").exists() &&
		root.get("AlertRuleName").exists() && root.get("SearchQuery").exists()
}

func parseLogAnalytics(root val, c *check, a *alert.Alert) {
	a.Schema = alert.SchemaLegacyLogAnalytics
	a.Service = "Log Analytics"
	parseLogSearch(c, a, root, root.get("WorkspaceId"))
}

// parseLogSearch reads the fields the legacy Log Analytics and Application
// Insights log search alerts share. source identifies the workspace or
// application when the payload names no resource.
func parseLogSearch(c *check, a *alert.Alert, obj, source val) {
	a.Signal = "Log"
	a.Status = alert.StatusFired // these alerts never resolve
	a.Rule = strings.TrimSpace(c.str(c.need(obj, "AlertRuleName")))
	a.Severity = c.severity(obj.get("Severity"))
	a.Description = c.str(obj.get("Description"))
	a.FiredAt = c.firstTime(obj.get("SearchIntervalEndtimeUtc"), obj.get("SearchIntervalStartTimeUtc"))
	a.Link = firstSoft(obj.get("LinkToFilteredSearchResultsUI"), obj.get("LinkToSearchResults"))
	a.Context = rawContext(obj)
	a.Subscription = strings.TrimSpace(c.str(obj.get("SubscriptionId")))

	resource := strings.TrimSpace(c.str(obj.get("ResourceId")))
	if resource != "" {
		a.Targets = []string{resource}
	}
	a.ConfigurationItems = c.strs(obj.get("AffectedConfigurationItems"))
	if len(nonEmpty(a.ConfigurationItems)) == 0 {
		tables := obj.path("SearchResult", "tables")
		if !tables.exists() {
			tables = obj.path("SearchResults", "tables")
		}
		a.ConfigurationItems = logCIs(c, []val{obj.get("Dimensions")}, tables)
	}

	// No alert id is sent and every firing is a new alert: the firing is
	// identified by where the rule ran, the rule and the end of its window.
	where := strings.ToLower(resource)
	if where == "" {
		where = strings.TrimSpace(c.str(source))
	}
	if where == "" {
		where = a.Subscription
	}
	a.ID = strings.Join([]string{where, a.Rule, a.FiredAt}, "|")
}
