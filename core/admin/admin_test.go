package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/sqlite"
	"github.com/itsmbridge/itsmbridge/sdk"
)

type fakeRuntime struct {
	ready    error
	reloads  int
	reloadOK bool
}

func (f *fakeRuntime) Ready(context.Context) error { return f.ready }
func (f *fakeRuntime) Reload(context.Context) (any, bool) {
	f.reloads++
	return map[string]any{"ok": f.reloadOK}, f.reloadOK
}
func (f *fakeRuntime) Backends() any   { return []string{"jsonl.file"} }
func (f *fakeRuntime) ConfigDump() any { return map[string]string{"admin_token": "(sensitive)"} }
func (f *fakeRuntime) ReplayQuarantine(context.Context, int64) (store.IngestResult, error) {
	return store.IngestResult{}, fmt.Errorf("%w: still unknown", store.ErrInvalid)
}

var backend = store.BackendID{Type: "jsonl", Name: "file"}

func newAPI(t *testing.T, token string) (*httptest.Server, *sqlite.Store, *fakeRuntime) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rt := &fakeRuntime{reloadOK: true}
	srv := httptest.NewServer(New(Options{Store: st, Runtime: rt, Token: token, Metrics: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "m 1\n") })}))
	t.Cleanup(srv.Close)
	return srv, st, rt
}

func seed(t *testing.T, st *sqlite.Store, n int) []int64 {
	t.Helper()
	var ids []int64
	for i := range n {
		res, err := st.Ingest(context.Background(), store.IngestRecord{
			Source: "prod",
			Alert: sdk.Alert{ID: fmt.Sprintf("a%d", i), Status: "fired", Severity: i % 5, Rule: fmt.Sprintf("rule-%d", i%2),
				DedupKey: fmt.Sprintf("a%d|fired", i), Targets: []string{}, ConfigurationItems: []string{}, Custom: map[string]string{}},
			Raw:        []byte(`{}`),
			Deliveries: []store.NewDelivery{{Route: "all", Backend: backend, TicketKey: fmt.Sprintf("k%d", i), Event: store.EventFired}},
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Deliveries[0])
	}
	return ids
}

func do(t *testing.T, method, url, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func TestTokenRequiredExceptHealth(t *testing.T) {
	srv, _, _ := newAPI(t, "s3cret")
	for _, p := range []string{"/api/v1/alerts", "/api/v1/dlq", "/metrics", "/api/v1/config"} {
		if code, _ := do(t, "GET", srv.URL+p, ""); code != http.StatusUnauthorized {
			t.Errorf("%s without token = %d", p, code)
		}
		if code, _ := do(t, "GET", srv.URL+p, "wrong"); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token = %d", p, code)
		}
	}
	if code, _ := do(t, "GET", srv.URL+"/api/v1/alerts", "s3cret"); code != 200 {
		t.Errorf("with token = %d", code)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := do(t, "GET", srv.URL+p, ""); code != 200 {
			t.Errorf("%s = %d, want 200 without token", p, code)
		}
	}
}

func TestListingsPaginateAndFilter(t *testing.T) {
	srv, st, _ := newAPI(t, "")
	seed(t, st, 7)
	seen := map[string]bool{}
	url := srv.URL + "/api/v1/alerts?limit=3"
	pages := 0
	for {
		code, m := do(t, "GET", url, "")
		if code != 200 {
			t.Fatalf("%s = %d %v", url, code, m)
		}
		for _, it := range m["items"].([]any) {
			seen[it.(map[string]any)["AlertID"].(string)] = true
		}
		pages++
		next, _ := m["next"].(string)
		if next == "" {
			break
		}
		url = srv.URL + "/api/v1/alerts?limit=3&cursor=" + next
	}
	if len(seen) != 7 || pages != 3 {
		t.Fatalf("saw %d alerts in %d pages", len(seen), pages)
	}
	_, m := do(t, "GET", srv.URL+"/api/v1/alerts?rule=rule-1&severity=Sev1,3", "")
	if n := len(m["items"].([]any)); n != 2 { // a1 (sev1) and a3 (sev3)
		t.Fatalf("filtered = %d items: %v", n, m)
	}
	if code, _ := do(t, "GET", srv.URL+"/api/v1/alerts?severity=high", ""); code != 400 {
		t.Fatalf("bad severity = %d", code)
	}
	if code, _ := do(t, "GET", srv.URL+"/api/v1/deliveries?state=bogus", ""); code != 400 {
		t.Fatalf("bad state = %d", code)
	}
	if code, _ := do(t, "GET", srv.URL+"/api/v1/alerts/999", ""); code != 404 {
		t.Fatalf("missing alert = %d", code)
	}
	code, m := do(t, "GET", srv.URL+"/api/v1/deliveries?state=pending&backend=jsonl.file", "")
	if code != 200 || len(m["items"].([]any)) != 7 {
		t.Fatalf("pending deliveries = %d %v", code, m)
	}
}

func TestDeadLetterReplayAndDrop(t *testing.T) {
	srv, st, _ := newAPI(t, "")
	ids := seed(t, st, 2)
	ctx := context.Background()
	ds, err := st.Claim(ctx, "w", backend, 2, time.Minute)
	if err != nil || len(ds) != 2 {
		t.Fatalf("claim: %v %v", ds, err)
	}
	for _, d := range ds {
		if err := st.DeadLetter(ctx, d.ID, "w", "vendor said 400"); err != nil {
			t.Fatal(err)
		}
	}
	_, m := do(t, "GET", srv.URL+"/api/v1/dlq", "")
	if len(m["items"].([]any)) != 2 {
		t.Fatalf("dlq = %v", m)
	}
	if code, m := do(t, "POST", fmt.Sprintf("%s/api/v1/dlq/%d/replay", srv.URL, ids[0]), ""); code != 200 || m["status"] != "replayed" {
		t.Fatalf("replay = %d %v", code, m)
	}
	if code, _ := do(t, "DELETE", fmt.Sprintf("%s/api/v1/dlq/%d", srv.URL, ids[1]), ""); code != 200 {
		t.Fatalf("drop = %d", code)
	}
	if code, _ := do(t, "POST", fmt.Sprintf("%s/api/v1/dlq/%d/replay", srv.URL, ids[1]), ""); code != 404 {
		t.Fatalf("replay of a dropped letter = %d, want 404", code)
	}
	d, err := st.GetDelivery(ctx, ids[0])
	if err != nil || d.State != store.StatePending || d.Attempts != 0 {
		t.Fatalf("replayed delivery = %+v %v", d, err)
	}
}

func TestReadyAndReload(t *testing.T) {
	srv, _, rt := newAPI(t, "")
	rt.ready = errors.New("backend servicenow.prod: plugin not running")
	code, m := do(t, "GET", srv.URL+"/readyz", "")
	if code != 503 || !strings.Contains(m["reason"].(string), "servicenow.prod") {
		t.Fatalf("readyz = %d %v", code, m)
	}
	if code, _ := do(t, "POST", srv.URL+"/api/v1/reload", ""); code != 200 || rt.reloads != 1 {
		t.Fatalf("reload = %d", code)
	}
	rt.reloadOK = false
	if code, _ := do(t, "POST", srv.URL+"/api/v1/reload", ""); code != http.StatusUnprocessableEntity {
		t.Fatalf("failed reload = %d", code)
	}
	if code, m := do(t, "POST", srv.URL+"/api/v1/quarantine/1/replay", ""); code != 400 || !strings.Contains(m["error"].(string), "still unknown") {
		t.Fatalf("quarantine replay = %d %v", code, m)
	}
}

func TestCrossSiteWritesRefused(t *testing.T) {
	srv, st, _ := newAPI(t, "")
	ids := seed(t, st, 1)
	url := fmt.Sprintf("%s/api/v1/dlq/%d/drop", srv.URL, ids[0])
	for name, hdr := range map[string][2]string{
		"sec-fetch-site cross-site": {"Sec-Fetch-Site", "cross-site"},
		"foreign origin":            {"Origin", "http://evil.example"},
	} {
		req, _ := http.NewRequest(http.MethodPost, url, nil)
		req.Header.Set(hdr[0], hdr[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, resp.StatusCode)
		}
	}
	// The same request from the console's own origin goes through to the
	// handler (404: the delivery is not a dead letter).
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	req.Header.Set("Origin", srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("same-origin: status %d, want 404", resp.StatusCode)
	}
}
