# One ServiceNow instance for every alert, with CMDB binding.

source "azure_monitor" "prod" {
  path = "/webhooks/azure/prod"
  azure_ad {
    tenants   = [env("AZURE_TENANT_ID")]
    audiences = ["api://itsmbridge"]
  }
}

backend "servicenow" "prod" {
  # sha256 = "…"   # pin the plugin binary: sha256sum bin/plugins/itsmbridge-plugin-servicenow
  max_concurrency = 8
  rate_limit      = 20

  config {
    instance_url = "https://acme.service-now.com"
    username     = env("SNOW_USER")
    password     = env("SNOW_PASSWORD")
  }
}

route "all" {
  match = true
  to    = [backend.servicenow.prod]

  ticket {
    fields = {
      assignment_group = "Cloud Operations"
      category         = "software"
    }
  }

  cmdb {
    bind           = true
    create_missing = true # register Azure resources the CMDB does not know yet
  }
}
