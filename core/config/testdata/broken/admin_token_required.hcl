server {
  listen       = "0.0.0.0:8080"
  admin_listen = "0.0.0.0:9090"
}
