package auth

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Check is one step of token verification as Explain reports it.
type Check struct {
	Name    string // short name of the check, e.g. "signature"
	OK      bool   // the check passed
	Skipped bool   // the check could not run (an earlier one failed); not OK
	Reason  string // the Reason* constant when the check failed
	Detail  string // what was checked or what was wrong
}

// Explain runs every check Verify runs, in the same order, on token (a bare
// token or a whole "Bearer <token>" header value) and reports each one. It
// goes on after a failure wherever it can, so one run shows everything that
// is wrong; claim checks made without a verified signature say so. It never
// uses the token cache. The first failed check carries the Reason Verify
// would return.
func (v *Verifier) Explain(ctx context.Context, token string) []Check {
	var checks []Check
	add := func(name string, e *Error, okDetail string) bool {
		if e != nil {
			d := e.Detail
			if e.Err != nil {
				d += ": " + e.Err.Error()
			}
			checks = append(checks, Check{Name: name, Reason: e.Reason, Detail: d})
			return false
		}
		checks = append(checks, Check{Name: name, OK: true, Detail: okDetail})
		return true
	}
	skip := func(name, why string) {
		checks = append(checks, Check{Name: name, Skipped: true, Detail: "not checked: " + why})
	}

	raw := strings.TrimSpace(token)
	if strings.ContainsAny(token, " \t") {
		t, e := bearer(token)
		if !add("scheme", e, "Bearer") {
			return checks
		}
		raw = t
	}
	if raw == "" {
		add("scheme", refuse(ReasonMissingHeader, "no token"), "")
		return checks
	}
	add("size", v.checkSize(raw), fmt.Sprintf("%d bytes (limit %d)", len(raw), v.maxBytes))
	tok, tc, e := parseToken(raw)
	if !add("format", e, "compact JWS, alg RS256") {
		return checks
	}
	h := tok.Headers[0]
	add("header", checkHeader(h), fmt.Sprintf("kid %q, no key material (jwk, jku, x5u, x5c)", h.KeyID))

	tid := strings.ToLower(tc.TenantID)
	signed := false
	var snap *keySnapshot
	if add("tenant", v.checkTenant(tc.TenantID), fmt.Sprintf("tid %s is a configured tenant", tid)) {
		t := v.keys.tenant(v.authority, tid)
		key, s, e := t.lookup(ctx, h.KeyID)
		snap = s
		switch {
		case e != nil && e.Reason == ReasonKeysUnavailable:
			add("keys", e, "")
			skip("kid", "no signing keys")
			skip("signature", "no signing keys")
		default:
			add("keys", nil, fmt.Sprintf("%d signing key(s) for tenant %s from %s", len(s.keys), tid, v.authority))
			if add("kid", e, fmt.Sprintf("kid %q is a key of the tenant", h.KeyID)) {
				signed = add("signature", checkSignature(tok, key, h.KeyID), "RS256 signature verifies")
			} else {
				skip("signature", "no key for this kid")
			}
		}
	} else {
		skip("keys", "keys are fetched only for configured tenants")
		skip("kid", "tenant not allowed")
		skip("signature", "tenant not allowed")
	}

	note := ""
	if !signed {
		note = " (unverified: no valid signature)"
	}
	now := v.now()
	add("issuer", v.checkIssuer(tc.Issuer, tid, snap), fmt.Sprintf("iss %q%s", tc.Issuer, note))
	expDetail := ""
	if tc.Expiry != nil {
		exp := tc.Expiry.Time()
		expDetail = fmt.Sprintf("exp %s (%s left, skew %s)%s", exp.UTC().Format(time.RFC3339), exp.Sub(now).Round(time.Second), v.skew, note)
	}
	add("expiry", v.checkExpiry(tc, now), expDetail)
	add("not before", v.checkNotBefore(tc, now), "nbf and iat are not in the future"+note)
	aud, e := v.checkAudience(tc.Audience)
	add("audience", e, fmt.Sprintf("aud %q is configured%s", aud, note))
	app, e := v.checkAppID(tc)
	add("app id", e, fmt.Sprintf("%s is an allowed app id%s", app, note))
	add("roles", v.checkRoles(tc.Roles), fmt.Sprintf("roles %q include %q%s", tc.Roles, v.roles, note))
	return checks
}

// WriteChecks prints checks one per line ("ok", "FAIL" or "skip", name,
// detail) followed by a verdict line, and reports whether all passed.
func WriteChecks(w io.Writer, checks []Check) (allOK bool) {
	width := 0
	for _, c := range checks {
		width = max(width, len(c.Name))
	}
	allOK = len(checks) > 0
	first := ""
	for _, c := range checks {
		status, detail := "ok", c.Detail
		switch {
		case c.Skipped:
			status, allOK = "skip", false
		case !c.OK:
			status, allOK = "FAIL", false
			if c.Reason != "" {
				detail = c.Reason + ": " + detail
				if first == "" {
					first = c.Reason
				}
			}
		}
		fmt.Fprintf(w, "%-4s  %-*s  %s\n", status, width, c.Name, detail)
	}
	switch {
	case allOK:
		fmt.Fprintln(w, "token accepted")
	case first != "":
		fmt.Fprintf(w, "token refused: %s\n", first)
	default:
		fmt.Fprintln(w, "token refused")
	}
	return allOK
}
