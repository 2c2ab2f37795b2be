source "azure_monitor" "prod" {
  path = "/webhooks/azure/prod"
  azure_ad {
    tenants   = ["00000000-0000-0000-0000-00000000a2e1"]
    audiences = ["api://itsmbridge"]
  }
  allowed_subscriptions = ["22222222-2222-2222-2222-222222222222"]
}

backend "servicenow" "prod" {
  config {
    password = env("ITSMBRIDGE_TEST_SNOW_PW", "not-a-secret")
  }
}
backend "jira" "ops" {}

route "storage" {
  match    = alert.resource_type == "microsoft.storage/storageaccounts"
  to       = [backend.servicenow.prod, backend.jira.ops]
  continue = true
  ticket {
    title  = "Storage: ${alert.resource_name}"
    fields = { assignment_group = "Storage", token = env("ITSMBRIDGE_TEST_FIELD_SECRET") }
  }
  cmdb {}
}

route "metric" {
  match = alert.context.condition.windowSize == "PT5M" # errors when the context has no condition
  to    = [backend.jira.ops]
}

route "rest" {
  match = alert.severity <= 1
  to    = [backend.jira.ops]
}
