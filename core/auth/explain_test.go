package auth

import (
	"bytes"
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/core/auth/entratest"
)

func checkNames(checks []Check) []string {
	var names []string
	for _, c := range checks {
		names = append(names, c.Name)
	}
	return names
}

func TestExplain(t *testing.T) {
	f := newFixture(t)
	all := []string{"size", "format", "header", "tenant", "keys", "kid", "signature", "issuer", "expiry", "not before", "audience", "app id", "roles"}

	cases := []struct {
		name    string
		token   string
		names   []string
		failed  map[string]string // check name → reason
		skipped []string
		verdict string
	}{
		{
			name:    "valid bare token",
			token:   f.token(entratest.TokenOptions{V1: true}),
			names:   all,
			verdict: "token accepted",
		},
		{
			name:    "valid header value",
			token:   "Bearer " + f.token(entratest.TokenOptions{}),
			names:   append([]string{"scheme"}, all...),
			verdict: "token accepted",
		},
		{
			name:    "every claim wrong at once",
			token:   f.token(entratest.TokenOptions{Audience: "api://other", AppID: "00000000-1111-2222-3333-444444444444", Roles: []string{}}),
			names:   all,
			failed:  map[string]string{"audience": ReasonBadAudience, "app id": ReasonBadAppID, "roles": ReasonMissingRole},
			verdict: "token refused: bad_audience",
		},
		{
			name:    "tenant not allowed: keys not fetched, claims still explained",
			token:   f.token(entratest.TokenOptions{Tenant: tenantOther}),
			names:   all,
			failed:  map[string]string{"tenant": ReasonTenantNotAllowed},
			skipped: []string{"keys", "kid", "signature"},
			verdict: "token refused: tenant_not_allowed",
		},
		{
			name:    "garbage stops after format",
			token:   "garbage",
			names:   []string{"size", "format"},
			failed:  map[string]string{"format": ReasonMalformed},
			verdict: "token refused: malformed",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checks := f.v.Explain(bg(), tc.token)
			if got := strings.Join(checkNames(checks), ","); got != strings.Join(tc.names, ",") {
				t.Fatalf("checks = %s\nwant     %s", got, strings.Join(tc.names, ","))
			}
			for _, c := range checks {
				reason, shouldFail := tc.failed[c.Name]
				shouldSkip := false
				for _, s := range tc.skipped {
					shouldSkip = shouldSkip || s == c.Name
				}
				switch {
				case shouldSkip:
					if !c.Skipped || c.OK {
						t.Errorf("%s: %+v, want skipped", c.Name, c)
					}
				case shouldFail:
					if c.OK || c.Skipped || c.Reason != reason {
						t.Errorf("%s: %+v, want failed with %s", c.Name, c, reason)
					}
				default:
					if !c.OK || c.Detail == "" {
						t.Errorf("%s: %+v, want ok with detail", c.Name, c)
					}
				}
			}
			var out bytes.Buffer
			ok := WriteChecks(&out, checks)
			if ok != (tc.verdict == "token accepted") {
				t.Errorf("WriteChecks = %v", ok)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != len(checks)+1 || lines[len(lines)-1] != tc.verdict {
				t.Errorf("output:\n%s", out.String())
			}
			if strings.Contains(out.String(), strings.TrimPrefix(tc.token, "Bearer ")) && len(tc.token) > 40 {
				t.Error("output contains the token")
			}
		})
	}
}

func TestWriteChecksEmpty(t *testing.T) {
	var out bytes.Buffer
	if WriteChecks(&out, nil) {
		t.Fatal("no checks reported as all OK")
	}
}
