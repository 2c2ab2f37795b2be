package certfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/certfile/certtest"
)

// served returns the serial number of the certificate s serves now.
func served(t *testing.T, s *Source) int64 {
	t.Helper()
	c, err := s.GetCertificate(nil)
	if err != nil || c == nil || c.Leaf == nil {
		t.Fatalf("GetCertificate = %v, %v", c, err)
	}
	return c.Leaf.SerialNumber.Int64()
}

// TestRotation: a renewed pair is served after the next check; a broken
// renewal keeps the previous pair (and is reported once); fixing it is
// picked up.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	certtest.Write(t, cert, key, 1)
	var logs strings.Builder
	s, err := New(cert, key, hclog.New(&hclog.LoggerOptions{Output: &logs}))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s.now = func() time.Time { return now }
	tick := func() { now = now.Add(CheckEvery) }
	// Files are rewritten within one tick in these tests: make each write
	// visibly newer, as a real rotation (seconds apart at least) is.
	bump := func(paths ...string) {
		for _, p := range paths {
			mt := now.Add(time.Minute)
			if err := os.Chtimes(p, mt, mt); err != nil {
				t.Fatal(err)
			}
		}
		now = now.Add(time.Minute)
	}

	if got := served(t, s); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}
	certtest.Write(t, cert, key, 2)
	bump(cert, key)
	if got := served(t, s); got != 2 {
		t.Fatalf("after rotation: serial %d, want 2", got)
	}

	// A broken renewal: the certificate of pair 3, the key of pair 2's
	// files overwritten with garbage.
	certtest.Write(t, cert, filepath.Join(dir, "other.key"), 3)
	if err := os.WriteFile(key, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	bump(cert, key)
	if got := served(t, s); got != 2 {
		t.Fatalf("after a broken renewal: serial %d, want the previous 2", got)
	}
	tick()
	served(t, s)
	if n := strings.Count(logs.String(), "does not load"); n != 1 {
		t.Errorf("the broken renewal was reported %d times, want once:\n%s", n, logs.String())
	}

	certtest.Write(t, cert, key, 4)
	bump(cert, key)
	if got := served(t, s); got != 4 {
		t.Fatalf("after fixing the renewal: serial %d, want 4", got)
	}

	// Files gone (a secret unmounted): the loaded pair stays, reported once.
	if err := os.Remove(key); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		tick()
		if got := served(t, s); got != 4 {
			t.Fatalf("with the key file gone: serial %d, want 4", got)
		}
	}
	if n := strings.Count(logs.String(), "cannot check"); n != 1 {
		t.Errorf("missing files reported %d times, want once:\n%s", n, logs.String())
	}
}

func TestNewRefusesBadPairs(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if _, err := New(cert, key, nil); err == nil || !strings.Contains(err.Error(), "tls.crt") {
		t.Errorf("missing files: %v", err)
	}
	certtest.Write(t, cert, key, 1)
	certtest.Write(t, filepath.Join(dir, "b.crt"), filepath.Join(dir, "b.key"), 2)
	if _, err := New(cert, filepath.Join(dir, "b.key"), nil); err == nil || !strings.Contains(err.Error(), "private key does not match") {
		t.Errorf("mismatched key: %v", err)
	}
}
