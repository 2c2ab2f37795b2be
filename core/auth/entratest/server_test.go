package entratest

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const tenant = "8f2c9a61-4d3b-4c8e-9f1a-2b7e6d5c4a39"

func getJSON(t *testing.T, url string, into any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if into != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

func readFixture(t *testing.T, name string, into any) {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		t.Fatal(err)
	}
}

func sortedKeys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func TestDiscoveryV2MatchesEntra(t *testing.T) {
	s := New()
	base := s.Start()
	defer s.Close()
	var real map[string]any
	readFixture(t, "openid-configuration-sample.json", &real)

	// The sample is Entra's "organizations" document: same shape and values
	// except the host.
	var orgs map[string]any
	getJSON(t, base+"/organizations/v2.0/.well-known/openid-configuration", &orgs)
	if got, want := sortedKeys(orgs), sortedKeys(real); !slices.Equal(got, want) {
		t.Fatalf("fields = %v\nEntra's = %v", got, want)
	}
	for k, want := range real {
		got := orgs[k]
		if ws, ok := want.(string); ok {
			want = strings.ReplaceAll(ws, "https://login.microsoftonline.com", base)
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Errorf("%s = %s, Entra's (rebased) = %s", k, gj, wj)
		}
	}

	var doc map[string]any
	getJSON(t, base+"/"+tenant+"/v2.0/.well-known/openid-configuration", &doc)
	if doc["issuer"] != base+"/"+tenant+"/v2.0" || doc["jwks_uri"] != base+"/"+tenant+"/discovery/v2.0/keys" {
		t.Fatalf("issuer %v, jwks_uri %v", doc["issuer"], doc["jwks_uri"])
	}
}

func TestDiscoveryV1(t *testing.T) {
	s := New()
	base := s.Start()
	defer s.Close()
	var doc map[string]any
	getJSON(t, base+"/"+tenant+"/.well-known/openid-configuration", &doc)
	if doc["issuer"] != "https://sts.windows.net/"+tenant+"/" || doc["jwks_uri"] != base+"/common/discovery/keys" {
		t.Fatalf("issuer %v, jwks_uri %v", doc["issuer"], doc["jwks_uri"])
	}
	getJSON(t, base+"/common/.well-known/openid-configuration", &doc)
	if doc["issuer"] != "https://sts.windows.net/{tenantid}/" {
		t.Fatalf("common issuer %v", doc["issuer"])
	}
}

func TestJWKSMatchesEntra(t *testing.T) {
	s := New()
	base := s.Start()
	defer s.Close()
	var real struct{ Keys []map[string]any }
	readFixture(t, "jwks-sample.json", &real)
	wantFields := sortedKeys(real.Keys[0])

	for _, tc := range []struct {
		path   string
		fields []string
		issuer any
	}{
		{"/" + tenant + "/discovery/v2.0/keys", wantFields, base + "/" + tenant + "/v2.0"},
		{"/organizations/discovery/v2.0/keys", wantFields, base + "/{tenantid}/v2.0"},
		{"/common/discovery/keys", slices.DeleteFunc(slices.Clone(wantFields), func(f string) bool { return f == "issuer" }), nil},
	} {
		var doc struct{ Keys []map[string]any }
		getJSON(t, base+tc.path, &doc)
		if len(doc.Keys) != 1 {
			t.Fatalf("%s: %d keys", tc.path, len(doc.Keys))
		}
		k := doc.Keys[0]
		if got := sortedKeys(k); !slices.Equal(got, tc.fields) {
			t.Errorf("%s: fields %v, want %v", tc.path, got, tc.fields)
		}
		if k["issuer"] != tc.issuer {
			t.Errorf("%s: issuer %v, want %v", tc.path, k["issuer"], tc.issuer)
		}
		if k["kid"] != s.KeyID() || k["x5t"] != s.KeyID() || k["kty"] != "RSA" || k["use"] != "sig" || k["e"] != "AQAB" {
			t.Errorf("%s: key %v", tc.path, k)
		}
	}

	// go-jose reads it, and the certificate is the key's, its thumbprint the kid.
	var set jose.JSONWebKeySet
	getJSON(t, base+"/"+tenant+"/discovery/v2.0/keys", &set)
	k := set.Keys[0]
	if k.KeyID != s.KeyID() || len(k.Certificates) != 1 || !s.PublicKey().Equal(k.Key) {
		t.Fatalf("parsed key %+v", k)
	}
	sum := sha1.Sum(k.Certificates[0].Raw)
	if base64.RawURLEncoding.EncodeToString(sum[:]) != k.KeyID {
		t.Fatal("kid is not the certificate thumbprint")
	}
}

// verifyWithJWKS checks tok's signature against the stand-in's JWKS and
// returns its header and claims.
func verifyWithJWKS(t *testing.T, base, tok string) (jose.Header, map[string]any) {
	t.Helper()
	var set jose.JSONWebKeySet
	getJSON(t, base+"/"+tenant+"/discovery/v2.0/keys", &set)
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	h := parsed.Headers[0]
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in JWKS", h.KeyID)
	}
	var claims map[string]any
	if err := parsed.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("signature: %v", err)
	}
	return h, claims
}

func TestActionGroupToken(t *testing.T) {
	s := New()
	base := s.Start()
	defer s.Close()
	now := time.Unix(1_800_000_000, 0)
	common := []string{"aud", "iss", "iat", "nbf", "exp", "aio", "idtyp", "oid", "rh", "roles", "sub", "tid", "uti", "ver"}

	t.Run("v1", func(t *testing.T) {
		tok, err := s.ActionGroupToken(TokenOptions{Tenant: tenant, Audience: "api://itsmbridge", V1: true, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		h, c := verifyWithJWKS(t, base, tok)
		want := slices.Sorted(slices.Values(append(slices.Clone(common), "appid", "appidacr", "idp")))
		if got := sortedKeys(c); !slices.Equal(got, want) {
			t.Fatalf("claims %v, want %v", got, want)
		}
		if c["iss"] != "https://sts.windows.net/"+tenant+"/" || c["appid"] != AzNSAppID || c["ver"] != "1.0" ||
			c["tid"] != tenant || c["aud"] != "api://itsmbridge" || c["idtyp"] != "app" || c["sub"] != c["oid"] {
			t.Fatalf("claims %v", c)
		}
		if c["iat"] != float64(now.Unix()) || c["nbf"] != float64(now.Unix()) || c["exp"] != float64(now.Add(DefaultTTL).Unix()) {
			t.Fatalf("times %v %v %v", c["iat"], c["nbf"], c["exp"])
		}
		if roles, _ := c["roles"].([]any); len(roles) != 1 || roles[0] != RoleSecureWebhook {
			t.Fatalf("roles %v", c["roles"])
		}
		if h.Algorithm != "RS256" || h.ExtraHeaders["typ"] != "JWT" || h.ExtraHeaders["x5t"] != s.KeyID() {
			t.Fatalf("header %+v", h)
		}
	})
	t.Run("v2", func(t *testing.T) {
		tok, err := s.ActionGroupToken(TokenOptions{Tenant: tenant, Audience: "5d3c2b1a-0f9e-4d8c-b7a6-958473625140", TTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		h, c := verifyWithJWKS(t, base, tok)
		want := slices.Sorted(slices.Values(append(slices.Clone(common), "azp", "azpacr")))
		if got := sortedKeys(c); !slices.Equal(got, want) {
			t.Fatalf("claims %v, want %v", got, want)
		}
		if c["iss"] != base+"/"+tenant+"/v2.0" || c["azp"] != AzNSAppID || c["ver"] != "2.0" {
			t.Fatalf("claims %v", c)
		}
		if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 60 {
			t.Fatalf("ttl %v", exp-iat)
		}
		if _, ok := h.ExtraHeaders["x5t"]; ok {
			t.Fatal("v2 header has x5t")
		}
	})
	t.Run("overrides", func(t *testing.T) {
		tok, err := s.ActionGroupToken(TokenOptions{Tenant: tenant, Audience: "a", Roles: []string{},
			Claims: map[string]any{"tid": nil, "extra": "x"}, Headers: map[string]any{"kid": "other"}})
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		if err := parsed.Claims(s.PublicKey(), &c); err != nil {
			t.Fatal(err)
		}
		if _, ok := c["roles"]; ok || c["tid"] != nil || c["extra"] != "x" || parsed.Headers[0].KeyID != "other" {
			t.Fatalf("claims %v, kid %q", c, parsed.Headers[0].KeyID)
		}
	})
	t.Run("required options", func(t *testing.T) {
		if _, err := s.ActionGroupToken(TokenOptions{Tenant: tenant}); err == nil {
			t.Fatal("no audience accepted")
		}
		if _, err := New().ActionGroupToken(TokenOptions{Tenant: tenant, Audience: "a"}); err == nil {
			t.Fatal("v2 token without an authority")
		}
	})
}

func TestRotate(t *testing.T) {
	s := New()
	base := s.Start()
	defer s.Close()
	first := s.KeyID()
	kids := func() []string {
		var set jose.JSONWebKeySet
		getJSON(t, base+"/common/discovery/keys", &set)
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.KeyID)
		}
		return out
	}
	second, err := s.Rotate(true)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || s.KeyID() != second || !slices.Equal(kids(), []string{second, first}) {
		t.Fatalf("after keep-rotation: current %s, published %v", s.KeyID(), kids())
	}
	third, err := s.Rotate(false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(kids(), []string{third}) {
		t.Fatalf("after drop-rotation: published %v", kids())
	}
	tok, err := s.Sign(map[string]any{"tid": tenant})
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := verifyWithJWKS(t, base, tok); h.KeyID != third {
		t.Fatalf("signed with %s, want %s", h.KeyID, third)
	}
}

func TestDownAndControlSurface(t *testing.T) {
	s := New()
	base := s.Start()
	defer s.Close()
	paths := []string{
		"/" + tenant + "/v2.0/.well-known/openid-configuration",
		"/" + tenant + "/.well-known/openid-configuration",
		"/" + tenant + "/discovery/v2.0/keys",
		"/common/discovery/keys",
	}
	post := func(path string) int {
		resp, err := http.Post(base+path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("/_entra/down?status=500"); code != http.StatusNoContent {
		t.Fatalf("down: %d", code)
	}
	for _, p := range paths {
		if code := getJSON(t, base+p, nil); code != 500 {
			t.Errorf("%s while down: %d", p, code)
		}
	}
	if code := post("/_entra/down?status=200"); code != http.StatusBadRequest {
		t.Errorf("down with status 200: %d", code)
	}
	post("/_entra/up")
	for _, p := range paths {
		if code := getJSON(t, base+p, nil); code != 200 {
			t.Errorf("%s after up: %d", p, code)
		}
	}
	s.SetDown(503)
	if code := getJSON(t, base+paths[0], nil); code != 503 {
		t.Errorf("SetDown(503): %d", code)
	}
	s.SetDown(0)

	old := s.KeyID()
	var rotated struct{ Kid string }
	resp, err := http.Post(base+"/_entra/rotate?keep=true", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&rotated); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if rotated.Kid == old || rotated.Kid != s.KeyID() || len(s.KeyIDs()) != 2 {
		t.Fatalf("rotate: %+v, kids %v", rotated, s.KeyIDs())
	}

	tok, err := FetchToken(context.Background(), nil, base, TokenOptions{Tenant: tenant, Audience: "api://itsmbridge"})
	if err != nil {
		t.Fatal(err)
	}
	if _, c := verifyWithJWKS(t, base, tok); c["aud"] != "api://itsmbridge" {
		t.Fatalf("fetched token claims %v", c)
	}
	if _, err := FetchToken(context.Background(), nil, base, TokenOptions{Tenant: tenant}); err == nil {
		t.Fatal("FetchToken without audience succeeded")
	}
	var st Stats
	getJSON(t, base+"/_entra/stats", &st)
	if st.Tokens != 1 || st.Discovery != 5 || st.JWKS != 5 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOwnListener(t *testing.T) {
	s := New()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	// Without SetAuthority the documents follow the request's host.
	var doc map[string]any
	getJSON(t, base+"/"+tenant+"/v2.0/.well-known/openid-configuration", &doc)
	if doc["issuer"] != base+"/"+tenant+"/v2.0" {
		t.Fatalf("issuer %v", doc["issuer"])
	}
	s.SetAuthority("http://entra.local/")
	getJSON(t, base+"/"+tenant+"/v2.0/.well-known/openid-configuration", &doc)
	if doc["issuer"] != "http://entra.local/"+tenant+"/v2.0" || s.Authority() != "http://entra.local" {
		t.Fatalf("issuer %v, authority %s", doc["issuer"], s.Authority())
	}
}

func TestWait(t *testing.T) {
	s := New()
	base := s.Start()
	defer s.Close()
	done := make(chan error, 1)
	go func() {
		done <- s.Wait(context.Background(), func(st Stats) bool { return st.JWKS >= 2 })
	}()
	getJSON(t, base+"/common/discovery/keys", nil)
	getJSON(t, base+"/common/discovery/keys", nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Wait(ctx, func(st Stats) bool { return st.JWKS >= 100 }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with a cancelled context: %v", err)
	}
}
