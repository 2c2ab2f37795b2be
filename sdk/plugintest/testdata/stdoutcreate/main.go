// Command stdoutcreate prints to stdout while serving a Create call; the kit
// must catch it.
package main

import (
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest/internal/refplugin"
)

func main() { sdk.Serve(refplugin.New(refplugin.Faults{PrintStdout: true})) }
