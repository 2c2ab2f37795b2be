package normalize

import "github.com/itsmbridge/itsmbridge/core/alert"

// The legacy Application Insights log search alert (schemaId
// "Microsoft.Insights/LogAlert"): the Log Analytics fields inside "data",
// with ApplicationId instead of WorkspaceId.

const schemaAppInsights = "Microsoft.Insights/LogAlert"

func init() {
	register(family{name: schemaAppInsights, detect: schemaIDIs(schemaAppInsights), parse: parseAppInsights})
}

func parseAppInsights(root val, c *check, a *alert.Alert) {
	a.Schema = alert.SchemaLegacyAppInsights
	a.Service = "Application Insights"
	data := c.needObject(root, "data")
	parseLogSearch(c, a, data, data.get("ApplicationId"))
}
