# Evaluated last: 90 sorts after every other file.
route "default" {
  match = true
  to    = [backend.jira.ops]
}
