// Package admin is the admin HTTP API on admin_listen (DESIGN §6): health,
// readiness, Prometheus metrics and JSON endpoints over the store (alerts,
// deliveries, tickets, dead letters, quarantine) and the running
// configuration (backends, routes, reload). The CLI and the console act only
// through these endpoints, so there is one code path to the store.
package admin
