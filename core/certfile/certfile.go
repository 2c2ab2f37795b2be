// Package certfile serves a TLS certificate from PEM files and picks up a
// renewed pair without a restart: certificates are rotated in place by
// cert-manager, certbot and the like, and the listener must follow.
package certfile

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Load reads and checks a certificate and key pair (used to validate
// configuration before anything listens).
func Load(certFile, keyFile string) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		// The error names the files and the problem, never key material.
		return nil, fmt.Errorf("loading TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return &c, nil
}

// Source is a certificate pair read from files. GetCertificate serves the
// current pair; at most every CheckEvery it looks at the files'
// modification times and reloads the pair when either changed. A pair that
// fails to load (a rotation caught half-way, a bad renewal) is logged and
// the previous one served until the files are fixed.
type Source struct {
	log        hclog.Logger
	checkEvery time.Duration
	now        func() time.Time

	mu                sync.Mutex
	certFile, keyFile string
	cert              *tls.Certificate
	certMod, keyMod   time.Time
	checked           time.Time
	failedMod         [2]time.Time // the modification times of a pair that failed, not retried until they change
	statFailed        bool         // the files could not be checked (reported once until they can)
}

// CheckEvery is how often a Source looks at its files.
const CheckEvery = time.Second

// New loads the pair; it fails when the files do not hold a valid pair.
func New(certFile, keyFile string, log hclog.Logger) (*Source, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	s := &Source{log: log, checkEvery: CheckEvery, now: time.Now}
	if err := s.Set(certFile, keyFile); err != nil {
		return nil, err
	}
	return s, nil
}

// Set switches to another pair of files (a configuration reload) and loads
// it; on error the current pair stays.
func (s *Source) Set(certFile, keyFile string) error {
	cm, km, err := modTimes(certFile, keyFile)
	if err != nil {
		return err
	}
	c, err := Load(certFile, keyFile)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certFile, s.keyFile, s.cert = certFile, keyFile, c
	s.certMod, s.keyMod, s.checked = cm, km, s.now()
	s.failedMod = [2]time.Time{}
	return nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (s *Source) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if now := s.now(); now.Sub(s.checked) >= s.checkEvery {
		s.checked = now
		s.reloadLocked()
	}
	return s.cert, nil
}

// reloadLocked reloads the pair if its files changed since it was loaded.
func (s *Source) reloadLocked() {
	cm, km, err := modTimes(s.certFile, s.keyFile)
	if err != nil {
		if !s.statFailed {
			s.statFailed = true
			s.log.Warn("cannot check the TLS certificate files; serving the loaded certificate", "error", err)
		}
		return
	}
	s.statFailed = false
	if cm.Equal(s.certMod) && km.Equal(s.keyMod) {
		return
	}
	if s.failedMod == [2]time.Time{cm, km} {
		return // already reported
	}
	c, err := Load(s.certFile, s.keyFile)
	if err != nil {
		s.failedMod = [2]time.Time{cm, km}
		s.log.Error("the renewed TLS certificate does not load; serving the previous one", "error", err)
		return
	}
	s.cert, s.certMod, s.keyMod, s.failedMod = c, cm, km, [2]time.Time{}
	var notAfter time.Time
	if c.Leaf != nil {
		notAfter = c.Leaf.NotAfter
	}
	s.log.Info("TLS certificate reloaded", "cert_file", s.certFile, "not_after", notAfter)
}

func modTimes(certFile, keyFile string) (cert, key time.Time, err error) {
	ci, err := os.Stat(certFile)
	if err != nil {
		return cert, key, fmt.Errorf("TLS certificate: %w", err)
	}
	ki, err := os.Stat(keyFile)
	if err != nil {
		return cert, key, fmt.Errorf("TLS key: %w", err)
	}
	return ci.ModTime(), ki.ModTime(), nil
}
