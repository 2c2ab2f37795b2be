package sdk

import "encoding/json"

// Alert status values.
const (
	StatusFired    = "fired"
	StatusResolved = "resolved"
)

// Alert is the canonical, schema-independent form of an Azure Monitor alert
// (DESIGN §3). The core normalizes every payload into it; route expressions see
// it as `alert`, and plugins receive it with every operation. JSON keys are part
// of the public contract (`itsmbridge alert inspect`).
//
// Invariants kept by the normalizer: slices and maps are never nil, Targets are
// lower-cased ARM ids, times are RFC 3339 UTC strings and ResolvedAt is empty
// unless Status is StatusResolved.
type Alert struct {
	ID                 string            `json:"id"`
	Schema             string            `json:"schema"`
	Source             string            `json:"source"`
	Status             string            `json:"status"`
	Severity           int               `json:"severity"`
	SeverityName       string            `json:"severity_name"`
	Rule               string            `json:"rule"`
	RuleID             string            `json:"rule_id"`
	Service            string            `json:"service"`
	Signal             string            `json:"signal"`
	Description        string            `json:"description"`
	Targets            []string          `json:"targets"`
	ConfigurationItems []string          `json:"configuration_items"`
	Subscription       string            `json:"subscription"`
	ResourceGroup      string            `json:"resource_group"`
	ResourceType       string            `json:"resource_type"`
	ResourceName       string            `json:"resource_name"`
	FiredAt            string            `json:"fired_at"`
	ResolvedAt         string            `json:"resolved_at"`
	Link               string            `json:"link"`
	Custom             map[string]string `json:"custom"`
	Context            json.RawMessage   `json:"context"`
	DedupKey           string            `json:"dedup_key"`
}
