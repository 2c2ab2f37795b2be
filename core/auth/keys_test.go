package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/auth/entratest"
)

// fetchesPerRefresh: a refresh reads the v2 and v1 discovery documents and
// the two JWKS they point to (/{tenant}/discovery/v2.0/keys and
// /common/discovery/keys, as Entra's do).
const fetchesPerRefresh = 2

func mustVerify(t *testing.T, v *Verifier, tok string) *Claims {
	t.Helper()
	c, err := v.Verify(bg(), "Bearer "+tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return c
}

func mustRefuse(t *testing.T, v *Verifier, tok, reason string) error {
	t.Helper()
	_, err := v.Verify(bg(), "Bearer "+tok)
	if got := ReasonOf(err); got != reason {
		t.Fatalf("Verify: reason %q (%v), want %q", got, err, reason)
	}
	return err
}

func TestKeyRotation(t *testing.T) {
	t.Run("old key dropped", func(t *testing.T) {
		f := newFixture(t)
		oldTok := f.token(entratest.TokenOptions{})
		mustVerify(t, f.v, oldTok)
		if got := f.entra.Stats().JWKS; got != fetchesPerRefresh {
			t.Fatalf("JWKS fetches after first token = %d, want %d", got, fetchesPerRefresh)
		}

		newKID, err := f.entra.Rotate(false)
		if err != nil {
			t.Fatal(err)
		}
		newTok := f.token(entratest.TokenOptions{})
		c := mustVerify(t, f.v, newTok) // unknown kid → forced refresh → accepted
		if c.KeyID != newKID {
			t.Fatalf("kid = %s, want %s", c.KeyID, newKID)
		}
		if got := f.entra.Stats().JWKS; got != 2*fetchesPerRefresh {
			t.Fatalf("JWKS fetches = %d, want %d (one forced refresh)", got, 2*fetchesPerRefresh)
		}
		// The old token was cached, but its key is gone: refused.
		mustRefuse(t, f.v, oldTok, ReasonUnknownKID)
	})
	t.Run("old key kept", func(t *testing.T) {
		f := newFixture(t)
		oldTok := f.token(entratest.TokenOptions{V1: true})
		mustVerify(t, f.v, oldTok)
		if _, err := f.entra.Rotate(true); err != nil {
			t.Fatal(err)
		}
		mustVerify(t, f.v, f.token(entratest.TokenOptions{V1: true}))
		mustVerify(t, f.v, oldTok)
		if kids := f.entra.KeyIDs(); len(kids) != 2 {
			t.Fatalf("published kids = %v", kids)
		}
	})
}

func TestUnknownKIDFloodIsRateLimited(t *testing.T) {
	f := newFixture(t)
	claims := payloadOf(t, f.token(entratest.TokenOptions{}))
	const flood = 200
	toks := make([]string, flood)
	for i := range toks {
		tok, err := f.entra.Sign(claims, map[string]any{"kid": fmt.Sprintf("bogus-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		toks[i] = tok
	}
	attack := func() {
		var wg sync.WaitGroup
		for _, tok := range toks {
			wg.Go(func() {
				_, err := f.v.Verify(bg(), "Bearer "+tok)
				if ReasonOf(err) != ReasonUnknownKID {
					t.Errorf("bogus kid: %v", err)
				}
			})
		}
		wg.Wait()
	}

	attack()
	// The first fetch plus one forced refresh, whatever the flood.
	if got := f.entra.Stats().JWKS; got != 2*fetchesPerRefresh {
		t.Fatalf("JWKS fetches after %d bogus kids = %d, want %d", flood, got, 2*fetchesPerRefresh)
	}
	attack()
	if got := f.entra.Stats().JWKS; got != 2*fetchesPerRefresh {
		t.Fatalf("JWKS fetches after a second flood in the same interval = %d, want %d", got, 2*fetchesPerRefresh)
	}
	f.clock.Advance(DefaultMinRefreshInterval)
	attack()
	if got := f.entra.Stats().JWKS; got != 3*fetchesPerRefresh {
		t.Fatalf("JWKS fetches after the interval = %d, want %d", got, 3*fetchesPerRefresh)
	}
	// Genuine tokens are unaffected.
	mustVerify(t, f.v, f.token(entratest.TokenOptions{}))
}

func TestTenantNotAllowedFetchesNothing(t *testing.T) {
	f := newFixture(t)
	mustRefuse(t, f.v, f.token(entratest.TokenOptions{Tenant: tenantOther}), ReasonTenantNotAllowed)
	if st := f.entra.Stats(); st.Discovery != 0 || st.JWKS != 0 {
		t.Fatalf("stand-in saw %+v for a tenant that is not configured", st)
	}
}

func TestDiscoveryDown(t *testing.T) {
	t.Run("without cached keys", func(t *testing.T) {
		f := newFixture(t)
		f.entra.SetDown(503)
		tok := f.token(entratest.TokenOptions{})
		err := mustRefuse(t, f.v, tok, ReasonKeysUnavailable)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%v does not match ErrUnavailable", err)
		}
		// Requests do not hammer a failing Entra.
		before := f.entra.Stats()
		mustRefuse(t, f.v, tok, ReasonKeysUnavailable)
		if after := f.entra.Stats(); after != before {
			t.Fatalf("retried at once: %+v → %+v", before, after)
		}
		f.entra.SetDown(0)
		f.clock.Advance(retryEmptyInterval)
		mustVerify(t, f.v, tok)
	})
	t.Run("with cached keys", func(t *testing.T) {
		f := newFixture(t, WithTokenCacheSize(0))
		tok := f.token(entratest.TokenOptions{})
		mustVerify(t, f.v, tok)
		f.entra.SetDown(500)
		mustVerify(t, f.v, tok)                                       // last good keys
		mustVerify(t, f.v, f.token(entratest.TokenOptions{V1: true})) // another token, same keys

		// A new kid while Entra is down cannot be decided: 503, not 401.
		if _, err := f.entra.Rotate(true); err != nil {
			t.Fatal(err)
		}
		rotated := f.token(entratest.TokenOptions{})
		err := mustRefuse(t, f.v, rotated, ReasonKeysUnavailable)
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%v does not match ErrUnavailable", err)
		}
		// Still within the forced-refresh interval and still failing: 503 again.
		mustRefuse(t, f.v, rotated, ReasonKeysUnavailable)
		mustVerify(t, f.v, tok)

		f.entra.SetDown(0)
		f.clock.Advance(DefaultMinRefreshInterval)
		mustVerify(t, f.v, rotated)
	})
}

func TestBackgroundRefresh(t *testing.T) {
	f := newFixture(t, WithRefreshInterval(20*time.Millisecond), WithTokenCacheSize(0))
	ctx, cancel := context.WithTimeout(bg(), 20*time.Second)
	defer cancel()
	tok := f.token(entratest.TokenOptions{})
	mustVerify(t, f.v, tok)

	// Failing background refreshes keep the last good keys.
	f.entra.SetDown(503)
	n := f.entra.Stats().Discovery + 2*fetchesPerRefresh
	if err := f.entra.Wait(ctx, func(s entratest.Stats) bool { return s.Discovery >= n }); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, f.v, tok)

	// A rotation is picked up without any token asking for it.
	f.entra.SetDown(0)
	kid, err := f.entra.Rotate(false)
	if err != nil {
		t.Fatal(err)
	}
	// Two more full cycles guarantee one started after the rotation and
	// finished (a cycle starts only when the previous one is stored).
	n = f.entra.Stats().JWKS + 2*fetchesPerRefresh
	if err := f.entra.Wait(ctx, func(s entratest.Stats) bool { return s.JWKS >= n }); err != nil {
		t.Fatal(err)
	}
	snap := f.v.keys.tenant(f.v.authority, tenantA).cur.Load()
	if snap == nil || snap.keys[kid] == nil {
		t.Fatalf("background refresh did not pick up kid %s", kid)
	}
	mustRefuse(t, f.v, tok, ReasonUnknownKID) // old key gone (forced refresh allowed, finds nothing)
}

func TestSharedKeySets(t *testing.T) {
	f := newFixture(t)
	ks := NewKeySets(WithClock(f.clock.Now))
	defer ks.Close()
	a := f.newVerifier(WithKeySets(ks))
	cfg := f.config()
	cfg.Audiences = []string{clientID}
	b, err := NewVerifier(cfg, WithKeySets(ks), WithClock(f.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	mustVerify(t, a, f.token(entratest.TokenOptions{}))
	mustVerify(t, b, f.token(entratest.TokenOptions{Audience: clientID}))
	mustRefuse(t, b, f.token(entratest.TokenOptions{}), ReasonBadAudience)
	if got := f.entra.Stats().JWKS; got != fetchesPerRefresh {
		t.Fatalf("JWKS fetches for two sources of one tenant = %d, want %d", got, fetchesPerRefresh)
	}
	b.Close() // must not close the shared cache
	mustVerify(t, a, f.token(entratest.TokenOptions{V1: true}))
}

func TestWarm(t *testing.T) {
	f := newFixture(t)
	if err := f.v.Warm(bg()); err != nil {
		t.Fatalf("Warm: %v", err)
	}
	if got := f.entra.Stats().JWKS; got != 2*fetchesPerRefresh { // two tenants
		t.Fatalf("JWKS fetches = %d, want %d", got, 2*fetchesPerRefresh)
	}
	mustVerify(t, f.v, f.token(entratest.TokenOptions{Tenant: tenantB}))
	if got := f.entra.Stats().JWKS; got != 2*fetchesPerRefresh {
		t.Fatalf("Verify after Warm fetched again: %d", got)
	}

	g := newFixture(t)
	g.entra.SetDown(503)
	if err := g.v.Warm(bg()); err == nil {
		t.Fatal("Warm with Entra down succeeded")
	}
}

func TestCloseStopsFetching(t *testing.T) {
	f := newFixture(t)
	f.v.Close()
	err := mustRefuse(t, f.v, f.token(entratest.TokenOptions{}), ReasonKeysUnavailable)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("%v", err)
	}
	if got := f.entra.Stats().Discovery; got != 0 {
		t.Fatalf("closed verifier fetched %d documents", got)
	}
	f.v.Close() // idempotent
}

func TestWaitIsBoundedByContext(t *testing.T) {
	block := make(chan struct{})
	e := entratest.New()
	srv := newBlockingServer(t, e, block)
	defer close(block)
	cfg := Config{Tenants: []string{tenantA}, Audiences: []string{audURI}, Authority: srv}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	e.SetAuthority(srv)
	tok, err := e.ActionGroupToken(entratest.TokenOptions{Tenant: tenantA, Audience: audURI})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg())
	cancel()
	_, err = v.Verify(ctx, "Bearer "+tok)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify with a cancelled context while discovery hangs: %v", err)
	}
}

func TestParseJWKSRealSample(t *testing.T) {
	raw, err := os.ReadFile("testdata/jwks-sample.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	keys, skipped := parseJWKS(doc.Keys)
	if len(skipped) != 0 || len(keys) != len(doc.Keys) || len(keys) == 0 {
		t.Fatalf("kept %d of %d Entra keys, skipped %v", len(keys), len(doc.Keys), skipped)
	}
	if keys["Mc7l3Iz93g7uwgNeEmmw_WYGPko"] == nil {
		t.Fatal("known kid missing")
	}

	odd := []json.RawMessage{
		json.RawMessage(`{"kty":"EC","crv":"P-256","kid":"ec","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`),
		json.RawMessage(`{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}`),
		json.RawMessage(`{"kty":"RSA","kid":"enc","use":"enc","n":"` + nOf(keys) + `","e":"AQAB"}`),
		json.RawMessage(`{"kty":"RSA","kid":"ps","alg":"PS256","n":"` + nOf(keys) + `","e":"AQAB"}`),
		json.RawMessage(`{"kty":"RSA","n":"` + nOf(keys) + `","e":"AQAB"}`),
		json.RawMessage(`{"kty":"RSA","kid":"small","n":"AQAB","e":"AQAB"}`),
		json.RawMessage(`"not an object"`),
		json.RawMessage(`{"kty":"RSA","kid":"good","n":"` + nOf(keys) + `","e":"AQAB"}`),
	}
	keys, skipped = parseJWKS(odd)
	if len(keys) != 1 || keys["good"] == nil || len(skipped) != len(odd)-1 {
		t.Fatalf("kept %v, skipped %v", keys, skipped)
	}
}
