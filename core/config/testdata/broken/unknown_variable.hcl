backend "jira" "ops" {}

route "critical" {
  match = severity <= 1 && alert.sevrity <= 1
  to    = [backend.jira.ops]
}
