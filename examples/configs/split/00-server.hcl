# A configuration split over several files. itsmbridge loads every *.hcl file
# of the directory in file-name order; routes are evaluated in that order
# (file name, then position), hence the numeric prefixes.

server {
  listen       = "0.0.0.0:8080"
  admin_listen = "0.0.0.0:9090"
  admin_token  = env("ITSMBRIDGE_ADMIN_TOKEN") # required: admin_listen is not loopback
}

store "postgres" {
  dsn            = env("ITSMBRIDGE_PG_DSN")
  max_open_conns = 20
}

source "azure_monitor" "prod" {
  path = "/webhooks/azure/prod"
  azure_ad {
    tenants   = [env("AZURE_TENANT_ID")]
    audiences = ["api://itsmbridge", env("ITSMBRIDGE_CLIENT_ID")]
  }
}
