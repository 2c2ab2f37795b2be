server {
  admin_token = env("ITSMBRIDGE_TEST_ADMIN_TOKEN")
}

backend "servicenow" "prod" {
  config {
    instance_url = "https://acme.service-now.com"
    username     = "bridge"
    password     = "snow-literal-pw"
    token        = tonumber(env("ITSMBRIDGE_TEST_API_TOKEN"))
  }
}

route "all" {
  match = alert.severity <= tonumber(env("ITSMBRIDGE_TEST_ADMIN_TOKEN"))
  to    = [backend.servicenow.prod]
}
