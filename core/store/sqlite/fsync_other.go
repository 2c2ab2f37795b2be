//go:build !linux

package sqlite

import "os"

// syncFile makes the WAL's written frames durable.
func syncFile(f *os.File) error { return f.Sync() }
