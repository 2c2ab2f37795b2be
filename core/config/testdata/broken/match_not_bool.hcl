backend "jira" "ops" {}

route "by-rule" {
  match = alert.rule
  to    = [backend.jira.ops]
}
