// Package bridge assembles a running itsmbridge from a configuration: the
// store, the sources' token verifiers, the router, one supervised plugin per
// backend, the dispatcher, and the ingress and admin HTTP servers. It owns
// reload (SIGHUP, POST /api/v1/reload): a new configuration is loaded and
// checked completely before anything changes; an invalid one is rejected
// with its diagnostics and the running one stays.
package bridge
