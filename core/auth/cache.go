package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// tokenCache remembers verified tokens by the SHA-256 of the token, until
// their exp (never longer, whatever the skew) and only while the key that
// signed them is still published.
type tokenCache struct {
	mu  sync.Mutex
	max int
	m   map[[sha256.Size]byte]cacheEntry
}

type cacheEntry struct {
	claims *Claims
	exp    time.Time
	keys   *tenantKeys
	kid    string
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, m: make(map[[sha256.Size]byte]cacheEntry, min(max, 64))}
}

func (c *tokenCache) get(k [sha256.Size]byte, now time.Time) *Claims {
	c.mu.Lock()
	e, ok := c.m[k]
	if ok && !now.Before(e.exp) {
		delete(c.m, k)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return nil
	}
	// A key withdrawn from the JWKS takes its tokens with it.
	if s := e.keys.cur.Load(); s == nil || s.keys[e.kid] == nil {
		return nil
	}
	return e.claims
}

// put stores e; when full it drops expired entries, then arbitrary ones.
func (c *tokenCache) put(k [sha256.Size]byte, e cacheEntry, now time.Time) {
	if !now.Before(e.exp) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for key, old := range c.m {
			if !now.Before(old.exp) {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[k] = e
}

func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
