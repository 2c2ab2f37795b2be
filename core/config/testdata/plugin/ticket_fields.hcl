backend "servicenow" "prod" {
  config {
    instance_url = "https://acme.service-now.com"
    username     = "bridge"
    password     = "x"
  }
}

backend "strict" "one" {}

route "critical" {
  match = alert.severity <= 1
  to    = [backend.servicenow.prod]
  ticket {
    fields = {
      assignment_grup = "Cloud Ops"
      urgency         = "high"
    }
  }
}

route "strict" {
  match = true
  to    = [backend.strict.one]
}
