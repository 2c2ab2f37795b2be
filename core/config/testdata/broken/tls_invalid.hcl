server {
  listen       = "0.0.0.0:8443"
  admin_listen = "127.0.0.1:9090"
  tls {
    cert_file = "certs/missing.crt"
    key_file  = "certs/missing.key"
  }
  admin_tls {
    cert_file   = "certs/admin.crt"
    min_version = "1.1"
  }
}
