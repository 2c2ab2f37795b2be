// Package ingest is the alert ingress (DESIGN §6): one HTTP endpoint per
// `source` that authenticates the Azure Monitor call, normalizes the
// payload, routes it, and acknowledges only after the alert and its
// deliveries are durably committed.
//
// Responses: 202 stored (or quarantined), 200 duplicate, 400 malformed or
// too large, 401 bad token, 403 subscription not allowed, 405 not POST, 429 over the
// source's rate limit,
// 503 + Retry-After when keys or the store are unavailable (Azure retries
// 503; any other answer would lose the alert).
package ingest
