store "postgres" {
  dsn       = "postgres://localhost/itsmbridge"
  retention = "10m"
}
