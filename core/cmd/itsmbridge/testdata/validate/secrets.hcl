server {
  admin_listen = "0.0.0.0:9090"
  admin_token  = env("ITSMBRIDGE_TEST_ADMIN_TOKEN")
}

store "postgres" {
  dsn = "postgres://bridge:pg-literal-pw@db/itsm"
}

source "azure_monitor" "prod" {
  path = "/webhooks/azure/prod"
  azure_ad {
    tenants   = ["00000000-0000-0000-0000-00000000a2e1"]
    audiences = ["api://itsmbridge"]
  }
}

backend "servicenow" "prod" {
  config {
    instance_url = "https://acme.service-now.com"
    username     = "bridge"
    password     = "snow-literal-pw"
    token        = "Bearer ${env("ITSMBRIDGE_TEST_API_TOKEN")}"
  }
}

route "all" {
  match = true
  to    = [backend.servicenow.prod]
  ticket {
    title = "alert ${alert.rule}"
  }
}
