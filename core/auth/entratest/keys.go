package entratest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// signingKey is an RSA key with the self-signed certificate Entra publishes
// with it (x5c) and its thumbprint, which Entra uses as both kid and x5t.
type signingKey struct {
	priv *rsa.PrivateKey
	cert []byte // DER
	kid  string // base64url(SHA-1(cert)), like Entra's
}

// Keys are expensive to make (RSA 2048 takes ~100 ms, more under -race), so
// they come from a process-wide pool: the n-th key any Server uses is the
// same key. Servers stay independent; tests stay fast.
var pool struct {
	mu      sync.Mutex
	keys    []*signingKey
	foreign *rsa.PrivateKey
}

func poolKey(i int) (*signingKey, error) {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	for len(pool.keys) <= i {
		k, err := newSigningKey()
		if err != nil {
			return nil, err
		}
		pool.keys = append(pool.keys, k)
	}
	return pool.keys[i], nil
}

func newSigningKey() (*signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("entratest: generating RSA key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, fmt.Errorf("entratest: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "accounts.accesscontrol.windows.net"},
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("entratest: self-signed certificate: %w", err)
	}
	sum := sha1.Sum(der)
	return &signingKey{priv: priv, cert: der, kid: base64.RawURLEncoding.EncodeToString(sum[:])}, nil
}

// ForeignKey returns an RSA 2048 key that no Server publishes (one per
// process), for tokens an attacker would sign.
func ForeignKey() *rsa.PrivateKey {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if pool.foreign == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic("entratest: generating RSA key: " + err.Error())
		}
		pool.foreign = k
	}
	return pool.foreign
}
