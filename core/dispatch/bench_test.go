package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// BenchmarkDispatchNoopPlugin measures deliveries/s from the SQLite queue to
// a plugin over real gRPC that does nothing (create only, distinct keys).
func BenchmarkDispatchNoopPlugin(b *testing.B) {
	for _, conc := range []int{8, 32} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			h := newHarness(b, newFakeITSM())
			n := max(b.N, 200)
			recs := make([]store.IngestRecord, 0, n)
			o, _ := json.Marshal(Options{OnRepeat: "comment"})
			for i := range n {
				recs = append(recs, store.IngestRecord{
					Source: "bench", Raw: []byte("{}"),
					Alert:      sdk.Alert{ID: fmt.Sprint(i), Status: "fired", DedupKey: fmt.Sprint(i), Targets: []string{}, ConfigurationItems: []string{}, Custom: map[string]string{}, Context: json.RawMessage("{}")},
					Deliveries: []store.NewDelivery{{Route: "r", Backend: backendID, TicketKey: fmt.Sprint("k", i), Event: store.EventFired, Options: o}},
				})
			}
			for _, r := range recs {
				if _, err := h.store.Ingest(context.Background(), r); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			start := time.Now()
			h.start(Backend{MaxConcurrency: conc})
			for {
				st, err := h.store.Stats(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if st.Done == int64(n) {
					break
				}
				// Stats scans the tables: poll it rarely so the benchmark
				// does not measure its own polling.
				time.Sleep(25 * time.Millisecond)
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "deliveries/s")
		})
	}
}
