// Package console is the operator console: server-rendered HTML pages on the
// admin listener (DESIGN §6) that show every alert's path to its ticket and
// let an operator act on what is stuck.
//
// Pages: Overview (rates, queues, dead letters, quarantine, plugin health,
// refreshed in place), Alerts (filters; each alert with its normalized
// fields, raw payload, routes and deliveries), Tickets (key → ticket, state,
// CI bindings, history), Dead letters, Quarantine, Config (redacted dump,
// routes, backends, last reload) and a Route tester.
//
// The console only reads: it lists through the store's read-only Admin and
// Tickets calls and evaluates routes with the running router. Every action
// it offers (replay, drop, reload) is a button whose script calls the admin
// API (POST /api/v1/...), the same path the CLI uses, so there is one code
// path that changes state.
//
// Templates use html/template (contextual escaping: alert content is hostile
// input), and the pages load one stylesheet and one script embedded in the
// binary; no CDN, no build step. A strict Content-Security-Policy forbids
// inline scripts, so even a template mistake cannot run injected code.
//
// Mount the pages inside the admin API's authenticated group
// (admin.Options.Extra = c.Mount) and wrap the admin handler with
// WithLogin, so a browser can present the admin token as a cookie.
package console
