// Package route applies a configuration's routes to an alert (DESIGN §4):
// routes are evaluated in declaration order, the first match wins unless it
// has continue = true, and each matching route yields one delivery per
// backend in its `to` list, with a ticket key and a rendered ticket.
//
// The `alert` object is built once per alert and shared by every route's
// expressions. A match that fails or is not a bool for a given alert is
// logged, counted (MatchErrors) and treated as no match; a ticket field that
// fails to render falls back to its default and is counted (RenderErrors), so
// an alert is never lost to a template mistake.
//
// Speed: route expressions written in the everyday subset of the language
// (see compile.go) are compiled into Go closures at New; everything else, and
// any case the compiled form cannot decide exactly, is evaluated by HCL. The
// HCL evaluation context of an alert is built at most once per alert, when
// the first expression needs it.
//
// A Router is safe for concurrent use.
package route
