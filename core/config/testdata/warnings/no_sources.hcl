backend "jira" "ops" {}

route "all" {
  match = alert.severity >= 0 || true
  to    = [backend.jira.ops]
}
