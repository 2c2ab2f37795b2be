package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type genAlert struct {
	id, condition string
}

func decodeGen(t *testing.T, body []byte) genAlert {
	t.Helper()
	var doc struct {
		Data struct {
			Essentials struct {
				AlertID          string `json:"alertId"`
				MonitorCondition string `json:"monitorCondition"`
			} `json:"essentials"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("generated body is not JSON: %v\n%s", err, body)
	}
	return genAlert{doc.Data.Essentials.AlertID, doc.Data.Essentials.MonitorCondition}
}

var azureAlertID = regexp.MustCompile(`^/subscriptions/[0-9a-f-]{36}/providers/Microsoft\.AlertsManagement/alerts/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestGeneratorMix(t *testing.T) {
	cases := []struct {
		name                 string
		distinct             int
		duplicates, resolves float64
	}{
		{"only fires", 200, 0, 0},
		{"default mix", 800, 0.1, 0.2},
		{"many resolves", 300, 0, 0.6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := newGenerator(c.distinct, c.duplicates, c.resolves)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			fired := map[string]bool{}
			resolved := map[string]bool{}
			var total, dups int
			for {
				body, ok := g.next()
				if !ok {
					break
				}
				total++
				if total > 10*c.distinct {
					t.Fatal("the generator does not end")
				}
				a := decodeGen(t, body)
				if !azureAlertID.MatchString(a.id) {
					t.Fatalf("alert id %q is not an Azure alert id ending in a GUID", a.id)
				}
				if seen[string(body)] {
					dups++
					continue
				}
				seen[string(body)] = true
				switch a.condition {
				case "Fired":
					fired[a.id] = true
				case "Resolved":
					if !fired[a.id] || resolved[a.id] {
						t.Fatalf("resolve of %s: fired %v, already resolved %v", a.id, fired[a.id], resolved[a.id])
					}
					resolved[a.id] = true
				default:
					t.Fatalf("condition %q", a.condition)
				}
			}
			if len(fired) != c.distinct {
				t.Fatalf("%d distinct alerts fired, want %d", len(fired), c.distinct)
			}
			if c.duplicates == 0 && dups != 0 || c.duplicates > 0 && dups == 0 {
				t.Fatalf("%d duplicates with share %v", dups, c.duplicates)
			}
			if c.resolves == 0 && len(resolved) != 0 || c.resolves > 0 && len(resolved) == 0 {
				t.Fatalf("%d resolves with share %v", len(resolved), c.resolves)
			}
			// Another generator gets other alert ids.
			g2, _ := newGenerator(1, 0, 0)
			b, _ := g2.next()
			if fired[decodeGen(t, b).id] {
				t.Fatal("two runs share alert ids")
			}
		})
	}
}

// dedupIngress answers like the bridge's ingress: 202 for a new delivery,
// 200 for a repeat, 401 without the expected token.
type dedupIngress struct {
	token string
	mu    sync.Mutex
	seen  map[string]int
}

func (d *dedupIngress) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.Header.Get("Authorization") != "Bearer "+d.token {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	d.mu.Lock()
	d.seen[string(body)]++
	n := d.seen[string(body)]
	d.mu.Unlock()
	if n > 1 {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func TestLoadCountsWhatTheTargetAnswered(t *testing.T) {
	sb := startTestSandbox(t)
	tok, err := FetchToken(context.Background(), nil, TokenRequest{EntraURL: sb.EntraURL, Tenant: defaultTenant, Audience: defaultAudience})
	if err != nil {
		t.Fatal(err)
	}
	in := &dedupIngress{token: tok, seen: map[string]int{}}
	srv := httptest.NewServer(in)
	defer srv.Close()
	o := loadOptions{Duration: time.Minute, Connections: 8, Distinct: 300, Duplicates: 0.2, Resolves: 0.3}
	res, err := runLoadOnce(context.Background(), o, srv.URL, tok)
	if err != nil {
		t.Fatal(err)
	}
	var unique, repeats int
	for _, n := range in.seen {
		unique++
		repeats += n - 1
	}
	if res.byStatus[202] != unique || res.byStatus[200] != repeats || res.requests != unique+repeats ||
		res.acked != res.requests || len(res.latencies) != res.requests || len(res.errors) != 0 {
		t.Fatalf("result %+v; the target saw %d new and %d repeated deliveries", res, unique, repeats)
	}
	if repeats == 0 || unique <= o.Distinct {
		t.Fatalf("%d new deliveries (fires + resolves), %d repeats: the mix is missing", unique, repeats)
	}
	if res.percentile(50) > res.percentile(99) || res.percentile(99) > res.latencies[len(res.latencies)-1] {
		t.Fatalf("percentiles out of order: %v %v", res.percentile(50), res.percentile(99))
	}
}

func TestLoadStopsAtTheDurationAndRate(t *testing.T) {
	in := &dedupIngress{token: "t", seen: map[string]int{}}
	srv := httptest.NewServer(in)
	defer srv.Close()
	o := loadOptions{Rate: 20, Duration: 300 * time.Millisecond, Connections: 4, Distinct: maxLoadDistinct}
	res, err := runLoadOnce(context.Background(), o, srv.URL, "t")
	if err != nil {
		t.Fatal(err)
	}
	// 20/s with a burst of 1 for 0.3 s allows at most 7 requests.
	if res.requests > 7 {
		t.Fatalf("%d requests at 20/s for 300ms", res.requests)
	}
}

func TestLoadCommandReportsBaselineRatio(t *testing.T) {
	sb := startTestSandbox(t)
	// The target checks the token with the stand-in's keys, like the bridge.
	_, to := newVerifyingIngress(t, sb.EntraURL, defaultAudience)
	var out, errOut bytes.Buffer
	code := run([]string{"load", "-to", to, "-entra", sb.EntraURL, "-rate", "max", "-duration", "30s",
		"-connections", "4", "-distinct", "100", "-baseline"}, &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"baseline (bare net/http handler in this process)", to, "acked/s", "status  202: ", "latency p50", "ratio: "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "401") {
		t.Errorf("the verifier refused the load's token:\n%s", out.String())
	}
}

func TestLoadRefusesUnsafeOrBadFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"remote target", []string{"-to", "http://example.com/webhooks/azure"}, "only loopback targets"},
		{"remote entra", []string{"-entra", "http://10.0.0.1:18400"}, "-entra"},
		{"not http", []string{"-to", "ftp://127.0.0.1/x"}, "http:// or https://"},
		{"bad rate", []string{"-rate", "fast"}, "-rate must be"},
		{"too long", []string{"-duration", "1h"}, "-duration"},
		{"too many connections", []string{"-connections", "5000"}, "-connections"},
		{"no distinct alerts", []string{"-distinct", "0"}, "-distinct"},
		{"shares", []string{"-duplicates", "0.5", "-resolves", "0.5"}, "together below 0.9"},
		{"remote drain", []string{"-drain", "http://192.0.2.1:9090"}, "-drain"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(append([]string{"load"}, c.args...), &out, &errOut); code != exitFailed {
				t.Fatalf("exit %d, want %d", code, exitFailed)
			}
			if !strings.Contains(errOut.String(), c.want) {
				t.Fatalf("stderr %q lacks %q", errOut.String(), c.want)
			}
		})
	}
	for _, ok := range []string{"http://127.0.0.1:8080/x", "http://localhost:1/", "http://[::1]:9/"} {
		if err := loopbackURL(ok); err != nil {
			t.Errorf("loopbackURL(%s): %v", ok, err)
		}
	}
}
