package main

import "syscall"

// setParentDeathSignal kills the child if the demo dies without cleaning up
// (SIGKILL). The signal is tied to the OS thread that started the child;
// the Go runtime does not end threads unless a goroutine locked to one
// exits, which the demo never does.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
