# Per-subscription routing: production and development subscriptions go to
# different backends. Each environment's action group posts to its own source;
# a source only accepts alerts from its own subscriptions.

source "azure_monitor" "prod" {
  path = "/webhooks/azure/prod"
  azure_ad {
    tenants   = [env("AZURE_TENANT_ID")]
    audiences = ["api://itsmbridge"]
  }
  allowed_subscriptions = [
    "11111111-1111-1111-1111-111111111111", # prod-core
    "22222222-2222-2222-2222-222222222222", # prod-data
  ]
}

source "azure_monitor" "dev" {
  path = "/webhooks/azure/dev"
  azure_ad {
    tenants   = [env("AZURE_TENANT_ID")]
    audiences = ["api://itsmbridge"]
  }
  allowed_subscriptions = ["33333333-3333-3333-3333-333333333333"]
  rate_limit            = 20 # dev may be noisy; keep it from starving prod
}

backend "servicenow" "prod" {
  config {
    instance_url = "https://acme.service-now.com"
    username     = env("SNOW_USER")
    password     = env("SNOW_PASSWORD")
  }
}

backend "jira" "dev" {
  config {
    url       = "https://acme.atlassian.net"
    username  = env("JIRA_USER")
    api_token = env("JIRA_API_TOKEN")
    project   = "DEV"
  }
}

route "prod-data" {
  match = alert.subscription == "22222222-2222-2222-2222-222222222222"
  to    = [backend.servicenow.prod]
  ticket {
    fields = { assignment_group = "Data Platform" }
  }
}

route "prod" {
  match = alert.source == "prod"
  to    = [backend.servicenow.prod]
  ticket {
    fields = { assignment_group = "Cloud Ops" }
  }
  cmdb {}
}

route "dev" {
  match = alert.source == "dev"
  to    = [backend.jira.dev]
  lifecycle {
    resolve = true
  }
}
