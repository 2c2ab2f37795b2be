backend "servicenow" "prod" {
  config {
    instance_url = "https://acme.service-now.com"
    username     = env("SNOW_USER")
    password     = env("SNOW_PASSWORD")
  }
}

backend "jira" "ops" {
  config {
    url       = "https://acme.atlassian.net"
    username  = env("JIRA_USER")
    api_token = env("JIRA_API_TOKEN")
    project   = "OPS"
  }
}
