package bridge

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/certfile/certtest"
)

// TestListenersServeTLS: with tls and admin_tls blocks, the ingress takes
// signed alerts over HTTPS and the admin API answers over HTTPS; a renewed
// certificate written over the files is served without a restart, and so
// is a reload to other files; a reload that would turn TLS off is refused.
func TestListenersServeTLS(t *testing.T) {
	e := newTestEnv(t)
	cert, key := filepath.Join(e.dir, "tls.crt"), filepath.Join(e.dir, "tls.key")
	first := certtest.Write(t, cert, key, 1)
	e.serverAttrs = fmt.Sprintf(`
  tls {
    cert_file = %q
    key_file  = %q
  }
  admin_tls {
    cert_file   = %q
    key_file    = %q
    min_version = "1.3"
  }`, cert, key, cert, key)
	e.writeConfig("", "127.0.0.1:0", "127.0.0.2:0")
	b := e.start()

	pool := x509.NewCertPool()
	pool.AddCert(first)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()

	req, _ := http.NewRequest(http.MethodPost, "https://"+b.Addr("ingress")+"/hook", bytes.NewReader(metricAlert(t, 1, true)))
	req.Header.Set("Authorization", "Bearer "+e.token())
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST over HTTPS: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST over HTTPS: %d, want 202", resp.StatusCode)
	}
	if code, err := post(t, "http://"+b.Addr("ingress")+"/hook", e.token(), metricAlert(t, 2, true)); err == nil && code == http.StatusAccepted {
		t.Fatal("plain HTTP to the TLS ingress was accepted")
	}

	// The admin listener requires TLS 1.3.
	resp, err = client.Get("https://" + b.Addr("admin") + "/healthz")
	if err != nil {
		t.Fatalf("admin over HTTPS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS.Version != tls.VersionTLS13 {
		t.Fatalf("admin /healthz: %d over TLS %x, want 200 over TLS 1.3", resp.StatusCode, resp.TLS.Version)
	}
	old := &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12}
	if c, err := tls.Dial("tcp", b.Addr("admin"), old); err == nil {
		c.Close()
		t.Fatal("the admin listener accepted TLS 1.2 with min_version 1.3")
	}

	// Renewal: a new pair in place of the files, picked up by new
	// connections (the files are checked at most every second).
	renewed := certtest.Write(t, cert, key, 2)
	pool.AddCert(renewed)
	deadline := time.Now().Add(15 * time.Second) // a hang guard, not a timing assertion
	for {
		c, err := tls.Dial("tcp", b.Addr("ingress"), &tls.Config{RootCAs: pool})
		if err != nil {
			t.Fatalf("dial after renewal: %v", err)
		}
		serial := c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
		c.Close()
		if serial == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the renewed certificate was never served")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A reload may point at other files: served at once.
	cert3, key3 := filepath.Join(e.dir, "tls3.crt"), filepath.Join(e.dir, "tls3.key")
	pool.AddCert(certtest.Write(t, cert3, key3, 3))
	e.serverAttrs = strings.ReplaceAll(strings.ReplaceAll(e.serverAttrs, cert, cert3), key, key3)
	e.writeConfig("", "127.0.0.1:0", "127.0.0.2:0") // the addresses it started with
	if res := b.Reload(context.Background()); !res.OK {
		t.Fatalf("reload to new certificate files: %+v", res)
	}
	c, err := tls.Dial("tcp", b.Addr("ingress"), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatalf("dial after the reload: %v", err)
	}
	if serial := c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); serial != 3 {
		t.Errorf("after a reload to new files: serial %d served, want 3", serial)
	}
	c.Close()

	// Turning TLS off needs a restart: the reload is refused and HTTPS stays.
	e.serverAttrs = ""
	e.writeConfig("", "127.0.0.1:0", "127.0.0.2:0") // the addresses it started with
	res := b.Reload(context.Background())
	if res.OK || !strings.Contains(res.Diagnostics, "TLS was turned on or off") {
		t.Fatalf("reload turning TLS off = %+v; want refused, asking for a restart", res)
	}
	resp, err = client.Get("https://" + b.Addr("admin") + "/healthz")
	if err != nil {
		t.Fatalf("admin over HTTPS after the refused reload: %v", err)
	}
	resp.Body.Close()
}
