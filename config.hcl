# itsmbridge configuration — works with the sandbox out of the box:
#
#   make build
#   bin/itsmbridge-sandbox serve &          # emulators + Entra ID stand-in on 127.0.0.1:18400-18403
#   bin/itsmbridge validate -config config.hcl
#   bin/itsmbridge serve    -config config.hcl
#
# Syntax: HCL (https://github.com/hashicorp/hcl). The language is described in
# DESIGN.md §4 and in `go doc ./core/config`. Every mistake is reported by
# `itsmbridge validate` with file:line:column and a snippet.
#
# Relative paths (store path, plugin_dir, file()) are relative to this file's
# directory. Secrets come from env("NAME") or file("path"); they are never
# printed and are redacted as "(sensitive)" in every dump, log and diagnostic.
# env("NAME", "default") falls back to the default when NAME is unset; without
# a default an unset variable is an error.

# Where the plugins live: backend "servicenow" runs
# <plugin_dir>/itsmbridge-plugin-servicenow. Default: bin/plugins.
plugin_dir = "bin/plugins"

server {
  listen       = "127.0.0.1:8080" # alert ingress (the sources' paths are served here)
  admin_listen = "127.0.0.1:9090" # /healthz, /readyz, /metrics, /api/v1/..., console

  # A token for the admin API; required as soon as admin_listen is not a
  # loopback address:
  # admin_token = env("ITSMBRIDGE_ADMIN_TOKEN")

  max_body_bytes   = 1048576 # larger alert payloads get 400
  read_timeout     = "10s"
  write_timeout    = "10s"
  idle_timeout     = "60s"
  shutdown_timeout = "30s" # how long SIGTERM waits for in-flight work

  # Serve HTTPS on the ingress (Azure sends a bearer token: do not expose
  # plain HTTP beyond a TLS-terminating proxy). A renewed certificate
  # written over these files is picked up without a restart.
  # tls {
  #   cert_file = "/etc/itsmbridge/tls.crt" # PEM chain
  #   key_file  = "/etc/itsmbridge/tls.key"
  # }
  # admin_tls { ... } does the same for admin_listen.
}

# The embedded store: one file, fsync'd before every 2xx.
store "sqlite" {
  path = "data/itsmbridge.db"

  # Finished history older than this is deleted, hourly: alerts whose
  # deliveries are all done (and unrouted alerts), and resolved tickets.
  # Unfinished deliveries, dead letters, open tickets and quarantined
  # payloads are kept whatever their age. Must be at least every route's
  # reopen_within; "0" keeps everything. (A re-sent copy of a purged alert
  # is no longer recognised as a duplicate; Azure retries within minutes.)
  # retention = "720h" # the default: 30 days
}
# For several replicas, use PostgreSQL instead (only one store block):
# store "postgres" {
#   dsn            = env("ITSMBRIDGE_PG_DSN")
#   max_open_conns = 20
# }

# An ingress endpoint for Azure Monitor action groups (Secure Webhook).
# Point the action group's webhook at http://<listen>/webhooks/azure
# (the sandbox: itsmbridge-sandbox send -to http://127.0.0.1:8080/webhooks/azure ...).
source "azure_monitor" "azure" {
  path = "/webhooks/azure"

  # Entra ID token checks (DESIGN §9).
  azure_ad {
    tenants   = ["00000000-0000-0000-0000-00000000a2e1"] # the sandbox tenant
    audiences = ["api://itsmbridge"]                     # your app registration's id URI and/or client id
    # Defaults, shown for completeness:
    allowed_app_ids = ["461e8683-5575-4561-ac7f-899cc907d62a"] # Azure Monitor's "AzNS AAD Webhook" app
    required_roles  = ["ActionGroupsSecureWebhook"]
    # The sandbox's Entra ID stand-in; default https://login.microsoftonline.com
    # (set it for sovereign clouds).
    authority  = "http://127.0.0.1:18400"
    clock_skew = "5m" # tolerance on exp/nbf, at most 5m
  }

  # Only accept alerts from these subscriptions (empty = any).
  allowed_subscriptions = []

  # Requests per second accepted on this path (0 = unlimited), and the burst.
  rate_limit = 200
  burst      = 400
}

# Backends: backend "<plugin>" "<name>". The config block is checked against
# the schema the plugin declares (`itsmbridge validate` launches each plugin
# once, offline). Routes refer to a backend as backend.<plugin>.<name>.
backend "servicenow" "demo" {
  # sha256 = "…"           # optional pin of the plugin binary (sha256sum output)
  max_concurrency = 8      # in-flight calls to this backend
  rate_limit      = 20     # calls per second (0 = unlimited)
  max_age         = "24h"  # retry a failing delivery this long, then dead-letter it
  timeout         = "30s"  # per plugin call

  config {
    instance_url = "http://127.0.0.1:18401"
    username     = env("SNOW_USER", "sandbox")
    password     = env("SNOW_PASSWORD", "sandbox")
  }
}

backend "jira" "demo" {
  max_concurrency = 4
  rate_limit      = 10

  config {
    url       = "http://127.0.0.1:18402"
    username  = env("JIRA_USER", "sandbox")
    api_token = env("JIRA_API_TOKEN", "sandbox")
    project   = "OPS"
  }
}

backend "cherwell" "demo" {
  config {
    url       = "http://127.0.0.1:18403/CherwellAPI"
    client_id = env("CHERWELL_CLIENT_ID", "sandbox")
    username  = env("CHERWELL_USER", "sandbox")
    password  = env("CHERWELL_PASSWORD", "sandbox")
  }
}

# Routes are evaluated in order. The first route whose match is true wins,
# unless it says continue = true (then later routes are evaluated too).
# An alert that matches no route is stored as unrouted and counted.
#
# Expressions see `alert` (DESIGN §3): alert.id, .schema, .source, .status,
# .severity (0-4), .severity_name, .rule, .rule_id, .service, .signal,
# .description, .targets, .configuration_items, .subscription,
# .resource_group, .resource_type, .resource_name, .fired_at, .resolved_at,
# .link, .custom (map), .context (the alert context as sent), .dedup_key —
# and functions: lower, upper, startswith, endswith, strcontains, regex,
# regexall, replace, format, join, split, contains, lookup, coalesce, try,
# can, formatdate, timeadd, jsonencode, jsondecode, ... (go-cty's stdlib).
#
# A match that fails for an alert (e.g. alert.context.x where x is absent) is
# logged, counted and treated as no match; use try(..., default) around
# optional data. Test routes without sending anything:
#   itsmbridge route test -config config.hcl core/route/testdata/samples/common-testaction-platform-metric-static-fired.json

# 1. Severity fan-out: Sev0 and Sev1 open a ServiceNow incident AND a Jira
#    issue, then continue so later routes can add more.
route "critical" {
  match    = alert.severity <= 1
  to       = [backend.servicenow.demo, backend.jira.demo]
  continue = true

  # The ticket key: alerts with the same group_by values (per backend) share
  # one ticket. Default: [alert.id], one ticket per Azure alert.
  group_by = [alert.id]

  ticket {
    title       = "[${alert.severity_name}] ${alert.rule} on ${coalesce(alert.resource_name, alert.subscription, "Azure")}"
    description = <<-EOT
      ${alert.description}

      Rule:     ${alert.rule} (${alert.service}, ${alert.signal})
      Fired at: ${alert.fired_at}
      Alert id: ${alert.id}
      Link:     ${alert.link}
      Targets:  ${join(", ", alert.targets)}
    EOT
    severity    = alert.severity
    # Vendor fields, checked against the fields each plugin declares.
    fields = {
      assignment_group = "Cloud Ops"
      category         = "software"
    }
  }

  lifecycle {
    resolve       = true      # resolve the ticket when the alert resolves
    reopen_within = "24h"     # a new fire within 24h of the resolve reopens it; later → new ticket
    on_repeat     = "comment" # a fire while the ticket is open adds a comment ("ignore" does nothing)
  }

  cmdb {
    bind           = true  # bind the alert's Azure resources (CIs) to the incident
    create_missing = false # do not create CIs the CMDB lacks
  }
}

# 2. Storm grouping: Service Health and Resource Health events about the same
#    rule and subscription on the same day share one Cherwell ticket, instead
#    of one ticket per event.
route "health-events" {
  match = contains(["ServiceHealth", "Resource Health", "ResourceHealth"], alert.service)
  to    = [backend.cherwell.demo]

  group_by = [
    alert.rule,
    alert.subscription,
    try(formatdate("YYYY-MM-DD", alert.fired_at), ""),
  ]

  ticket {
    title = "[${alert.severity_name}] ${alert.service}: ${alert.rule}"
    # description left out: the default carries the description, the Azure
    # alert id, the link, the targets and the fired time.
  }

  lifecycle {
    on_repeat = "ignore"
  }
}

# 3. Per-subscription routing: the production subscription (the id the Azure
#    "Test action group" samples use) goes to ServiceNow, with a per-resource-
#    group assignment group looked up from a map.
route "production" {
  match = alert.subscription == "11111111-1111-1111-1111-111111111111"
  to    = [backend.servicenow.demo]

  ticket {
    severity = min(alert.severity, 3)
    fields = {
      assignment_group = lookup({ "test-rg" = "App Team", "network-rg" = "Network" }, lower(alert.resource_group), "Cloud Ops")
      u_environment    = "production" # a custom column: ServiceNow declares the u_* family
    }
  }

  cmdb {
    create_missing = true # bind = true is the default inside a cmdb block
  }
}

# 4. Log alerts whose rule looks like a heartbeat check, by regular expression.
route "heartbeat" {
  match = alert.signal == "Log" && can(regex("(?i)heartbeat|availability", alert.rule))
  to    = [backend.jira.demo]
  group_by = [alert.rule]
}

# 5. Catch-all: everything else becomes a Jira issue.
route "default" {
  match = true
  to    = [backend.jira.demo]
}
