// Package config loads the bridge's HCL configuration (DESIGN §4) with
// hashicorp/hcl/v2: hclparse, one body schema per block, and decoding per
// block, so every problem is an hcl.Diagnostic with file:line:column.
//
// # Files and order
//
// Load takes one file or a directory; a directory means every *.hcl file in
// it (not recursive). Declaration order, which is the order routes are
// evaluated in, is files sorted by name, then position within each file.
// Relative paths (store path, plugin_dir, file()) are relative to the
// configuration's directory.
//
// # Blocks
//
//	plugin_dir = "bin/plugins"            # default bin/plugins
//	server {                              # optional
//	  listen, admin_listen                # host:port; defaults 127.0.0.1:8080 and :9090
//	  admin_token                         # secret; required when admin_listen is not loopback
//	  max_body_bytes                      # default 1048576
//	  read_timeout, write_timeout         # default "10s"
//	  idle_timeout, shutdown_timeout      # default "60s", "30s"
//	  tls       { cert_file, key_file, min_version }   # HTTPS on listen; min_version "1.2" (default) or "1.3"
//	  admin_tls { cert_file, key_file, min_version }   # HTTPS on admin_listen
//	}
//	store "sqlite"   { path = "data/itsmbridge.db" }                # the default
//	store "postgres" { dsn = env("PG_DSN")  max_open_conns = 20 }   # dsn is secret
//	  # both kinds: retention = "720h" (default; "0" keeps everything; at
//	  # least every route's reopen_within): finished history older than it
//	  # is deleted, see core/retention
//	source "azure_monitor" NAME {
//	  path                                # URL path, unique, starts with "/"
//	  allowed_subscriptions = [GUID, ...] # optional filter on the alert's subscription
//	  rate_limit, burst                   # requests/s accepted (0 = unlimited)
//	  azure_ad { tenants, audiences, allowed_app_ids, required_roles, authority, clock_skew }
//	}
//	backend TYPE NAME {                   # TYPE = plugin name
//	  sha256, max_concurrency (4), rate_limit (0 = unlimited), max_age ("24h"), timeout ("30s")
//	  config { ... }                      # decoded against the plugin's declared schema
//	}
//	route NAME {
//	  match    = <bool expression>        # required
//	  to       = [backend.TYPE.NAME, ...] # required, checked, with did-you-mean hints
//	  continue = false                    # first match wins unless true
//	  group_by = [alert.id]               # the default; hashed with the backend into the ticket key
//	  ticket    { title, description, severity, fields = { vendor_field = value } }
//	  lifecycle { resolve = true, reopen_within = "24h", on_repeat = "comment" | "ignore" }
//	  cmdb      { bind = true, create_missing = false }  # no block: nothing is bound
//	}
//
// # Expressions
//
// Route expressions see one variable, `alert` (DESIGN §3; see AlertValue), and
// no other: references to anything else are load-time errors. Every
// expression may call go-cty's stdlib functions (strings, collections,
// regular expressions, encoding, date/time, numbers, conversions), try, can,
// startswith, endswith, strcontains, plus:
//
//   - env("NAME") and env("NAME", "default"): an environment variable; unset
//     without a default is an error.
//   - file("path"): a file's content, as is (use trimspace for a trailing
//     newline).
//
// At load time each route expression is evaluated against an alert whose
// values are unknown (UnknownAlert), which finds type errors, typos in
// attribute names, non-boolean matches and bad literal regular expressions.
//
// # Secrets
//
// Values from env() and file() carry a cty mark that survives templates and
// function calls; together with admin_token, the store DSN and the attributes
// a plugin marks sensitive they are secrets: Dump, Redact, RedactWriter and
// WriteDiagnostics replace them with "(sensitive)", and Secrets lists them
// for log filters.
package config
