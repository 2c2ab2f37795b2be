# A configuration for load runs against the sandbox (docs/bench/load.md):
# config.hcl's source without its rate limit, and one route that sends every
# alert to the ServiceNow emulator with no backend rate limit. Run it through
# the demo harness, which gives it a fresh store and the built plugins:
#
#   make build
#   bin/itsmbridge-sandbox demo -config examples/sandbox/bench.hcl -bin bin -keep &
#   bin/itsmbridge-sandbox load -rate max -duration 20s -connections 64 -distinct 20000 -baseline

server {
  listen       = "127.0.0.1:8080"
  admin_listen = "127.0.0.1:9090"
}

# Replaced by the demo harness with a store in a fresh temporary directory.
store "sqlite" {
  path = "bench-data/itsmbridge.db"
}

source "azure_monitor" "azure" {
  path = "/webhooks/azure"
  azure_ad {
    tenants   = ["00000000-0000-0000-0000-00000000a2e1"]
    audiences = ["api://itsmbridge"]
    authority = "http://127.0.0.1:18400"
  }
  rate_limit = 0 # unlimited: measure the ingress, not the limiter
}

backend "servicenow" "bench" {
  max_concurrency = 16
  rate_limit      = 0
  config {
    instance_url = "http://127.0.0.1:18401"
    username     = "sandbox"
    password     = "sandbox"
  }
}

route "all" {
  match = true
  to    = [backend.servicenow.bench]
}
