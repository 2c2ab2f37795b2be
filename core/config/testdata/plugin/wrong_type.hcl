backend "servicenow" "prod" {
  config {
    instance_url    = "https://acme.service-now.com"
    username        = "bridge"
    password        = env("SNOW_PASSWORD")
    timeout_seconds = "soon"
    oauth {
      client_id = ["a", "b"]
    }
  }
}
