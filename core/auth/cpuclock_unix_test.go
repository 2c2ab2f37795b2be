//go:build unix

package auth

import (
	"syscall"
	"time"
)

// cpuTime is the process's CPU time (user + system). Benchmarks report it
// per operation next to wall time, because on a shared machine wall time
// mostly measures the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
