// Package sdk is everything an ITSM vendor imports to write an itsmbridge
// plugin: the Go contract (Plugin and its optional capability interfaces),
// the canonical alert, config schemas, classified errors and Serve, which runs
// a plugin as a go-plugin gRPC server. Plugins never import the core.
package sdk
