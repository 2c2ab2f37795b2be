backend "jira" "ops" {}

route "web" {
  match = can(regex("web-[0-9+", alert.resource_name))
  to    = [backend.jira.ops]
}
