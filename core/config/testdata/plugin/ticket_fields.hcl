backend "servicenow" "prod" {
  config {
    instance_url = "https://acme.service-now.com"
    username     = "bridge"
    password     = "s3cr3t-pa55"
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
      u_              = "the family needs more than its prefix"
      u_count_hosts   = "many"
      x_environment   = "prod"
    }
  }
}

route "strict" {
  match = true
  to    = [backend.strict.one]
}
