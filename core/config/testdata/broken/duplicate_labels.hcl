backend "jira" "ops" {}
backend "jira" "ops" {}

route "default" {
  match = true
  to    = [backend.jira.ops]
}

route "default" {
  match = false
  to    = [backend.jira.ops]
}
