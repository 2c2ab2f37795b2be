// Command refplugin serves the well-behaved reference plugin (kit tests).
package main

import (
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest/internal/refplugin"
)

func main() { sdk.Serve(refplugin.New(refplugin.Faults{})) }
