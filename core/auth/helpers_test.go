package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/auth/entratest"
)

const (
	tenantA     = "8f2c9a61-4d3b-4c8e-9f1a-2b7e6d5c4a39"
	tenantB     = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
	tenantOther = "c0ffee00-1234-4abc-8def-0123456789ab"
	audURI      = "api://itsmbridge"
	clientID    = "5d3c2b1a-0f9e-4d8c-b7a6-958473625140"
)

// testClock is a settable clock for WithClock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fixture is a Verifier wired to a real local Entra stand-in over HTTP.
type fixture struct {
	t     testing.TB
	entra *entratest.Server
	url   string
	clock *testClock
	v     *Verifier
}

func newFixture(t testing.TB, opts ...Option) *fixture {
	t.Helper()
	e := entratest.New()
	url := e.Start()
	t.Cleanup(e.Close)
	f := &fixture{t: t, entra: e, url: url, clock: &testClock{t: time.Now().Truncate(time.Second)}}
	f.v = f.newVerifier(opts...)
	return f
}

func (f *fixture) config() Config {
	return Config{Tenants: []string{tenantA, tenantB}, Audiences: []string{audURI, clientID}, Authority: f.url}
}

func (f *fixture) newVerifier(opts ...Option) *Verifier {
	f.t.Helper()
	v, err := NewVerifier(f.config(), append([]Option{WithClock(f.clock.Now)}, opts...)...)
	if err != nil {
		f.t.Fatalf("NewVerifier: %v", err)
	}
	f.t.Cleanup(v.Close)
	return v
}

// token signs an action group token; Tenant defaults to tenantA, Audience
// to audURI, Now to the fixture's clock.
func (f *fixture) token(o entratest.TokenOptions) string {
	f.t.Helper()
	if o.Tenant == "" {
		o.Tenant = tenantA
	}
	if o.Audience == "" {
		o.Audience = audURI
	}
	if o.Now.IsZero() {
		o.Now = f.clock.Now()
	}
	tok, err := f.entra.ActionGroupToken(o)
	if err != nil {
		f.t.Fatalf("ActionGroupToken: %v", err)
	}
	return tok
}

func b64(v any) string {
	var raw []byte
	switch v := v.(type) {
	case string:
		raw = []byte(v)
	default:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			panic(err)
		}
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

// parts splits a compact JWS.
func parts(tok string) (header, payload, sig string) {
	p := strings.Split(tok, ".")
	return p[0], p[1], p[2]
}

// payloadOf decodes a token's claims.
func payloadOf(t testing.TB, tok string) map[string]any {
	t.Helper()
	_, p, _ := parts(tok)
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// selfSignedDER makes a certificate for key, for x5c injection.
func selfSignedDER(t testing.TB, key *rsa.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(42),
		Subject:      pkix.Name{CommonName: "attacker"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func bg() context.Context { return context.Background() }

// newBlockingServer serves e's handler on 127.0.0.1, each request waiting
// until block is closed.
func newBlockingServer(t testing.TB, e *entratest.Server, block <-chan struct{}) string {
	t.Helper()
	h := e.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// nOf returns the modulus of some key in m, base64url-encoded.
func nOf(m map[string]*rsa.PublicKey) string {
	for _, k := range m {
		return base64.RawURLEncoding.EncodeToString(k.N.Bytes())
	}
	return ""
}
