# Severity-based fan-out:
#   Sev0, Sev1 → ServiceNow (paged team) AND Jira (engineering follow-up)
#   Sev2       → ServiceNow
#   Sev3, Sev4 → Jira only

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

backend "jira" "eng" {
  config {
    url       = "https://acme.atlassian.net"
    username  = env("JIRA_USER")
    api_token = env("JIRA_API_TOKEN")
    project   = "ENG"
  }
}

# One route, two backends: each gets its own ticket (the ticket key includes
# the backend).
route "sev0-1" {
  match = alert.severity <= 1
  to    = [backend.servicenow.prod, backend.jira.eng]

  ticket {
    title = "[${alert.severity_name}] ${alert.rule} on ${coalesce(alert.resource_name, alert.subscription)}"
    fields = {
      assignment_group = "Cloud Ops On-Call"
    }
  }
  cmdb {}
}

route "sev2" {
  match = alert.severity == 2
  to    = [backend.servicenow.prod]
  ticket {
    fields = { assignment_group = "Cloud Ops" }
  }
}

route "low" {
  match = alert.severity >= 3
  to    = [backend.jira.eng]
  lifecycle {
    on_repeat = "ignore" # low-severity repeats only add noise
  }
}
