package auth

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/core/auth/entratest"
)

// FuzzVerify feeds arbitrary Authorization header values to a Verifier
// wired to a real local Entra stand-in. Plain `go test` runs the seeds; run
// longer by hand with
//
//	go test ./core/auth -run '^$' -fuzz FuzzVerify -fuzztime 5m
//
// Invariants: no panic; every refusal is an *Error with a known Reason;
// anything accepted satisfies every configured requirement and was signed by
// the stand-in's key.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	v1 := fx.token(entratest.TokenOptions{V1: true})
	v2 := fx.token(entratest.TokenOptions{Audience: clientID})
	f.Add("Bearer " + v1)
	f.Add("Bearer " + v2)
	f.Add("bearer " + v2)
	f.Add(v1)
	f.Add("")
	f.Add("Bearer ")
	f.Add("Basic dXNlcjpwYXNz")
	f.Add("Bearer a.b.c")
	f.Add("Bearer ..")
	f.Add("Bearer " + strings.Repeat("A", 100) + "." + strings.Repeat("B", 100) + ".")
	h, p, s := parts(v2)
	f.Add("Bearer " + h + "." + p + ".")
	f.Add("Bearer " + b64(`{"alg":"none"}`) + "." + p + ".")
	f.Add("Bearer " + b64(`{"alg":"HS256","kid":"`+fx.entra.KeyID()+`"}`) + "." + p + "." + s)
	f.Add("Bearer " + b64(`{"alg":"RS256","kid":"x","jku":"http://127.0.0.1/"}`) + "." + p + "." + s)
	f.Add("Bearer " + b64(`{"alg":"RS256","kid":"`+fx.entra.KeyID()+`","crit":["exp"]}`) + "." + p + "." + s)
	f.Add("Bearer " + h + "." + b64(`{"tid":"`+tenantA+`","roles":"x"}`) + "." + s)
	f.Add("Bearer " + h + "." + b64(`[]`) + "." + s)
	f.Add("Bearer " + h + "." + p + "." + s + "." + s)

	reasons := Reasons()
	f.Fuzz(func(t *testing.T, header string) {
		c, err := fx.v.Verify(bg(), header)
		_ = fx.v.Explain(bg(), header) // must not panic either
		if err != nil {
			var ae *Error
			if !errors.As(err, &ae) || !slices.Contains(reasons, ae.Reason) {
				t.Fatalf("refusal %T %v has no known reason", err, err)
			}
			return
		}
		if !fx.v.tenants[c.Tenant] || c.AppID != AzNSAppID || !slices.Contains(c.Roles, RoleSecureWebhook) ||
			!slices.Contains([]string{audURI, strings.ToLower(clientID)}, strings.ToLower(c.Audience)) ||
			c.KeyID != fx.entra.KeyID() || !fx.clock.Now().Before(c.Expiry) {
			t.Fatalf("accepted claims break a requirement: %+v", c)
		}
	})
}
