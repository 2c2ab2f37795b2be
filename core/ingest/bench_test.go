package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// loadResult is one HTTP load run.
type loadResult struct {
	perSec float64
	p50    time.Duration
	p99    time.Duration
	// cpuPerReq is the whole process's CPU time (user + system) per
	// request: server, load generator and background work such as the
	// store's writer. Other processes' load on the machine hardly changes
	// it, unlike the rates.
	cpuPerReq time.Duration
}

// processCPU is the CPU time this process has used so far.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runLoad posts n distinct bodies over conns keep-alive connections.
func runLoad(b *testing.B, url, token string, bodies [][]byte, conns int) loadResult {
	b.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var next atomic.Int64
	lat := make([][]time.Duration, conns)
	var wg sync.WaitGroup
	cpu0 := processCPU(b)
	start := time.Now()
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i]))
				req.Header.Set("Authorization", token)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU(b) - cpu0
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return loadResult{}
	}
	return loadResult{perSec: float64(len(all)) / elapsed.Seconds(), p50: all[len(all)/2], p99: all[len(all)*99/100],
		cpuPerReq: cpu / time.Duration(len(all))}
}

// BenchmarkIngestHTTP measures the whole ingress (cached token, normalize,
// route, durable group commit on SQLite) under 64 keep-alive connections,
// against a bare net/http handler that reads the body and answers 202, in
// the same run: the ratio is what matters on a shared machine. It runs on
// two official samples: the log search alert (4.4 KB, one of the largest
// common-schema payloads) and the metric alert (1.7 KB, the most common
// kind).
func BenchmarkIngestHTTP(b *testing.B) {
	for _, c := range []struct{ name, sample string }{
		{"log-alert", "common-log-alerts-v2-fired.json"},
		{"metric-alert", "common-platform-metric-static-resolved.json"},
	} {
		b.Run(c.name, func(b *testing.B) { benchIngestHTTP(b, c.sample) })
	}
}

func benchIngestHTTP(b *testing.B, sample string) {
	const conns = 64
	n := max(b.N, 2000)
	raw, err := readSample(sample)
	if err != nil {
		b.Fatal(err)
	}
	bodies := make([][]byte, n)
	rng := rand.New(rand.NewPCG(uint64(n), 1)) // the same ids in every run
	for i := range bodies {
		bodies[i] = withAlertID(b, raw, rng)
	}

	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer bare.Close()

	e := newEnv(b)
	tok := "Bearer " + e.token()
	// Warm the key cache and the token cache.
	if _, err := e.verifier.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	base := runLoad(b, bare.URL, tok, bodies, conns)
	got := runLoad(b, e.srv.URL+"/hook", tok, bodies, conns)
	b.StopTimer()
	b.ReportMetric(got.perSec, "alerts/s")
	b.ReportMetric(base.perSec, "baseline-req/s")
	b.ReportMetric(got.perSec/base.perSec, "ratio")
	b.ReportMetric(float64(got.p50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(got.p99.Microseconds()), "p99-µs")
	b.ReportMetric(float64(got.cpuPerReq.Microseconds()), "cpu-µs/alert")
	b.ReportMetric(float64(base.cpuPerReq.Microseconds()), "baseline-cpu-µs/req")
}

func readSample(name string) ([]byte, error) { return os.ReadFile(filepath.Join("testdata", name)) }

// guid is a random version-4 GUID in Azure's lower-case form.
func guid(rng *rand.Rand) string {
	hi, lo := rng.Uint64(), rng.Uint64()
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xfff, lo>>48&0x3fff|0x8000, lo&0xffffffffffff)
}

func withAlertID(tb testing.TB, raw []byte, rng *rand.Rand) []byte {
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatal(err)
	}
	ess := m["data"].(map[string]any)["essentials"].(map[string]any)
	// A random GUID, as Azure's alert ids are: sequential ids would make
	// the store's alert-id and ticket-key indexes grow at one edge, which
	// real traffic never does.
	ess["alertId"] = "/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.AlertsManagement/alerts/" + guid(rng)
	out, _ := json.Marshal(m)
	return out
}
