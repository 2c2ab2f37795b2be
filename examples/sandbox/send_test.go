package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/itsmbridge/itsmbridge/core/auth"
)

// verifyingIngress is an ingress that checks tokens with the bridge's own
// verifier (core/auth) against the sandbox's Entra ID stand-in, and records
// the bodies it accepted.
type verifyingIngress struct {
	v      *auth.Verifier
	mu     sync.Mutex
	bodies [][]byte
	claims []*auth.Claims
}

func newVerifyingIngress(t *testing.T, authority, audience string) (*verifyingIngress, string) {
	t.Helper()
	v, err := auth.NewVerifier(auth.Config{
		Tenants: []string{defaultTenant}, Audiences: []string{audience}, Authority: authority,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	t.Cleanup(v.Close)
	in := &verifyingIngress{v: v}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.Verify(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		in.mu.Lock()
		in.bodies = append(in.bodies, body)
		in.claims = append(in.claims, c)
		in.mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"accepted"}`))
	}))
	t.Cleanup(srv.Close)
	return in, srv.URL + "/webhooks/azure"
}

func TestSendSignsTokensTheVerifierAccepts(t *testing.T) {
	sb := startTestSandbox(t)
	file := filepath.Join(t.TempDir(), "alert.json")
	if err := os.WriteFile(file, []byte(`{"schemaId":"azureMonitorCommonAlertSchema","data":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name        string
		v1          bool
		wantVersion string
	}{
		{"v2 token", false, "2.0"},
		{"v1 token", true, "1.0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, to := newVerifyingIngress(t, sb.EntraURL, defaultAudience)
			args := []string{"-entra", sb.EntraURL, "-tenant", defaultTenant, "-audience", defaultAudience, "-to", to}
			if c.v1 {
				args = append(args, "-v1")
			}
			args = append(args, file, samplePrefix+sampleMetric)
			var out, errOut bytes.Buffer
			if code := run(append([]string{"send"}, args...), &out, &errOut); code != exitOK {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 2 || !strings.HasPrefix(lines[0], file+" → 202 Accepted") ||
				!strings.HasPrefix(lines[1], samplePrefix+sampleMetric+" → 202 Accepted") {
				t.Fatalf("output:\n%s", out.String())
			}
			if len(in.claims) != 2 || in.claims[0].Version != c.wantVersion || in.claims[0].AppID != auth.AzNSAppID ||
				in.claims[0].Tenant != defaultTenant {
				t.Fatalf("claims %+v", in.claims)
			}
			want, _ := sample(sampleMetric)
			if !bytes.Equal(in.bodies[1], want) {
				t.Fatalf("the sample was not posted unchanged")
			}
		})
	}
}

func TestSendFailsOnA401(t *testing.T) {
	sb := startTestSandbox(t)
	// The ingress expects another audience: the token is refused.
	_, to := newVerifyingIngress(t, sb.EntraURL, "api://someone-else")
	var out, errOut bytes.Buffer
	code := run([]string{"send", "-entra", sb.EntraURL, "-to", to, samplePrefix + sampleLog}, &out, &errOut)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitFailed, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), sampleLog+" → 401 Unauthorized") {
		t.Fatalf("output: %s", out.String())
	}
}

func TestSendUsageErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no files", []string{"send"}, "usage: itsmbridge-sandbox send"},
		{"missing file", []string{"send", "/nonexistent/alert.json"}, "/nonexistent/alert.json: reading payload"},
		{"unknown sample", []string{"send", samplePrefix + "nope.json"}, `no embedded sample "nope.json"`},
		{"no stand-in", []string{"send", "-entra", "http://127.0.0.1:1", samplePrefix + sampleLog}, "getting a token from the Entra ID stand-in"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(c.args, &out, &errOut); code == exitOK {
				t.Fatalf("exit 0, want a failure")
			}
			if !strings.Contains(errOut.String(), c.want) {
				t.Fatalf("stderr %q lacks %q", errOut.String(), c.want)
			}
		})
	}
}

func TestAsResolvedAndAsActiveChangeOnlyTheStatus(t *testing.T) {
	metric, _ := sample(sampleMetric)
	res, err := asResolved(metric)
	if err != nil {
		t.Fatal(err)
	}
	var a, b map[string]any
	_ = json.Unmarshal(metric, &a)
	_ = json.Unmarshal(res, &b)
	ess := b["data"].(map[string]any)["essentials"].(map[string]any)
	if ess["monitorCondition"] != "Resolved" || ess["resolvedDateTime"] != "2025-04-15T18:24:12.851Z" {
		t.Fatalf("essentials %v", ess)
	}
	delete(ess, "resolvedDateTime")
	ess["monitorCondition"] = "Fired"
	if ja, jb := mustJSON(t, a), mustJSON(t, b); ja != jb {
		t.Fatalf("asResolved changed more than the status:\n%s\n%s", ja, jb)
	}

	health, _ := sample(sampleHealth)
	act, err := asActive(health)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	_ = json.Unmarshal(act, &h)
	ctx := h["data"].(map[string]any)["alertContext"].(map[string]any)
	props := ctx["properties"].(map[string]any)
	if ctx["status"] != "Active" || props["stage"] != "Active" || props["impactMitigationTime"] != nil {
		t.Fatalf("alertContext %v", ctx)
	}
	if _, err := asActive(metric); err == nil {
		t.Fatal("asActive accepted a metric alert")
	}
	if _, err := asResolved([]byte(`{"data":{}}`)); err == nil {
		t.Fatal("asResolved accepted a payload without essentials")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
