# Jira Service Management: every alert becomes a request in the OPS service
# project; the team comes from the resource group.

source "azure_monitor" "prod" {
  path = "/webhooks/azure/prod"
  azure_ad {
    tenants   = [env("AZURE_TENANT_ID")]
    audiences = ["api://itsmbridge"]
  }
}

backend "jira" "ops" {
  config {
    url       = "https://acme.atlassian.net"
    username  = env("JIRA_USER") # the account's e-mail address
    api_token = env("JIRA_API_TOKEN")
    project   = "OPS"
  }
}

route "all" {
  match = true
  to    = [backend.jira.ops]

  ticket {
    title = "${alert.severity_name} ${alert.rule}: ${coalesce(alert.resource_name, "(no resource)")}"
  }

  lifecycle {
    resolve       = true
    reopen_within = "4h"
    on_repeat     = "comment"
  }
}
