//go:build unix

package main

import (
	"errors"
	"os/exec"
	"syscall"
)

// isolate puts the child in its own process group, so a terminal's Ctrl-C
// reaches only the demo (which then stops the child in order) and so the
// child's plugins can be killed with it.
func isolate(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setParentDeathSignal(cmd.SysProcAttr)
}

// terminate asks the child alone to stop (it then stops its plugins).
func terminate(cmd *exec.Cmd) error { return cmd.Process.Signal(syscall.SIGTERM) }

// killGroup kills the child's whole process group: the child and anything
// it started that is still alive. Only processes this demo started are in
// that group.
func killGroup(cmd *exec.Cmd) error {
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}
