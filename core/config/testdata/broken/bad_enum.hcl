backend "jira" "ops" {}

store "mysql" {}

route "default" {
  match = true
  to    = [backend.jira.ops]
  lifecycle {
    on_repeat = "coment"
  }
}
