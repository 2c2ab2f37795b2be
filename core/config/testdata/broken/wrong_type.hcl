server {
  max_body_bytes = "lots"
}
