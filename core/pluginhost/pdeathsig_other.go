//go:build !linux

package pluginhost

import "os/exec"

// setParentDeathSignal is a no-op off Linux; sdk.Serve's parent watch covers it.
func setParentDeathSignal(*exec.Cmd) {}
