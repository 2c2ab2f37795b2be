package main

import "github.com/itsmbridge/itsmbridge/sdk"

func main() { sdk.Serve(New()) }
