backend "jira" "ops" {
  max_age = "1 day"
}

route "default" {
  match = true
  to    = [backend.jira.ops]
  lifecycle {
    reopen_within = "24"
  }
}
