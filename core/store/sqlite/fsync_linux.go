package sqlite

import (
	"os"
	"syscall"
)

// syncFile makes the WAL's written frames durable. fdatasync, as SQLite
// itself uses on Linux: once the WAL is being reused after a checkpoint,
// its size does not change, and fsync would also write the inode (only
// its modification time changed) through the file system journal.
func syncFile(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			if err != nil {
				return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
			}
			return nil
		}
	}
}
