package emulator

import (
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"
)

func TestTokenGrants(t *testing.T) {
	v := newEnv(t, Options{})
	with := func(k, val string) url.Values {
		f := passwordForm()
		f.Set(k, val)
		return f
	}
	tests := []struct {
		name      string
		form      url.Values
		query     string
		status    int
		errorCode string
		errorDesc string
	}{
		{name: "password ok", form: passwordForm(), query: "auth_mode=Internal", status: 200},
		{name: "auth_mode defaults to Internal", form: passwordForm(), status: 200},
		{name: "auth_mode in the body", form: with("auth_mode", "Internal"), status: 200},
		{name: "bad password", form: with("password", "nope"), status: 400, errorCode: "invalid_grant",
			errorDesc: "Could not login to system with the provided user ID and password."},
		{name: "bad user", form: with("username", "root"), status: 400, errorCode: "invalid_grant"},
		{name: "unknown client", form: with("client_id", "12345"), status: 400, errorCode: "invalid_client_id",
			errorDesc: "Client 12345 is not registered in the system."},
		{name: "disabled auth mode", form: passwordForm(), query: "auth_mode=LDAP", status: 400, errorCode: "invalid_grant"},
		{name: "bogus refresh token", form: url.Values{"grant_type": {"refresh_token"}, "client_id": {"sandbox"}, "refresh_token": {"abc"}}, status: 400, errorCode: "invalid_grant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, out := v.tokenForm(tc.form, tc.query)
			if st != tc.status {
				t.Fatalf("status = %d, want %d (%v)", st, tc.status, out)
			}
			if tc.status != 200 {
				if out["error"] != tc.errorCode {
					t.Errorf("error = %v, want %s", out["error"], tc.errorCode)
				}
				if tc.errorDesc != "" && out["error_description"] != tc.errorDesc {
					t.Errorf("error_description = %v", out["error_description"])
				}
				return
			}
			for _, k := range []string{"access_token", "refresh_token", ".issued", ".expires"} {
				if s, _ := out[k].(string); s == "" {
					t.Errorf("%s missing in %v", k, out)
				}
			}
			if out["token_type"] != "bearer" || out["as:client_id"] != "sandbox" || out["username"] != "sandbox" {
				t.Errorf("unexpected token response %v", out)
			}
			if out["expires_in"] != float64(1199) {
				t.Errorf("expires_in = %v, want 1199", out["expires_in"])
			}
		})
	}
}

func TestUnsupportedGrantType(t *testing.T) {
	// grant_type outside the spec's enum: the request itself violates the
	// contract, so use the unvalidated server.
	v := rawEnv(t, Options{})
	f := passwordForm()
	f.Set("grant_type", "client_credentials")
	st, out := v.tokenForm(f, "")
	if st != 400 || out["error"] != "unsupported_grant_type" {
		t.Fatalf("got %d %v", st, out)
	}
	// Ivanti's PowerShell sample passes the client id as api_key in the query.
	f = passwordForm()
	f.Del("client_id")
	if st, out := v.tokenForm(f, "auth_mode=Internal&api_key=sandbox"); st != 200 {
		t.Errorf("api_key: %d %v", st, out)
	}
}

func TestRefreshRotatesBothTokens(t *testing.T) {
	v := newEnv(t, Options{})
	access1, refresh1 := v.login()
	form := func(rt string) url.Values {
		return url.Values{"grant_type": {"refresh_token"}, "client_id": {"sandbox"}, "refresh_token": {rt}}
	}
	st, out := v.tokenForm(form(refresh1), "auth_mode=Internal")
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	access2, refresh2 := out["access_token"].(string), out["refresh_token"].(string)
	if access2 == access1 || refresh2 == refresh1 {
		t.Fatal("refresh did not issue new tokens")
	}
	if st := v.callTok(access1, "GET", "/api/V1/serviceinfo", nil, nil); st != 401 {
		t.Errorf("old access token after refresh: %d, want 401", st)
	}
	if st := v.callTok(access2, "GET", "/api/V1/serviceinfo", nil, nil); st != 200 {
		t.Errorf("new access token: %d, want 200", st)
	}
	st, out = v.tokenForm(form(refresh1), "")
	if st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("reusing the old refresh token: %d %v, want 400 invalid_grant", st, out)
	}
	if st, _ := v.tokenForm(form(refresh2), ""); st != 200 {
		t.Errorf("new refresh token: %d", st)
	}
}

func TestBearerRequired(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	// Requests without a bearer token break the spec's security requirement
	// on purpose, so this test talks to the emulator unvalidated.
	v := rawEnv(t, Options{Now: clock, TokenLifetime: time.Minute})
	tok, refresh := v.login()
	var msg apiMessage
	if st := v.callTok("", "GET", "/api/V1/serviceinfo", nil, &msg); st != 401 || msg.Message != "Authorization has been denied for this request." {
		t.Errorf("no token: %d %+v", st, msg)
	}
	if st := v.callTok("garbage", "GET", "/api/V1/serviceinfo", nil, nil); st != 401 {
		t.Errorf("unknown token: %d", st)
	}
	if st := v.callTok(tok, "GET", "/api/V1/serviceinfo", nil, nil); st != 200 {
		t.Fatalf("live token: %d", st)
	}
	advance(61 * time.Second)
	if st := v.callTok(tok, "GET", "/api/V1/serviceinfo", nil, nil); st != 401 {
		t.Errorf("expired token: %d, want 401", st)
	}
	// The refresh token outlives the access token.
	st, out := v.tokenForm(url.Values{"grant_type": {"refresh_token"}, "client_id": {"sandbox"}, "refresh_token": {refresh}}, "")
	if st != 200 {
		t.Fatalf("refresh after access expiry: %d %v", st, out)
	}
	tok = out["access_token"].(string)

	v.e.ExpireTokens(false)
	if st := v.callTok(tok, "GET", "/api/V1/serviceinfo", nil, nil); st != 401 {
		t.Errorf("after ExpireTokens: %d", st)
	}

	tok, _ = v.login()
	if st := v.callTok(tok, "DELETE", "/api/V1/logout", nil, nil); st != 200 {
		t.Fatalf("logout: %d", st)
	}
	if st := v.callTok(tok, "GET", "/api/V1/serviceinfo", nil, nil); st != 401 {
		t.Errorf("after logout: %d", st)
	}
}

func TestExpireTokensControl(t *testing.T) {
	v := newEnv(t, Options{})
	tok, refresh := v.login()
	if st := v.ctl("POST", "/tokens/expire?refresh=true", nil, nil); st != 204 {
		t.Fatalf("expire: %d", st)
	}
	if st := v.callTok(tok, "GET", "/api/V1/serviceinfo", nil, nil); st != 401 {
		t.Errorf("access after expire: %d", st)
	}
	st, out := v.tokenForm(url.Values{"grant_type": {"refresh_token"}, "client_id": {"sandbox"}, "refresh_token": {refresh}}, "")
	if st != 400 || out["error"] != "invalid_grant" {
		t.Errorf("refresh after expire(refresh=true): %d %v", st, out)
	}
}

func TestTokenFormatLooksLikeCSM(t *testing.T) {
	v := newEnv(t, Options{})
	_, out := v.tokenForm(passwordForm(), "")
	if !regexp.MustCompile(`^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT$`).MatchString(out[".issued"].(string)) {
		t.Errorf(".issued = %v, want an RFC 1123 GMT date", out[".issued"])
	}
	if v.e.TokenCount() != 1 {
		t.Errorf("TokenCount = %d", v.e.TokenCount())
	}
}
