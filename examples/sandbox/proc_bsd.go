//go:build unix && !linux

package main

import "syscall"

// setParentDeathSignal is Linux-only; elsewhere the plugins' own parent
// watch and the demo's cleanup have to do.
func setParentDeathSignal(*syscall.SysProcAttr) {}
