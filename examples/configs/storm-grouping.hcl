# Storm grouping: when a deployment breaks fifty VMs at once, Azure fires one
# alert per VM. group_by makes them share one ticket per rule, resource group
# and hour; the later alerts become comments on it (on_repeat = "comment").

source "azure_monitor" "prod" {
  path = "/webhooks/azure/prod"
  azure_ad {
    tenants   = [env("AZURE_TENANT_ID")]
    audiences = ["api://itsmbridge"]
  }
}

backend "servicenow" "prod" {
  config {
    instance_url = "https://acme.service-now.com"
    username     = env("SNOW_USER")
    password     = env("SNOW_PASSWORD")
  }
}

# Metric alerts on VMs: one ticket per rule, resource group and hour.
route "vm-storm" {
  match = alert.signal == "Metric" && alert.resource_type == "microsoft.compute/virtualmachines"
  to    = [backend.servicenow.prod]

  group_by = [
    alert.rule,
    lower(alert.resource_group),
    # The hour the alert fired, e.g. "2024-05-01T13"; try() keeps alerts
    # without a time in one group instead of failing.
    try(formatdate("YYYY-MM-DD'T'hh", alert.fired_at), ""),
  ]

  ticket {
    title = "[${alert.severity_name}] ${alert.rule} in resource group ${alert.resource_group}"
  }

  lifecycle {
    resolve       = false     # one resolved VM does not mean the storm is over
    on_repeat     = "comment" # every further VM is a comment on the ticket
    reopen_within = "1h"
  }
}

# Log alerts: one ticket per rule per day, whatever the resource.
route "log-storm" {
  match    = alert.signal == "Log"
  to       = [backend.servicenow.prod]
  group_by = [alert.rule, try(formatdate("YYYY-MM-DD", alert.fired_at), "")]
}

route "rest" {
  match = true
  to    = [backend.servicenow.prod]
}
