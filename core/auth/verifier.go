package auth

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/hashicorp/go-hclog"
)

// allowedAlgs is the algorithm allow-list: Entra signs access tokens with
// RS256 only.
var allowedAlgs = []jose.SignatureAlgorithm{jose.RS256}

// Claims is what a verified token says about its caller. A *Claims returned
// by Verify may be shared with other calls (token cache): treat it as
// read-only.
type Claims struct {
	Tenant    string    // tid (lower case)
	AppID     string    // appid (v1) or azp (v2): the calling application
	Audience  string    // the aud value that matched the configured audiences
	Roles     []string  // roles granted to the caller
	Subject   string    // sub
	ObjectID  string    // oid: the caller's service principal in the tenant
	Issuer    string    // iss
	Version   string    // ver: "1.0" or "2.0"
	KeyID     string    // kid of the key that signed the token
	IssuedAt  time.Time // iat (zero if absent)
	NotBefore time.Time // nbf (zero if absent)
	Expiry    time.Time // exp
}

// tokenClaims are the claims as they appear in an Entra ID access token.
type tokenClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	TenantID  string           `json:"tid"`
	AppID     string           `json:"appid"` // v1
	AZP       string           `json:"azp"`   // v2
	Roles     []string         `json:"roles"`
	Version   string           `json:"ver"`
	ObjectID  string           `json:"oid"`
}

// Verifier checks the bearer tokens of one source against its azure_ad
// configuration. It is safe for concurrent use.
type Verifier struct {
	authority string
	tenants   map[string]bool // lower case
	audiences []string
	appIDs    []string
	roles     []string
	skew      time.Duration
	maxBytes  int
	issuers   []issuerPattern // the two documented forms

	now     func() time.Time
	log     hclog.Logger
	keys    *KeySets
	ownKeys bool
	cache   *tokenCache
}

// NewVerifier returns a Verifier for cfg (defaults applied, see
// Config.WithDefaults). It fetches nothing until the first token (or Warm).
// Options: WithHTTPClient, WithLogger, WithClock, WithKeySets,
// WithMaxTokenBytes, WithTokenCacheSize, and the KeySets options when it is
// not shared.
func NewVerifier(cfg Config, opts ...Option) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("azure_ad: %w", err)
	}
	cfg = cfg.WithDefaults()
	authority, _ := normalizeAuthority(cfg.Authority) // checked by Validate
	o := buildOptions(opts)
	v := &Verifier{
		authority: authority,
		tenants:   make(map[string]bool, len(cfg.Tenants)),
		audiences: cfg.Audiences,
		appIDs:    cfg.AllowedAppIDs,
		roles:     cfg.RequiredRoles,
		skew:      cfg.ClockSkew,
		maxBytes:  o.maxTokenBytes,
		issuers: []issuerPattern{
			{prefix: "https://sts.windows.net/", suffix: "/"},
			{prefix: authority + "/", suffix: "/v2.0"},
		},
		now:  o.now,
		log:  o.logger,
		keys: o.keySets,
	}
	for _, t := range cfg.Tenants {
		v.tenants[strings.ToLower(t)] = true
	}
	if v.keys == nil {
		v.keys = newKeySets(o)
		v.ownKeys = true
	}
	if o.cacheSize > 0 {
		v.cache = newTokenCache(o.cacheSize)
	}
	return v, nil
}

// Close stops the background refreshes of the Verifier's own key cache (a
// shared KeySets is left to its owner).
func (v *Verifier) Close() {
	if v.ownKeys {
		v.keys.Close()
	}
}

// Warm fetches the keys of every configured tenant, so the first alert does
// not wait for discovery and a broken setup shows at start. The error joins
// each tenant's failure; the Verifier works either way.
func (v *Verifier) Warm(ctx context.Context) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for t := range v.tenants {
		wg.Go(func() {
			if _, err := v.keys.tenant(v.authority, t).fetch(ctx, fetchFirst); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("tenant %s: %w", t, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Verify checks the value of an Authorization header and returns the
// token's claims. Errors are *Error; errors.Is(err, ErrUnavailable) means the
// keys could not be had (answer 503), anything else means 401.
func (v *Verifier) Verify(ctx context.Context, authorization string) (*Claims, error) {
	raw, e := bearer(authorization)
	if e != nil {
		return nil, e
	}
	if e := v.checkSize(raw); e != nil {
		return nil, e
	}
	now := v.now()
	var sum [sha256.Size]byte
	if v.cache != nil {
		sum = tokenHash(raw)
		if c := v.cache.get(sum, now); c != nil {
			return c, nil
		}
	}
	c, t, e := v.verify(ctx, raw, now)
	if e != nil {
		return nil, e
	}
	if v.cache != nil {
		v.cache.put(sum, cacheEntry{claims: c, exp: c.Expiry, keys: t, kid: c.KeyID}, now)
	}
	return c, nil
}

// verify runs every check after the size limit; Explain runs the same
// checks in the same order.
func (v *Verifier) verify(ctx context.Context, raw string, now time.Time) (*Claims, *tenantKeys, *Error) {
	tok, tc, e := parseToken(raw)
	if e != nil {
		return nil, nil, e
	}
	h := tok.Headers[0]
	if e := checkHeader(h); e != nil {
		return nil, nil, e
	}
	if e := v.checkTenant(tc.TenantID); e != nil {
		return nil, nil, e
	}
	tid := strings.ToLower(tc.TenantID)
	t := v.keys.tenant(v.authority, tid)
	key, snap, e := t.lookup(ctx, h.KeyID)
	if e != nil {
		return nil, nil, e
	}
	if e := checkSignature(tok, key, h.KeyID); e != nil {
		return nil, nil, e
	}
	if e := v.checkIssuer(tc.Issuer, tid, snap); e != nil {
		return nil, nil, e
	}
	if e := v.checkExpiry(tc, now); e != nil {
		return nil, nil, e
	}
	if e := v.checkNotBefore(tc, now); e != nil {
		return nil, nil, e
	}
	aud, e := v.checkAudience(tc.Audience)
	if e != nil {
		return nil, nil, e
	}
	app, e := v.checkAppID(tc)
	if e != nil {
		return nil, nil, e
	}
	if e := v.checkRoles(tc.Roles); e != nil {
		return nil, nil, e
	}
	return newClaims(tc, tid, aud, app, h.KeyID), t, nil
}

func newClaims(tc *tokenClaims, tid, aud, app, kid string) *Claims {
	c := &Claims{
		Tenant:   tid,
		AppID:    app,
		Audience: aud,
		Roles:    tc.Roles,
		Subject:  tc.Subject,
		ObjectID: tc.ObjectID,
		Issuer:   tc.Issuer,
		Version:  tc.Version,
		KeyID:    kid,
		Expiry:   tc.Expiry.Time(),
	}
	if tc.IssuedAt != nil {
		c.IssuedAt = tc.IssuedAt.Time()
	}
	if tc.NotBefore != nil {
		c.NotBefore = tc.NotBefore.Time()
	}
	return c
}

// tokenHash is the cache key. Hashing the string's bytes in place saves a
// copy of the token per call, a third of a cache hit's cost; Sum256 only
// reads them.
func tokenHash(raw string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(raw), len(raw)))
}

// bearer extracts the token from an Authorization header value.
func bearer(h string) (string, *Error) {
	if h == "" {
		return "", refuse(ReasonMissingHeader, "no Authorization header")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		// Without a space the "scheme" may be a token: do not echo it.
		if ok && len(scheme) <= 16 {
			return "", refuse(ReasonBadScheme, "scheme %q, want Bearer", scheme)
		}
		return "", refuse(ReasonBadScheme, "not \"Bearer <token>\"")
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", refuse(ReasonBadScheme, "empty bearer token")
	}
	return tok, nil
}

func (v *Verifier) checkSize(raw string) *Error {
	if len(raw) > v.maxBytes {
		return refuse(ReasonTokenTooLarge, "token is %d bytes, limit %d", len(raw), v.maxBytes)
	}
	return nil
}

// parseToken parses a compact JWS restricted to RS256 and decodes its
// (not yet verified) claims once; the signature is checked later against
// exactly these bytes.
func parseToken(raw string) (*jwt.JSONWebToken, *tokenClaims, *Error) {
	tok, err := jwt.ParseSigned(raw, allowedAlgs)
	if err != nil {
		var ae *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &ae) {
			return nil, nil, refuse(ReasonBadAlg, "alg %q, only RS256 is accepted", ae.Got)
		}
		return nil, nil, refuseErr(ReasonMalformed, err, "not a compact JWS")
	}
	if len(tok.Headers) != 1 {
		return nil, nil, refuse(ReasonMalformed, "%d signatures, want 1", len(tok.Headers))
	}
	tc := new(tokenClaims)
	if err := tok.UnsafeClaimsWithoutVerification(tc); err != nil {
		return nil, nil, refuseErr(ReasonMalformed, err, "claims are not a JSON object of the expected types")
	}
	return tok, tc, nil
}

var noRoots = x509.NewCertPool()

// checkHeader refuses key material in the header: keys come only from the
// tenant's JWKS, by kid.
func checkHeader(h jose.Header) *Error {
	if h.JSONWebKey != nil {
		return refuse(ReasonBadHeader, "header carries a jwk; keys come only from the tenant's JWKS")
	}
	for _, k := range [...]jose.HeaderKey{"jku", "x5u"} {
		if _, ok := h.ExtraHeaders[k]; ok {
			return refuse(ReasonBadHeader, "header carries %s; keys come only from the tenant's JWKS", k)
		}
	}
	if _, err := h.Certificates(x509.VerifyOptions{Roots: noRoots}); !errors.Is(err, jose.ErrMissingX5cHeader) {
		return refuse(ReasonBadHeader, "header carries x5c; keys come only from the tenant's JWKS")
	}
	return nil
}

func (v *Verifier) checkTenant(tid string) *Error {
	if tid == "" {
		return refuse(ReasonTenantNotAllowed, "token has no tid claim")
	}
	if !v.tenants[strings.ToLower(tid)] {
		return refuse(ReasonTenantNotAllowed, "tid %q is not one of the configured tenants", tid)
	}
	return nil
}

func checkSignature(tok *jwt.JSONWebToken, key *rsa.PublicKey, kid string) *Error {
	if err := tok.Claims(key); err != nil {
		return refuseErr(ReasonBadSignature, err, "signature does not verify with key %q", kid)
	}
	return nil
}

// issuerPattern matches issuers of the form prefix + tenant + suffix.
type issuerPattern struct{ prefix, suffix string }

// tenant returns the tenant part of iss if iss has the pattern's form.
func (p issuerPattern) tenant(iss string) (string, bool) {
	if len(iss) <= len(p.prefix)+len(p.suffix) || !strings.HasPrefix(iss, p.prefix) || !strings.HasSuffix(iss, p.suffix) {
		return "", false
	}
	x := iss[len(p.prefix) : len(iss)-len(p.suffix)]
	if strings.Contains(x, "/") {
		return "", false
	}
	return x, true
}

// issuerPatternFor turns the issuer a tenant's discovery document declares
// ("{tenantid}" placeholder or the tenant itself) into a pattern, so that a
// sovereign cloud's v1 issuer (e.g. https://sts.chinacloudapi.cn/{tid}/) is
// accepted too. Only https issuers are taken.
func issuerPatternFor(declared, tenant string) (issuerPattern, bool) {
	if !strings.HasPrefix(declared, "https://") {
		return issuerPattern{}, false
	}
	for _, marker := range []string{"{tenantid}", tenant} {
		if i := strings.Index(declared, marker); i > 0 {
			return issuerPattern{prefix: declared[:i], suffix: declared[i+len(marker):]}, true
		}
	}
	return issuerPattern{}, false
}

func (v *Verifier) checkIssuer(iss, tid string, snap *keySnapshot) *Error {
	other := ""
	try := func(ps []issuerPattern) bool {
		for _, p := range ps {
			if x, ok := p.tenant(iss); ok {
				if strings.EqualFold(x, tid) {
					return true
				}
				other = x
			}
		}
		return false
	}
	if try(v.issuers) || snap != nil && try(snap.issuers) {
		return nil
	}
	if other != "" {
		return refuse(ReasonTenantMismatch, "iss %q names tenant %q but tid is %q", iss, other, tid)
	}
	return refuse(ReasonBadIssuer, "iss %q is neither https://sts.windows.net/%s/ nor %s/%s/v2.0", iss, tid, v.authority, tid)
}

func (v *Verifier) checkExpiry(tc *tokenClaims, now time.Time) *Error {
	if tc.Expiry == nil {
		return refuse(ReasonExpired, "token has no exp claim")
	}
	exp := tc.Expiry.Time()
	if now.After(exp.Add(v.skew)) {
		return refuse(ReasonExpired, "expired at %s (now %s, skew %s)", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), v.skew)
	}
	return nil
}

func (v *Verifier) checkNotBefore(tc *tokenClaims, now time.Time) *Error {
	if tc.NotBefore != nil {
		if nbf := tc.NotBefore.Time(); now.Add(v.skew).Before(nbf) {
			return refuse(ReasonNotYetValid, "not valid before %s (now %s, skew %s)", nbf.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), v.skew)
		}
	}
	if tc.IssuedAt != nil {
		if iat := tc.IssuedAt.Time(); now.Add(v.skew).Before(iat) {
			return refuse(ReasonNotYetValid, "issued in the future at %s (now %s, skew %s)", iat.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), v.skew)
		}
	}
	return nil
}

// checkAudience returns the first aud value that is a configured audience.
// Values compare exactly, except GUIDs (client ids), which compare
// case-insensitively.
func (v *Verifier) checkAudience(aud jwt.Audience) (string, *Error) {
	for _, a := range aud {
		for _, want := range v.audiences {
			if a == want || isGUID(a) && strings.EqualFold(a, want) {
				return a, nil
			}
		}
	}
	return "", refuse(ReasonBadAudience, "aud %q is not one of the configured audiences %q", []string(aud), v.audiences)
}

// checkAppID checks appid (v1 tokens) or azp (v2 tokens).
func (v *Verifier) checkAppID(tc *tokenClaims) (string, *Error) {
	app, claim := tc.AppID, "appid"
	switch {
	case tc.Version == "1.0":
	case tc.Version == "2.0", tc.AppID == "":
		app, claim = tc.AZP, "azp"
	}
	if app == "" {
		return "", refuse(ReasonBadAppID, "token has no %s claim", claim)
	}
	for _, id := range v.appIDs {
		if strings.EqualFold(app, id) {
			return strings.ToLower(app), nil
		}
	}
	return "", refuse(ReasonBadAppID, "%s %q is not an allowed app id %q", claim, app, v.appIDs)
}

func (v *Verifier) checkRoles(roles []string) *Error {
	for _, want := range v.roles {
		found := false
		for _, r := range roles {
			if r == want {
				found = true
				break
			}
		}
		if !found {
			return refuse(ReasonMissingRole, "role %q missing (token roles %q)", want, roles)
		}
	}
	return nil
}
