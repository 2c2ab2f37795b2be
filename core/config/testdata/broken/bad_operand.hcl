backend "jira" "ops" {}

route "critical" {
  match = alert.severity <= "high"
  to    = [backend.jira.ops]
  ticket {
    severity = 7
    fields   = { labels = alert.targets }
  }
}
