// Package alert is the canonical alert model of the bridge (DESIGN §3).
//
// The model type itself lives in the sdk (sdk.Alert) because plugins receive
// it over the wire; this package re-exports it for the core and holds the
// helpers that only the host needs: severity names and parsing, ARM resource
// id parsing, dedup keys and the expansion of configuration item names into
// sdk.ConfigurationItem values.
package alert
