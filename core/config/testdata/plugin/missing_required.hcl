backend "servicenow" "prod" {
  config {
    instance_url = "https://acme.service-now.com"
    username     = "bridge"
  }
}

backend "servicenow" "empty" {
}
