backend "servicenow" "prod" {
  config {
    instance_url = "https://acme.service-now.com"
    usernme      = "bridge"
    password     = "hunter2-literal"
  }
}
