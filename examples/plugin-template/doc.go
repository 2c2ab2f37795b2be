// Command itsmbridge-plugin-jsonl is the plugin template: a complete, minimal
// itsmbridge plugin that files incidents into a JSON-lines file. Copy this
// directory to start a vendor plugin (see README.md).
//
// Every operation appends one JSON object (an event) to the file named by the
// `path` attribute; the state of a ticket is the fold of its events. The
// plugin is built only on the sdk packages, as any third-party plugin must
// be, and core/pluginhost's tests launch it.
package main
