// Package normalize turns Azure Monitor webhook payloads into the canonical
// alert (DESIGN §3).
//
// Normalize detects the schema from the JSON alone: the common alert schema
// (for every monitoring service), the legacy metric, activity log,
// Application Insights log and budget schemas (by schemaId), and the legacy
// Log Analytics log alert, which has no schemaId and is recognized by its
// fields. Each schema family is one file that registers a detector and a
// parser; finalize derives the fields every schema shares.
//
// Decoding happens once, into a tree of offsets into the payload (tree.go),
// so normalizing costs less than a plain json.Unmarshal of the same bytes.
//
// Azure sends the same field with different JSON types across alert kinds,
// so field reading (fields.go) is lenient about types and strict about
// structure. Invalid JSON is ErrMalformed; valid JSON of no known schema is
// ErrUnknownSchema, which ingest quarantines.
package normalize
