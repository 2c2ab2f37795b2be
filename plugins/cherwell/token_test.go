package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/plugins/cherwell/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// TestTokenRotation: after the plugin refreshes, the refresh token it used
// is dead (CSM rotates both tokens) and the plugin keeps working.
func TestTokenRotation(t *testing.T) {
	rec := &recorder{}
	e := newTestEnv(t, envOpts{plugin: []Option{WithTransport(rec)}})
	if _, err := e.p.Create(ctx(t), createReq("k1")); err != nil {
		t.Fatal(err)
	}
	e.emu.ExpireTokens(false) // the access token dies; the refresh token lives
	if _, err := e.p.Create(ctx(t), createReq("k2")); err != nil {
		t.Fatalf("create after the access token expired: %v", err)
	}
	bodies := rec.bodies()
	if len(bodies) != 2 {
		t.Fatalf("token calls = %d, want login + refresh", len(bodies))
	}
	var first, second tokenResponse
	_ = json.Unmarshal([]byte(bodies[0]), &first)
	_ = json.Unmarshal([]byte(bodies[1]), &second)
	if first.RefreshToken == "" || second.RefreshToken == "" || first.RefreshToken == second.RefreshToken {
		t.Fatalf("refresh tokens %q → %q", first.RefreshToken, second.RefreshToken)
	}
	// The grant the plugin sent was a refresh, not a new login.
	var grants []string
	for _, c := range e.emu.Calls() {
		if strings.HasSuffix(c.Path, "/token") {
			v, _ := url.ParseQuery(c.Body)
			grants = append(grants, v.Get("grant_type"))
		}
	}
	if strings.Join(grants, ",") != "password,refresh_token" {
		t.Errorf("grants = %v", grants)
	}
	// The old refresh token fails after use.
	resp, err := http.PostForm(e.srv.URL+"/CherwellAPI/token?auth_mode=Internal", url.Values{
		"grant_type": {"refresh_token"}, "client_id": {testClientID}, "refresh_token": {first.RefreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	var te tokenError
	_ = json.NewDecoder(resp.Body).Decode(&te)
	resp.Body.Close()
	if resp.StatusCode != 400 || te.Error != "invalid_grant" {
		t.Errorf("old refresh token: %d %+v, want 400 invalid_grant", resp.StatusCode, te)
	}
	// The plugin's current token still works.
	if err := e.p.Health(ctx(t)); err != nil {
		t.Errorf("health after rotation: %v", err)
	}
}

func TestTokenRefreshPaths(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(e *testEnv)
		wantGrants string // grants after Configure's login
		want401s   int
	}{
		{name: "live token: no grant", setup: func(*testEnv) {}, wantGrants: ""},
		{name: "expired access: refresh once on 401", setup: func(e *testEnv) { e.emu.ExpireTokens(false) }, wantGrants: "refresh_token", want401s: 1},
		{name: "expired refresh too: password login", setup: func(e *testEnv) { e.emu.ExpireTokens(true) }, wantGrants: "refresh_token,password", want401s: 1},
		{name: "one injected 401", setup: func(e *testEnv) {
			e.emu.InjectFault(emulator.Fault{Status: 401, Count: 1, PathPrefix: "/CherwellAPI/api/"})
		}, wantGrants: "refresh_token", want401s: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, envOpts{})
			e.emu.ClearCalls()
			tc.setup(e)
			if err := e.p.Health(ctx(t)); err != nil {
				t.Fatal(err)
			}
			var grants []string
			n401 := 0
			for _, c := range e.emu.Calls() {
				if strings.HasSuffix(c.Path, "/token") {
					v, _ := url.ParseQuery(c.Body)
					grants = append(grants, v.Get("grant_type"))
				}
				if c.Status == 401 {
					n401++
				}
			}
			if strings.Join(grants, ",") != tc.wantGrants || n401 != tc.want401s {
				t.Errorf("grants %v, 401s %d; want %q, %d", grants, n401, tc.wantGrants, tc.want401s)
			}
		})
	}
}

// TestTokenRenewedBeforeExpiry: close to expiry the plugin refreshes on its
// own, without waiting for a 401.
func TestTokenRenewedBeforeExpiry(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newTestEnv(t, envOpts{plugin: []Option{WithClock(clock)}})
	e.emu.ClearCalls()
	mu.Lock()
	now = now.Add(20*time.Minute - 30*time.Second) // inside the renewal margin, before CSM's expiry
	mu.Unlock()
	if err := e.p.Health(ctx(t)); err != nil {
		t.Fatal(err)
	}
	var grants []string
	for _, c := range e.emu.Calls() {
		if c.Status == 401 {
			t.Errorf("a call got 401: %+v", c)
		}
		if strings.HasSuffix(c.Path, "/token") {
			v, _ := url.ParseQuery(c.Body)
			grants = append(grants, v.Get("grant_type"))
		}
	}
	if strings.Join(grants, ",") != "refresh_token" {
		t.Errorf("grants = %v, want a proactive refresh", grants)
	}
}

// TestConcurrentCallsShareOneRefresh: many calls hitting an expired token
// renew it once, not once each (each refresh would kill the others' tokens).
func TestConcurrentCallsShareOneRefresh(t *testing.T) {
	e := newTestEnv(t, envOpts{})
	e.emu.ExpireTokens(false)
	e.emu.ClearCalls()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.p.Health(ctx(t))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := e.countCalls("POST", "/token"); n != 1 {
		t.Errorf("token calls = %d, want 1", n)
	}
}

func TestSecretsStayOutOfErrorsAndLogs(t *testing.T) {
	e := newTestEnv(t, envOpts{})
	e.emu.InjectFault(emulator.Fault{Status: 401})
	_, err := e.p.Create(ctx(t), createReq("k"))
	e.emu.ClearFaults()
	if err == nil || sdk.IsRetryable(err) {
		t.Fatalf("persistent 401: %v", err)
	}
	for _, txt := range []string{err.Error(), e.logText()} {
		if strings.Contains(txt, testPassword) {
			t.Errorf("password leaked: %s", txt)
		}
	}
}
