server {
  admin_listen = "0.0.0.0:9090"
  admin_token  = env("ITSMBRIDGE_TEST_UNSET")
}
