backend "servicenow" "prod" {}
backend "jira" "ops" {}

route "critical" {
  match = alert.severity <= 1
  to    = [backend.servicenow.prd, backend.jira.operations]
}
