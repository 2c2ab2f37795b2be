// Package wake fans "new work for backend X" signals out to watchers, for
// the stores' Watch method.
package wake
