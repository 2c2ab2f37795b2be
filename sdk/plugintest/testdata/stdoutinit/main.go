// Command stdoutinit prints to stdout before the handshake, as a dependency
// printing in init() would (go-plugin #199); the kit must catch it.
package main

import (
	"fmt"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest/internal/refplugin"
)

func init() { fmt.Println("hello from init") }

func main() { sdk.Serve(refplugin.New(refplugin.Faults{})) }
