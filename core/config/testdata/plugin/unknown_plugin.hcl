backend "nosuchplugin" "x" {
  config {
    anything = 1
  }
}
