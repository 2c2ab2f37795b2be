package alert

import "github.com/itsmbridge/itsmbridge/sdk"

// Alert is the canonical alert. See sdk.Alert for the field contract.
type Alert = sdk.Alert

// Status values.
const (
	StatusFired    = sdk.StatusFired
	StatusResolved = sdk.StatusResolved
)

// Schema identifiers reported in Alert.Schema.
const (
	SchemaCommon             = "azure.common"
	SchemaLegacyMetric       = "azure.legacy.metric"
	SchemaLegacyActivityLog  = "azure.legacy.activitylog"
	SchemaLegacyLogAnalytics = "azure.legacy.loganalytics"
	SchemaLegacyAppInsights  = "azure.legacy.appinsights"
	SchemaLegacyBudget       = "azure.legacy.budget"
)

// Severity bounds: Sev0 is the most severe, Sev4 the least.
const (
	MinSeverity = 0
	MaxSeverity = 4
)

// DefaultSeverity is used when a payload carries no severity.
const DefaultSeverity = MaxSeverity
