package dispatch

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
)

// DefaultOwner is a lease owner unique to this process incarnation
// (host/pid/random), so a restarted process never mistakes an old lease for
// its own.
func DefaultOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
