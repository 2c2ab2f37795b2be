route "critical" {
  match = alert.severity <= 1
  to    = [backend.servicenow.prod]
}
