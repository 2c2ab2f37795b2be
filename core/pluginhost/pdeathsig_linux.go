//go:build linux

package pluginhost

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal asks the kernel to SIGKILL the plugin when the host
// dies, so a SIGKILLed host leaves no orphans (go-plugin #31, spire#93).
// sdk.Serve also watches its parent, because Pdeathsig is tied to the OS
// thread that forked the child.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
