# The store forgets resolved tickets after 48h, but the route reopens them
# for a week; and 10m is below the minimum.
store "sqlite" {
  path      = "data/itsmbridge.db"
  retention = "48h"
}

backend "jira" "ops" {}

route "weekly" {
  match = true
  to    = [backend.jira.ops]
  lifecycle {
    reopen_within = "168h"
  }
}
