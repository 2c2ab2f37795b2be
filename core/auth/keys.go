package auth

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/go-hclog"
)

// KeySets caches the signing keys of Entra ID tenants, per authority and
// tenant. It is safe for concurrent use and may be shared by Verifiers
// (WithKeySets) so that sources trusting the same tenant fetch its keys once.
//
// A tenant's keys are fetched on first use, refreshed in the background, and
// refreshed at once when a token names an unknown kid (rate-limited); a
// failed refresh keeps the last good keys.
type KeySets struct {
	client       *http.Client
	log          hclog.Logger
	now          func() time.Time
	refreshEvery time.Duration
	minForced    time.Duration
	timeout      time.Duration

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	tenants map[string]*tenantKeys
	closed  bool
}

// NewKeySets returns an empty key cache. Applicable options: WithHTTPClient,
// WithLogger, WithClock, WithRefreshInterval, WithMinRefreshInterval,
// WithFetchTimeout. Close it to stop its background refreshes.
func NewKeySets(opts ...Option) *KeySets {
	return newKeySets(buildOptions(opts))
}

func newKeySets(o options) *KeySets {
	ctx, cancel := context.WithCancel(context.Background())
	return &KeySets{
		client:       o.client,
		log:          o.logger.Named("jwks"),
		now:          o.now,
		refreshEvery: o.refreshInterval,
		minForced:    o.minRefreshInterval,
		timeout:      o.fetchTimeout,
		ctx:          ctx,
		cancel:       cancel,
		tenants:      make(map[string]*tenantKeys),
	}
}

// Close stops background refreshes and waits for fetches in progress to
// end. Lookups after Close fail with ErrUnavailable unless keys are cached.
func (ks *KeySets) Close() {
	ks.mu.Lock()
	ks.closed = true
	ks.mu.Unlock()
	ks.cancel()
	ks.wg.Wait()
}

// goTracked runs f in a goroutine that Close waits for; false once closed.
func (ks *KeySets) goTracked(f func()) bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.closed {
		return false
	}
	ks.wg.Add(1)
	go func() {
		defer ks.wg.Done()
		f()
	}()
	return true
}

// tenant returns the entry for authority and tenant (a lower-case GUID),
// creating it without fetching.
func (ks *KeySets) tenant(authority, tenant string) *tenantKeys {
	k := authority + "|" + tenant
	ks.mu.Lock()
	defer ks.mu.Unlock()
	t := ks.tenants[k]
	if t == nil {
		t = &tenantKeys{ks: ks, authority: authority, tenant: tenant, log: ks.log.With("tenant", tenant)}
		ks.tenants[k] = t
	}
	return t
}

// keySnapshot is one successfully fetched key set; never modified.
type keySnapshot struct {
	keys    map[string]*rsa.PublicKey // by kid
	issuers []issuerPattern           // declared by the discovery documents
	fetched time.Time
}

// tenantKeys holds one tenant's keys and coordinates its fetches.
type tenantKeys struct {
	ks        *KeySets
	authority string
	tenant    string
	log       hclog.Logger
	cur       atomic.Pointer[keySnapshot] // nil until the first good fetch

	mu         sync.Mutex
	inflight   *fetchCall
	lastTry    time.Time // start of the last fetch
	lastForced time.Time // start of the last forced fetch
	lastErr    error     // outcome of the last finished fetch
	failures   int       // consecutive failed fetches
	looping    bool      // background refresh started
}

type fetchCall struct {
	done chan struct{}
	snap *keySnapshot // last good keys, even when err != nil
	err  error
}

type fetchKind int

const (
	fetchFirst      fetchKind = iota // no keys yet
	fetchForced                      // unknown kid
	fetchBackground                  // periodic
)

func (k fetchKind) String() string {
	return [...]string{"first", "forced", "background"}[k]
}

// errRateLimited: a forced refresh was not attempted; the snapshot returned
// with it is the current one.
var errRateLimited = errors.New("forced key refresh rate-limited")

var errClosed = errors.New("key cache closed")

// fetch returns fresh keys, joining a fetch in flight (single-flight per
// tenant) or starting one if the kind's rate limit allows it. The fetch
// itself runs detached from ctx (others may be waiting on it); ctx only
// bounds this caller's wait.
func (t *tenantKeys) fetch(ctx context.Context, kind fetchKind) (*keySnapshot, error) {
	t.mu.Lock()
	c := t.inflight
	if c == nil {
		now := t.ks.now()
		switch kind {
		case fetchFirst:
			if s := t.cur.Load(); s != nil {
				t.mu.Unlock()
				return s, nil
			}
			// While Entra is down, requests must not each trigger a fetch.
			if t.lastErr != nil && now.Sub(t.lastTry) < min(retryEmptyInterval, t.ks.minForced) {
				err := t.lastErr
				t.mu.Unlock()
				return nil, err
			}
		case fetchForced:
			if !t.lastForced.IsZero() && now.Sub(t.lastForced) < t.ks.minForced {
				t.mu.Unlock()
				return t.cur.Load(), errRateLimited
			}
			t.lastForced = now
		}
		c = &fetchCall{done: make(chan struct{})}
		if !t.ks.goTracked(func() { t.run(c, kind) }) {
			t.mu.Unlock()
			return t.cur.Load(), errClosed
		}
		t.lastTry = now
		t.inflight = c
	}
	t.mu.Unlock()
	select {
	case <-c.done:
		return c.snap, c.err
	case <-ctx.Done():
		return t.cur.Load(), ctx.Err()
	}
}

func (t *tenantKeys) run(c *fetchCall, kind fetchKind) {
	ctx, cancel := context.WithTimeout(t.ks.ctx, t.ks.timeout)
	snap, err := t.ks.download(ctx, t.log, t.authority, t.tenant)
	cancel()

	t.mu.Lock()
	prev := t.cur.Load()
	if err == nil {
		t.cur.Store(snap)
		t.lastErr, t.failures = nil, 0
	} else {
		t.lastErr = err
		t.failures++
		snap = prev
	}
	startLoop := err == nil && !t.looping
	if startLoop {
		t.looping = true
	}
	t.inflight = nil
	t.mu.Unlock()

	c.snap, c.err = snap, err
	close(c.done)

	switch {
	case err == nil:
		t.log.Debug("signing keys fetched", "kind", kind.String(), "keys", len(snap.keys))
		if prev == nil || !sameKIDs(prev.keys, snap.keys) {
			t.log.Info("signing keys updated", "kind", kind.String(), "kids", kidList(snap.keys))
		}
	case prev != nil:
		t.log.Warn("signing key refresh failed; keeping the last good keys", "kind", kind.String(), "error", err)
	default:
		t.log.Error("signing keys unavailable", "kind", kind.String(), "error", err)
	}
	if startLoop && !t.ks.goTracked(t.loop) {
		t.mu.Lock()
		t.looping = false
		t.mu.Unlock()
	}
}

// loop refreshes the keys periodically, sooner after a failure.
func (t *tenantKeys) loop() {
	timer := time.NewTimer(t.nextDelay())
	defer timer.Stop()
	for {
		select {
		case <-t.ks.ctx.Done():
			return
		case <-timer.C:
		}
		_, _ = t.fetch(t.ks.ctx, fetchBackground)
		timer.Reset(t.nextDelay())
	}
}

func (t *tenantKeys) nextDelay() time.Duration {
	t.mu.Lock()
	f := t.failures
	t.mu.Unlock()
	if f == 0 {
		return t.ks.refreshEvery
	}
	d := backgroundRetry
	for i := 1; i < f && d < t.ks.refreshEvery; i++ {
		d *= 2
	}
	return min(d, t.ks.refreshEvery)
}

// failing reports whether the last finished fetch failed.
func (t *tenantKeys) failing() (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastErr != nil, t.lastErr
}

// lookup finds the key for kid, fetching on first use and forcing a refresh
// on an unknown kid.
func (t *tenantKeys) lookup(ctx context.Context, kid string) (*rsa.PublicKey, *keySnapshot, *Error) {
	snap := t.cur.Load()
	if snap == nil {
		s, err := t.fetch(ctx, fetchFirst)
		if s == nil {
			if err == nil {
				err = errors.New("no keys")
			}
			return nil, nil, refuseErr(ReasonKeysUnavailable, err, "no signing keys for tenant %s", t.tenant)
		}
		snap = s
	}
	if kid == "" {
		return nil, snap, refuse(ReasonUnknownKID, "token header has no kid")
	}
	if k := snap.keys[kid]; k != nil {
		return k, snap, nil
	}
	s, err := t.fetch(ctx, fetchForced)
	switch {
	case errors.Is(err, errRateLimited):
		// A key set we know to be stale cannot prove the kid bogus.
		if bad, lastErr := t.failing(); bad {
			return nil, snap, refuseErr(ReasonKeysUnavailable, lastErr, "kid %q unknown and the keys of tenant %s cannot be refreshed", kid, t.tenant)
		}
		if s != nil {
			snap = s
		}
		if k := snap.keys[kid]; k != nil {
			return k, snap, nil
		}
		return nil, snap, refuse(ReasonUnknownKID, "kid %q is not among the %d keys of tenant %s (refresh rate-limited)", kid, len(snap.keys), t.tenant)
	case err != nil:
		return nil, snap, refuseErr(ReasonKeysUnavailable, err, "kid %q unknown and the keys of tenant %s cannot be refreshed", kid, t.tenant)
	}
	snap = s
	if k := snap.keys[kid]; k != nil {
		return k, snap, nil
	}
	return nil, snap, refuse(ReasonUnknownKID, "kid %q is not among the %d keys of tenant %s", kid, len(snap.keys), t.tenant)
}

// discoveryDoc is the part of an OpenID configuration we use.
type discoveryDoc struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// download fetches the tenant's v2 and v1 discovery documents and the JWKS
// they point to, and merges their RSA signing keys. It succeeds when at least
// one of the two paths yields keys.
func (ks *KeySets) download(ctx context.Context, log hclog.Logger, authority, tenant string) (*keySnapshot, error) {
	docURLs := [2]string{
		authority + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		authority + "/" + tenant + "/.well-known/openid-configuration",
	}
	var docs [2]discoveryDoc
	var docErrs [2]error
	var wg sync.WaitGroup
	for i := range docURLs {
		wg.Go(func() {
			docErrs[i] = ks.getJSON(ctx, docURLs[i], &docs[i])
			if docErrs[i] == nil {
				docErrs[i] = checkJWKSURI(authority, docs[i].JWKSURI)
			}
		})
	}
	wg.Wait()

	snap := &keySnapshot{keys: make(map[string]*rsa.PublicKey), fetched: ks.now()}
	var jwksURIs []string
	for i := range docs {
		if docErrs[i] != nil {
			continue
		}
		if p, ok := issuerPatternFor(docs[i].Issuer, tenant); ok {
			snap.issuers = append(snap.issuers, p)
		}
		if len(jwksURIs) == 0 || jwksURIs[0] != docs[i].JWKSURI {
			jwksURIs = append(jwksURIs, docs[i].JWKSURI)
		}
	}
	if len(jwksURIs) == 0 {
		return nil, fmt.Errorf("openid discovery failed: %w", errors.Join(docErrs[:]...))
	}

	sets := make([]map[string]*rsa.PublicKey, len(jwksURIs))
	setErrs := make([]error, len(jwksURIs))
	for i, u := range jwksURIs {
		wg.Go(func() { sets[i], setErrs[i] = ks.getJWKS(ctx, log, u) })
	}
	wg.Wait()
	for _, set := range sets {
		for kid, k := range set {
			if prev, dup := snap.keys[kid]; dup && !prev.Equal(k) {
				log.Warn("two different keys share a kid; keeping the first", "kid", kid)
				continue
			}
			snap.keys[kid] = k
		}
	}
	if len(snap.keys) == 0 {
		errs := append(docErrs[:], setErrs...)
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("no signing keys: %w", err)
		}
		return nil, errors.New("no usable RSA signing keys in the JWKS")
	}
	for i, err := range docErrs {
		if err != nil {
			log.Warn("openid discovery document unavailable; using the other one", "url", docURLs[i], "error", err)
		}
	}
	for i, err := range setErrs {
		if err != nil {
			log.Warn("JWKS unavailable; using the other one", "url", jwksURIs[i], "error", err)
		}
	}
	return snap, nil
}

// checkJWKSURI accepts an https URL, or one on the authority's own origin
// (the sandbox and tests serve plain http on loopback).
func checkJWKSURI(authority, raw string) error {
	if raw == "" {
		return errors.New("discovery document has no jwks_uri")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("jwks_uri %q is not an absolute URL", raw)
	}
	if u.Scheme == "https" {
		return nil
	}
	a, err := url.Parse(authority)
	if err == nil && u.Scheme == a.Scheme && u.Host == a.Host {
		return nil
	}
	return fmt.Errorf("jwks_uri %q is neither https nor on the authority's origin", raw)
}

func (ks *KeySets) getJSON(ctx context.Context, u string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ks.client.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentBytes+1))
	if err != nil {
		return fmt.Errorf("GET %s: reading body: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	if len(body) > maxDocumentBytes {
		return fmt.Errorf("GET %s: document larger than %d bytes", u, maxDocumentBytes)
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// getJWKS fetches a JWKS and returns its usable RS256 signing keys by kid.
func (ks *KeySets) getJWKS(ctx context.Context, log hclog.Logger, u string) (map[string]*rsa.PublicKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := ks.getJSON(ctx, u, &doc); err != nil {
		return nil, err
	}
	keys, skipped := parseJWKS(doc.Keys)
	for _, s := range skipped {
		log.Debug("JWKS key skipped", "url", u, "why", s)
	}
	return keys, nil
}

// parseJWKS keeps the RSA keys usable for RS256 signatures (≥ 2048 bits,
// with a kid) and says why it skipped the others; one odd key does not spoil
// the set.
func parseJWKS(raw []json.RawMessage) (keys map[string]*rsa.PublicKey, skipped []string) {
	keys = make(map[string]*rsa.PublicKey, len(raw))
	for i, r := range raw {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil {
			skipped = append(skipped, fmt.Sprintf("key %d: %v", i, err))
			continue
		}
		pub, ok := k.Key.(*rsa.PublicKey)
		switch {
		case !ok:
			skipped = append(skipped, fmt.Sprintf("key %d (%s): not an RSA public key", i, k.KeyID))
		case k.KeyID == "":
			skipped = append(skipped, fmt.Sprintf("key %d: no kid", i))
		case k.Use != "" && k.Use != "sig":
			skipped = append(skipped, fmt.Sprintf("key %s: use %q", k.KeyID, k.Use))
		case k.Algorithm != "" && k.Algorithm != string(jose.RS256):
			skipped = append(skipped, fmt.Sprintf("key %s: alg %q", k.KeyID, k.Algorithm))
		case pub.N.BitLen() < 2048:
			skipped = append(skipped, fmt.Sprintf("key %s: %d-bit modulus", k.KeyID, pub.N.BitLen()))
		default:
			keys[k.KeyID] = pub
		}
	}
	return keys, skipped
}

func sameKIDs(a, b map[string]*rsa.PublicKey) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !v.Equal(w) {
			return false
		}
	}
	return true
}

func kidList(m map[string]*rsa.PublicKey) string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ",")
}
