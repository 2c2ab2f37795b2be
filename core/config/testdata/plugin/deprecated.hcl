backend "servicenow" "prod" {
  config {
    instance_url = "https://acme.service-now.com"
    username     = "bridge"
    password     = "x"
    old_field    = "still here"
  }
}
