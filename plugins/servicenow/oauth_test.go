package main

import (
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/plugins/servicenow/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// clock is a settable clock shared by the emulator and the plugin.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func oauthFixture(t *testing.T, grant string) (*emulator.Emulator, *Plugin, *clock) {
	t.Helper()
	clk := &clock{now: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)}
	emu := emulator.New(emulator.Options{Now: clk.Now,
		OAuthClients: []emulator.OAuthClient{{ID: "bridge", Secret: "client-s3cret", User: "sandbox"}}})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	p := NewWithLogger(hclog.NewNullLogger())
	p.now = clk.Now
	src := `instance_url = "` + srv.URL + `"
oauth {
  client_id     = "bridge"
  client_secret = "client-s3cret"
  grant_type    = "` + grant + `"
}`
	if grant == "password" {
		src += "\nusername = \"sandbox\"\npassword = \"sandbox\""
	}
	if d := configureHCL(t, p, src); d.HasErrors() {
		t.Fatalf("Configure: %s", d.Error())
	}
	return emu, p, clk
}

func tokenCalls(emu *emulator.Emulator) (grants []string) {
	for _, c := range emu.Calls() {
		if c.Path == "/oauth_token.do" {
			for _, kv := range []string{"grant_type=password", "grant_type=refresh_token", "grant_type=client_credentials"} {
				if contains(c.Body, kv) {
					grants = append(grants, kv[len("grant_type="):])
				}
			}
		}
	}
	return grants
}

func contains(s, sub string) bool { return len(sub) <= len(s) && (s == sub || indexOf(s, sub) >= 0) }
func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func TestOAuthPasswordGrantAndRefresh(t *testing.T) {
	emu, p, clk := oauthFixture(t, "password")
	for i := 0; i < 3; i++ {
		if _, err := p.Create(ctx(t), createReq("oauth")); err != nil {
			t.Fatal(err)
		}
	}
	if g := tokenCalls(emu); len(g) != 1 || g[0] != "password" {
		t.Fatalf("token calls = %v, want one password grant", g)
	}
	for _, c := range emu.Calls() {
		if c.Path == "/oauth_token.do" && c.ContentType != "application/x-www-form-urlencoded" {
			t.Errorf("token request content type %q", c.ContentType)
		}
	}
	// refreshed before expiry: at 1799 s − margin the plugin renews with the
	// refresh token while the old token is still valid on the instance.
	clk.Add(1799*time.Second - 30*time.Second)
	emu.ClearCalls()
	if err := p.Health(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if g := tokenCalls(emu); len(g) != 1 || g[0] != "refresh_token" {
		t.Fatalf("token calls after near-expiry = %v, want one refresh_token grant", g)
	}
	for _, c := range emu.Calls() {
		if c.Status == 401 {
			t.Errorf("a request failed with 401 before the refresh: %s %s", c.Method, c.Path)
		}
	}
	// a token revoked early: 401 → refresh → retried once, transparently
	emu.ExpireTokens()
	emu.ClearCalls()
	if err := p.Health(ctx(t)); err != nil {
		t.Fatalf("health after server-side expiry: %v", err)
	}
	if g := tokenCalls(emu); len(g) != 1 {
		t.Errorf("token calls after 401 = %v", g)
	}
}

func TestOAuthClientCredentials(t *testing.T) {
	emu, p, _ := oauthFixture(t, "client_credentials")
	ref, err := p.Create(ctx(t), createReq("cc"))
	if err != nil {
		t.Fatal(err)
	}
	if rec, _ := emu.Record("incident", ref.ID); rec["sys_created_by"] != "sandbox" {
		t.Errorf("created by %q", rec["sys_created_by"])
	}
	// no refresh token: an expired token is replaced by a new grant
	emu.ExpireTokens()
	emu.ClearCalls()
	if err := p.Health(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if g := tokenCalls(emu); len(g) != 1 || g[0] != "client_credentials" {
		t.Errorf("token calls = %v", g)
	}
}

func TestOAuth401StaysPermanent(t *testing.T) {
	emu, p, _ := oauthFixture(t, "password")
	emu.InjectFault(emulator.Fault{Status: 401, PathPrefix: "/api/"})
	emu.ClearCalls()
	err := p.Health(ctx(t))
	wantKind(t, "persistent 401", err, sdk.KindPermanent)
	api := 0
	for _, c := range emu.Calls() {
		if c.Path != "/oauth_token.do" {
			api++
		}
	}
	if api != 2 {
		t.Errorf("%d API attempts, want the request and one retry after the refresh", api)
	}
}
