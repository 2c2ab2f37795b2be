package auth

import (
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/auth/entratest"
)

func TestTokenCache(t *testing.T) {
	t.Run("hit serves the same claims", func(t *testing.T) {
		f := newFixture(t)
		tok := f.token(entratest.TokenOptions{})
		a := mustVerify(t, f.v, tok)
		b := mustVerify(t, f.v, tok)
		if a != b {
			t.Fatal("second Verify of the same token was not a cache hit")
		}
		if n := f.v.cache.len(); n != 1 {
			t.Fatalf("cache holds %d entries, want 1", n)
		}
	})

	t.Run("never past exp", func(t *testing.T) {
		f := newFixture(t)
		tok := f.token(entratest.TokenOptions{TTL: time.Minute})
		sum := tokenHash(tok)
		first := mustVerify(t, f.v, tok)
		if f.v.cache.get(sum, f.clock.Now()) == nil {
			t.Fatal("verified token not cached")
		}

		f.clock.Advance(time.Minute) // exactly exp: still valid with the skew, but not from the cache
		if f.v.cache.get(sum, f.clock.Now()) != nil {
			t.Fatal("cache served a token at its exp")
		}
		again := mustVerify(t, f.v, tok)
		if again == first {
			t.Fatal("claims came from the cache past exp")
		}
		if f.v.cache.get(sum, f.clock.Now()) != nil {
			t.Fatal("a token past its exp was cached again")
		}

		f.clock.Advance(DefaultClockSkewForTest + time.Second)
		mustRefuse(t, f.v, tok, ReasonExpired)
	})

	t.Run("bounded", func(t *testing.T) {
		f := newFixture(t, WithTokenCacheSize(3))
		for i := range 10 {
			mustVerify(t, f.v, f.token(entratest.TokenOptions{TTL: time.Duration(i+1) * time.Minute}))
			if n := f.v.cache.len(); n > 3 {
				t.Fatalf("cache holds %d entries, limit 3", n)
			}
		}
	})

	t.Run("expired entries make room first", func(t *testing.T) {
		f := newFixture(t, WithTokenCacheSize(2))
		short := f.token(entratest.TokenOptions{TTL: time.Minute})
		long := f.token(entratest.TokenOptions{TTL: time.Hour})
		mustVerify(t, f.v, short)
		mustVerify(t, f.v, long)
		f.clock.Advance(2 * time.Minute)
		third := f.token(entratest.TokenOptions{TTL: time.Hour, V1: true})
		mustVerify(t, f.v, third)
		now := f.clock.Now()
		if f.v.cache.get(tokenHash(long), now) == nil || f.v.cache.get(tokenHash(third), now) == nil {
			t.Fatal("a live entry was evicted while an expired one could go")
		}
	})

	t.Run("disabled", func(t *testing.T) {
		f := newFixture(t, WithTokenCacheSize(0))
		tok := f.token(entratest.TokenOptions{})
		if mustVerify(t, f.v, tok) == mustVerify(t, f.v, tok) {
			t.Fatal("cache hit with the cache disabled")
		}
	})

	t.Run("refusals are not cached", func(t *testing.T) {
		f := newFixture(t)
		mustRefuse(t, f.v, f.token(entratest.TokenOptions{Audience: "api://other"}), ReasonBadAudience)
		if n := f.v.cache.len(); n != 0 {
			t.Fatalf("cache holds %d entries after a refusal", n)
		}
	})
}

// DefaultClockSkewForTest is the skew Config.WithDefaults applies.
const DefaultClockSkewForTest = 5 * time.Minute
