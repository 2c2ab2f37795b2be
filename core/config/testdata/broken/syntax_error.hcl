route "x" {
  match = alert.severity <=
}
