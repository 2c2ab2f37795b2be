# Routing table for the route-evaluation tests on the official samples.

source "azure_monitor" "test" {
  path = "/webhooks/azure/test"
  azure_ad {
    tenants   = ["00000000-0000-0000-0000-00000000a2e1"]
    audiences = ["api://itsmbridge"]
  }
}

backend "servicenow" "prod" {}
backend "jira" "ops" {}
backend "cherwell" "csm" {}

route "critical" {
  match    = alert.severity <= 1
  to       = [backend.servicenow.prod, backend.jira.ops]
  continue = true
}

# Reads the alert context; fails (→ counted, no match) on alerts whose context
# has no condition.windowSize.
route "window" {
  match    = alert.context.condition.windowSize == "PT10M"
  to       = [backend.jira.ops]
  continue = true
}

route "health" {
  match    = contains(["ServiceHealth", "Resource Health"], alert.service)
  to       = [backend.cherwell.csm]
  group_by = [alert.rule, alert.subscription]
  ticket {
    title = "${alert.service}: ${alert.rule}"
  }
}

route "storage" {
  match = alert.resource_type == "microsoft.storage/storageaccounts" && startswith(alert.rule, "test-")
  to    = [backend.servicenow.prod]
  ticket {
    severity = min(alert.severity, 3)
    fields = {
      owner   = lookup(alert.custom, "customKey1", "nobody")
      urgency = alert.severity
      empty   = null
    }
  }
}

route "logs" {
  match    = alert.signal == "Log" && can(regex("(?i)v2$", alert.service))
  to       = [backend.jira.ops]
  group_by = [alert.rule]
}

route "default" {
  match = true
  to    = [backend.jira.ops]
}
