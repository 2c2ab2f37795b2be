# Cherwell Service Management. Tickets are resolved when the alert resolves,
# and a fire after a resolve always opens a new ticket (reopen_within = "0s").

source "azure_monitor" "prod" {
  path = "/webhooks/azure/prod"
  azure_ad {
    tenants   = [env("AZURE_TENANT_ID")]
    audiences = ["api://itsmbridge"]
  }
}

backend "cherwell" "csm" {
  timeout = "60s" # Cherwell can be slow to save business objects

  config {
    url       = "https://cherwell.acme.example/CherwellAPI"
    client_id = env("CHERWELL_CLIENT_ID")
    username  = env("CHERWELL_USER")
    password  = env("CHERWELL_PASSWORD")
    # or from a mounted secret (file() is relative to this file's directory):
    # password = trimspace(file("/run/secrets/cherwell-password"))
  }
}

route "all" {
  match = true
  to    = [backend.cherwell.csm]

  lifecycle {
    resolve       = true
    reopen_within = "0s"
    on_repeat     = "ignore"
  }
}
