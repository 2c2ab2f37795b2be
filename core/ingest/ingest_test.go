package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/auth"
	"github.com/itsmbridge/itsmbridge/core/auth/entratest"
	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/core/route"
	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/sqlite"
	"github.com/itsmbridge/itsmbridge/sdk"
)

const (
	tenant   = "00000000-0000-0000-0000-00000000a2e1"
	audience = "api://itsmbridge"
)

// oneRoute routes every alert to backend fake.test with the alert id as key.
type oneRoute struct{}

func (oneRoute) Route(a *alert.Alert) ([]route.Delivery, []route.Result) {
	return []route.Delivery{{
		Route: "all", Backend: config.BackendRef{Type: "fake", Name: "test"}, TicketKey: "key-" + a.ID,
		Ticket:    sdk.Ticket{Title: a.Rule},
		Lifecycle: config.Lifecycle{Resolve: true, OnRepeat: "comment"},
	}}, nil
}

type env struct {
	t        testing.TB
	verifier *auth.Verifier
	entra    *entratest.Server
	store    *sqlite.Store
	srv      *httptest.Server
	ingest   *Handler
}

func newEnv(t testing.TB, allowedSubs ...string) *env {
	t.Helper()
	e := &env{t: t, entra: entratest.New()}
	authority := e.entra.Start()
	t.Cleanup(e.entra.Close)
	v, err := auth.NewVerifier(auth.Config{Tenants: []string{tenant}, Audiences: []string{audience}, Authority: authority})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	e.verifier = v
	e.store, err = sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.store.Close() })
	e.ingest = New(e.store, nil, nil)
	e.ingest.Set(&Snapshot{
		Sources:      map[string]*Source{"/hook": {Name: "prod", Path: "/hook", Verifier: v, AllowedSubscriptions: allowedSubs}},
		Router:       oneRoute{},
		MaxBodyBytes: 64 << 10,
	})
	e.srv = httptest.NewServer(e.ingest)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) token() string {
	e.t.Helper()
	tok, err := e.entra.ActionGroupToken(entratest.TokenOptions{Tenant: tenant, Audience: audience})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

func (e *env) post(auth string, body []byte) (*http.Response, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/hook", bytes.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp, m
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAcceptedThenDuplicate(t *testing.T) {
	e := newEnv(t)
	tok := "Bearer " + e.token()
	body := sample(t, "common-log-alerts-v2-fired.json")
	resp, m := e.post(tok, body)
	if resp.StatusCode != http.StatusAccepted || m["status"] != "accepted" || m["deliveries"] != 1.0 {
		t.Fatalf("first post: %d %v", resp.StatusCode, m)
	}
	resp, m = e.post(tok, body)
	if resp.StatusCode != http.StatusOK || m["status"] != "duplicate" {
		t.Fatalf("second post: %d %v", resp.StatusCode, m)
	}
	st, err := e.store.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Alerts != 1 || st.Pending != 1 {
		t.Fatalf("stats = %+v, want one alert and one pending delivery", st)
	}
	page, err := e.store.ListAlerts(context.Background(), store.AlertFilter{}, store.PageRequest{})
	if err != nil || len(page.Items) != 1 || page.Items[0].Source != "prod" {
		t.Fatalf("alerts = %+v, %v", page.Items, err)
	}
}

func TestConcurrentDuplicatesCollapse(t *testing.T) {
	e := newEnv(t)
	tok := "Bearer " + e.token()
	body := sample(t, "common-platform-metric-static-resolved.json")
	codes := make(chan int, 40)
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := e.post(tok, body)
			codes <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[http.StatusAccepted] != 1 || count[http.StatusOK] != 39 {
		t.Fatalf("status counts = %v, want one 202 and 39 200", count)
	}
	if st, _ := e.store.Stats(context.Background()); st.Alerts != 1 || st.Pending != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestRefusals(t *testing.T) {
	e := newEnv(t)
	good := "Bearer " + e.token()
	body := sample(t, "common-log-alerts-v2-fired.json")
	expired, err := e.entra.ActionGroupToken(entratest.TokenOptions{Tenant: tenant, Audience: audience, Now: time.Now().Add(-3 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	big := append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), 70<<10)...)
	big = append(big, `"}`...)
	tests := []struct {
		name   string
		auth   string
		body   []byte
		status int
		errSub string
	}{
		{"no token", "", body, 401, "unauthorized"},
		{"garbage token", "Bearer not.a.jwt", body, 401, "unauthorized"},
		{"expired token", "Bearer " + expired, body, 401, "unauthorized"},
		{"malformed JSON", good, []byte(`{"schemaId":`), 400, "malformed"},
		{"body over the limit", good, big, 400, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, m := e.post(tt.auth, tt.body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d (%v), want %d", resp.StatusCode, m, tt.status)
			}
			if msg, _ := m["error"].(string); !strings.Contains(msg, tt.errSub) {
				t.Fatalf("error = %q, want it to contain %q", msg, tt.errSub)
			}
			if tt.status == 401 {
				if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
					t.Fatalf("WWW-Authenticate = %q", got)
				}
				if len(m) != 1 {
					t.Fatalf("401 body leaks detail: %v", m)
				}
			}
		})
	}
	if st, _ := e.store.Stats(context.Background()); st.Alerts != 0 || st.Quarantined != 0 {
		t.Fatalf("refused calls stored something: %+v", st)
	}
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/hook", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET = %d", resp.StatusCode)
	}
}

func TestUnknownSchemaIsQuarantined(t *testing.T) {
	e := newEnv(t)
	resp, m := e.post("Bearer "+e.token(), []byte(`{"hello":"world"}`))
	if resp.StatusCode != http.StatusAccepted || m["status"] != "quarantined" {
		t.Fatalf("post = %d %v", resp.StatusCode, m)
	}
	page, err := e.store.ListQuarantine(context.Background(), store.QuarantineFilter{}, store.PageRequest{})
	if err != nil || len(page.Items) != 1 || page.Items[0].Source != "prod" {
		t.Fatalf("quarantine = %+v, %v", page.Items, err)
	}
}

func TestSubscriptionAllowList(t *testing.T) {
	e := newEnv(t, "11111111-2222-3333-4444-555555555555")
	resp, m := e.post("Bearer "+e.token(), sample(t, "common-log-alerts-v2-fired.json"))
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("post = %d %v, want 403", resp.StatusCode, m)
	}
}

func TestKeysUnavailableIs503(t *testing.T) {
	e := newEnv(t)
	tok := "Bearer " + e.token()
	e.entra.SetDown(http.StatusInternalServerError)
	resp, m := e.post(tok, sample(t, "common-log-alerts-v2-fired.json"))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("post = %d %v (Retry-After %q), want 503 with Retry-After", resp.StatusCode, m, resp.Header.Get("Retry-After"))
	}
}

func TestStoreFailureIs503AndNothingStored(t *testing.T) {
	e := newEnv(t)
	tok := "Bearer " + e.token()
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}
	resp, m := e.post(tok, sample(t, "common-log-alerts-v2-fired.json"))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("post = %d %v, want 503 + Retry-After", resp.StatusCode, m)
	}
	resp, _ = e.post(tok, []byte(`{"unknown":true}`))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("quarantine on a closed store = %d, want 503", resp.StatusCode)
	}
}

func TestSourceRateLimit(t *testing.T) {
	e := newEnv(t)
	snap := *e.ingest.current.Load()
	src := *snap.Sources["/hook"]
	src.Limiter = rate.NewLimiter(rate.Every(time.Hour), 1)
	snap.Sources = map[string]*Source{"/hook": &src}
	e.ingest.Set(&snap)
	tok := "Bearer " + e.token()
	if resp, m := e.post(tok, sample(t, "common-log-alerts-v2-fired.json")); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first = %d %v", resp.StatusCode, m)
	}
	resp, _ := e.post(tok, sample(t, "common-platform-metric-static-resolved.json"))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second = %d, want 429 with Retry-After", resp.StatusCode)
	}
}
