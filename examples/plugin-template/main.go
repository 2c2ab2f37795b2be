package main

import "github.com/itsmbridge/itsmbridge/sdk"

// main must do nothing but call sdk.Serve: anything printed to stdout before
// the handshake breaks the plugin start (go-plugin #199).
func main() { sdk.Serve(New()) }
