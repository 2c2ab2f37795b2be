package auth

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/itsmbridge/itsmbridge/core/auth/entratest"
)

func TestConstantsMatchStandIn(t *testing.T) {
	if AzNSAppID != entratest.AzNSAppID || RoleSecureWebhook != entratest.RoleSecureWebhook {
		t.Fatal("auth and entratest disagree on the AzNS app id or the role")
	}
}

func TestVerifyAccepts(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name    string
		header  func() string
		tenant  string
		aud     string
		version string
	}{
		{"v1 token, App ID URI audience", func() string { return "Bearer " + f.token(entratest.TokenOptions{V1: true}) }, tenantA, audURI, "1.0"},
		{"v2 token, client id audience", func() string { return "Bearer " + f.token(entratest.TokenOptions{Audience: clientID}) }, tenantA, clientID, "2.0"},
		{"second tenant", func() string { return "Bearer " + f.token(entratest.TokenOptions{Tenant: tenantB, V1: true}) }, tenantB, audURI, "1.0"},
		{"client id in upper case", func() string {
			return "Bearer " + f.token(entratest.TokenOptions{Audience: strings.ToUpper(clientID)})
		}, tenantA, strings.ToUpper(clientID), "2.0"},
		{"lower-case scheme, extra spaces", func() string { return "bearer   " + f.token(entratest.TokenOptions{V1: true}) + " " }, tenantA, audURI, "1.0"},
		{"expired within the skew", func() string {
			return "Bearer " + f.token(entratest.TokenOptions{Now: f.clock.Now().Add(-time.Hour - 4*time.Minute), TTL: time.Hour})
		}, tenantA, audURI, "2.0"},
		{"nbf within the skew", func() string {
			return "Bearer " + f.token(entratest.TokenOptions{Now: f.clock.Now().Add(4 * time.Minute)})
		}, tenantA, audURI, "2.0"},
		{"extra roles", func() string {
			return "Bearer " + f.token(entratest.TokenOptions{Roles: []string{"Other", RoleSecureWebhook}})
		}, tenantA, audURI, "2.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := f.v.Verify(bg(), tc.header())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Tenant != tc.tenant || c.Audience != tc.aud || c.Version != tc.version || c.AppID != AzNSAppID {
				t.Errorf("claims = %+v", c)
			}
			if !slices.Contains(c.Roles, RoleSecureWebhook) || c.Subject == "" || c.ObjectID == "" || c.KeyID != f.entra.KeyID() {
				t.Errorf("claims = %+v", c)
			}
			if c.Expiry.IsZero() || c.IssuedAt.IsZero() || c.NotBefore.IsZero() {
				t.Errorf("times missing: %+v", c)
			}
		})
	}
}

// refusal is a token the verifier must refuse, with the reason.
type refusal struct {
	name   string
	header func(f *fixture) string
	reason string
}

func refusals(t *testing.T) []refusal {
	bearer := func(tok string) string { return "Bearer " + tok }
	valid := func(f *fixture) string { return f.token(entratest.TokenOptions{}) }
	sign := func(f *fixture, claims map[string]any, headers map[string]any) string {
		tok, err := f.entra.Sign(claims, headers)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	claimsOf := func(f *fixture) map[string]any { return payloadOf(t, valid(f)) }
	foreign := entratest.ForeignKey()
	return []refusal{
		{"missing header", func(*fixture) string { return "" }, ReasonMissingHeader},
		{"basic scheme", func(*fixture) string { return "Basic dXNlcjpwYXNzd29yZA==" }, ReasonBadScheme},
		{"token without scheme", func(f *fixture) string { return valid(f) }, ReasonBadScheme},
		{"empty bearer", func(*fixture) string { return "Bearer " }, ReasonBadScheme},
		{"garbage", func(*fixture) string { return "Bearer not-a-token" }, ReasonMalformed},
		{"garbage in three parts", func(*fixture) string { return "Bearer a.b.c" }, ReasonMalformed},
		{"JWE-shaped", func(*fixture) string { return "Bearer a.b.c.d.e" }, ReasonMalformed},
		{"payload not JSON", func(f *fixture) string {
			h, _, s := parts(valid(f))
			return bearer(h + "." + b64("hello") + "." + s)
		}, ReasonMalformed},
		{"roles of the wrong type", func(f *fixture) string {
			c := claimsOf(f)
			c["roles"] = RoleSecureWebhook
			return bearer(sign(f, c, nil))
		}, ReasonMalformed},
		{"alg none", func(f *fixture) string {
			return bearer(b64(map[string]any{"alg": "none", "typ": "JWT", "kid": f.entra.KeyID()}) + "." + b64(claimsOf(f)) + ".")
		}, ReasonBadAlg},
		{"HS256 with the RSA public key as secret", func(f *fixture) string {
			der, err := x509.MarshalPKIXPublicKey(f.entra.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: secret},
				(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", f.entra.KeyID()))
			if err != nil {
				t.Fatal(err)
			}
			return bearer(compact(t, signer, claimsOf(f)))
		}, ReasonBadAlg},
		{"RS512 with the right key", func(f *fixture) string {
			_, p, s := parts(valid(f))
			return bearer(b64(map[string]any{"alg": "RS512", "typ": "JWT", "kid": f.entra.KeyID()}) + "." + p + "." + s)
		}, ReasonBadAlg},
		{"no alg", func(f *fixture) string {
			_, p, s := parts(valid(f))
			return bearer(b64(map[string]any{"typ": "JWT", "kid": f.entra.KeyID()}) + "." + p + "." + s)
		}, ReasonBadAlg},
		{"unknown kid", func(f *fixture) string { return bearer(sign(f, claimsOf(f), map[string]any{"kid": "bogus-kid"})) }, ReasonUnknownKID},
		{"no kid", func(f *fixture) string { return bearer(sign(f, claimsOf(f), map[string]any{"kid": ""})) }, ReasonUnknownKID},
		{"tampered payload", func(f *fixture) string {
			h, _, s := parts(valid(f))
			c := claimsOf(f)
			c["roles"] = []string{RoleSecureWebhook, "Admin"}
			return bearer(h + "." + b64(c) + "." + s)
		}, ReasonBadSignature},
		{"tampered signature", func(f *fixture) string {
			h, p, s := parts(valid(f))
			sig, err := base64.RawURLEncoding.DecodeString(s)
			if err != nil {
				t.Fatal(err)
			}
			sig[len(sig)/2] ^= 0x01
			return bearer(h + "." + p + "." + base64.RawURLEncoding.EncodeToString(sig))
		}, ReasonBadSignature},
		{"foreign key under the tenant's kid", func(f *fixture) string {
			tok, err := entratest.SignWith(foreign, f.entra.KeyID(), claimsOf(f), nil)
			if err != nil {
				t.Fatal(err)
			}
			return bearer(tok)
		}, ReasonBadSignature},
		{"jwk header injection", func(f *fixture) string {
			tok, err := entratest.SignWith(foreign, f.entra.KeyID(), claimsOf(f),
				map[string]any{"jwk": jose.JSONWebKey{Key: &foreign.PublicKey, KeyID: f.entra.KeyID()}})
			if err != nil {
				t.Fatal(err)
			}
			return bearer(tok)
		}, ReasonBadHeader},
		{"jwk header injection, own kid", func(f *fixture) string {
			tok, err := entratest.SignWith(foreign, "attacker", claimsOf(f),
				map[string]any{"jwk": jose.JSONWebKey{Key: &foreign.PublicKey, KeyID: "attacker"}})
			if err != nil {
				t.Fatal(err)
			}
			return bearer(tok)
		}, ReasonBadHeader},
		{"jku header injection", func(f *fixture) string {
			tok, err := entratest.SignWith(foreign, "attacker", claimsOf(f), map[string]any{"jku": "https://evil.example/keys"})
			if err != nil {
				t.Fatal(err)
			}
			return bearer(tok)
		}, ReasonBadHeader},
		{"jku header on a genuine token", func(f *fixture) string {
			return bearer(sign(f, claimsOf(f), map[string]any{"jku": f.url + "/common/discovery/keys"}))
		}, ReasonBadHeader},
		{"x5u header injection", func(f *fixture) string {
			return bearer(sign(f, claimsOf(f), map[string]any{"x5u": "https://evil.example/cert.pem"}))
		}, ReasonBadHeader},
		{"x5c header injection", func(f *fixture) string {
			der := selfSignedDER(t, foreign)
			tok, err := entratest.SignWith(foreign, "attacker", claimsOf(f),
				map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(der)}})
			if err != nil {
				t.Fatal(err)
			}
			return bearer(tok)
		}, ReasonBadHeader},
		{"expired", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Now: f.clock.Now().Add(-2 * time.Hour), TTL: time.Hour}))
		}, ReasonExpired},
		{"expired just past the skew", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Now: f.clock.Now().Add(-time.Hour - 5*time.Minute - 2*time.Second), TTL: time.Hour}))
		}, ReasonExpired},
		{"no exp", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Claims: map[string]any{"exp": nil}}))
		}, ReasonExpired},
		{"not yet valid", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Now: f.clock.Now().Add(10 * time.Minute)}))
		}, ReasonNotYetValid},
		{"issued in the future", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Claims: map[string]any{"nbf": nil, "iat": f.clock.Now().Add(time.Hour).Unix()}}))
		}, ReasonNotYetValid},
		{"wrong issuer host", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Issuer: "https://evil.example/" + tenantA + "/v2.0"}))
		}, ReasonBadIssuer},
		{"public-cloud v2 issuer with another authority", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Issuer: "https://login.microsoftonline.com/" + tenantA + "/v2.0"}))
		}, ReasonBadIssuer},
		{"v1 issuer without trailing slash", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{V1: true, Issuer: "https://sts.windows.net/" + tenantA}))
		}, ReasonBadIssuer},
		{"no issuer", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Claims: map[string]any{"iss": nil}}))
		}, ReasonBadIssuer},
		{"v1 issuer of another tenant", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{V1: true, Issuer: entratest.V1Issuer(tenantB)}))
		}, ReasonTenantMismatch},
		{"v2 issuer of another tenant", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Issuer: entratest.V2Issuer(f.url, tenantOther)}))
		}, ReasonTenantMismatch},
		{"tenant not allowed", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Tenant: tenantOther}))
		}, ReasonTenantNotAllowed},
		{"no tid", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Claims: map[string]any{"tid": nil}}))
		}, ReasonTenantNotAllowed},
		{"wrong audience", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Audience: "api://someone-else"}))
		}, ReasonBadAudience},
		{"audience differs in case", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Audience: "API://ITSMBRIDGE"}))
		}, ReasonBadAudience},
		{"wrong app id", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{AppID: "00000000-1111-2222-3333-444444444444"}))
		}, ReasonBadAppID},
		{"v2 token without azp", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Claims: map[string]any{"azp": nil}}))
		}, ReasonBadAppID},
		{"v1 token with a foreign appid and the AzNS azp", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{V1: true, AppID: "00000000-1111-2222-3333-444444444444",
				Claims: map[string]any{"azp": AzNSAppID}}))
		}, ReasonBadAppID},
		{"no roles", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Roles: []string{}}))
		}, ReasonMissingRole},
		{"other role", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Roles: []string{"actiongroupssecurewebhook"}}))
		}, ReasonMissingRole},
		{"oversize token", func(f *fixture) string {
			return bearer(f.token(entratest.TokenOptions{Claims: map[string]any{"pad": strings.Repeat("a", DefaultMaxTokenBytes)}}))
		}, ReasonTokenTooLarge},
	}
}

// compact signs claims with signer.
func compact(t *testing.T, signer jose.Signer, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifyRefuses(t *testing.T) {
	f := newFixture(t)
	for _, tc := range refusals(t) {
		t.Run(tc.name, func(t *testing.T) {
			header := tc.header(f)
			c, err := f.v.Verify(bg(), header)
			if err == nil {
				t.Fatalf("Verify accepted: %+v", c)
			}
			var ae *Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			if ae.Reason != tc.reason {
				t.Fatalf("reason = %s (%v), want %s", ae.Reason, err, tc.reason)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("refusal %v must not match ErrUnavailable", err)
			}
			if tok := strings.TrimSpace(strings.TrimPrefix(header, "Bearer ")); len(tok) > 40 {
				sig := tok[strings.LastIndex(tok, ".")+1:]
				if strings.Contains(err.Error(), tok) || len(sig) > 20 && strings.Contains(err.Error(), sig) {
					t.Errorf("error leaks the token: %v", err)
				}
			}
			// auth check must name the same first failure.
			checks := f.v.Explain(bg(), header)
			first := ""
			for _, c := range checks {
				if !c.OK && !c.Skipped {
					first = c.Reason
					break
				}
			}
			want := tc.reason
			if header != "" && !strings.ContainsAny(header, " \t") {
				want = "" // Explain takes a bare token too
			}
			if first != want {
				t.Errorf("Explain's first failure = %q, want %q; checks: %+v", first, want, checks)
			}
		})
	}
}

func TestIssuerForms(t *testing.T) {
	v, err := NewVerifier(Config{Tenants: []string{tenantA}, Audiences: []string{audURI}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	china, ok := issuerPatternFor("https://sts.chinacloudapi.cn/{tenantid}/", tenantA)
	if !ok {
		t.Fatal("placeholder issuer not turned into a pattern")
	}
	literal, ok := issuerPatternFor("https://sts.chinacloudapi.cn/"+tenantA+"/", tenantA)
	if !ok || literal != china {
		t.Fatalf("literal issuer pattern = %+v, %v", literal, ok)
	}
	if _, ok := issuerPatternFor("http://sts.example/{tenantid}/", tenantA); ok {
		t.Fatal("plain-http issuer from discovery accepted")
	}
	snap := &keySnapshot{issuers: []issuerPattern{china}}
	cases := []struct {
		iss    string
		snap   *keySnapshot
		reason string
	}{
		{"https://sts.windows.net/" + tenantA + "/", nil, ""},
		{"https://login.microsoftonline.com/" + tenantA + "/v2.0", nil, ""},
		{"https://login.microsoftonline.com/" + strings.ToUpper(tenantA) + "/v2.0", nil, ""},
		{"https://sts.chinacloudapi.cn/" + tenantA + "/", snap, ""},
		{"https://sts.chinacloudapi.cn/" + tenantA + "/", nil, ReasonBadIssuer},
		{"https://sts.chinacloudapi.cn/" + tenantB + "/", snap, ReasonTenantMismatch},
		{"https://sts.windows.net/" + tenantB + "/", nil, ReasonTenantMismatch},
		{"https://login.microsoftonline.com/" + tenantB + "/v2.0", nil, ReasonTenantMismatch},
		{"https://login.microsoftonline.com/" + tenantA + "/v2.0/", nil, ReasonBadIssuer},
		{"https://login.microsoftonline.com/" + tenantA, nil, ReasonBadIssuer},
		{"https://sts.windows.net/x/" + tenantA + "/", nil, ReasonBadIssuer},
		{"https://sts.windows.net.evil.example/" + tenantA + "/", nil, ReasonBadIssuer},
		{"https://sts.windows.net//", nil, ReasonBadIssuer},
		{"", nil, ReasonBadIssuer},
	}
	for _, tc := range cases {
		e := v.checkIssuer(tc.iss, tenantA, tc.snap)
		got := ""
		if e != nil {
			got = e.Reason
		}
		if got != tc.reason {
			t.Errorf("checkIssuer(%q) = %q (%v), want %q", tc.iss, got, e, tc.reason)
		}
	}
}
