// Package pluginhost launches and supervises ITSM plugin processes.
//
// Launch starts one plugin binary (`<plugin_dir>/itsmbridge-plugin-<type>`)
// through go-plugin with AutoMTLS, an optional SHA-256 pin checked before
// exec, an explicit environment allow-list and a parent-death signal, then
// negotiates the protocol and reads the plugin's info and schema.
//
// Supervisor keeps one configured plugin per backend alive: it health-checks
// the process, restarts it with capped back-off after a crash, re-sends the
// config, and makes calls made meanwhile fail fast with a retryable error so
// that deliveries wait instead of failing.
package pluginhost
