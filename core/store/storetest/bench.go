package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// BenchIngest measures Ingest throughput with the given number of
// concurrent callers (1 = sequential, no group commit possible). Each alert
// has one delivery. Reports alerts/s.
func BenchIngest(b *testing.B, s store.Store, callers int) {
	b.Helper()
	var (
		next   atomic.Int64
		wg     sync.WaitGroup
		prefix = fmt.Sprintf("bench-%d-%d-", time.Now().UnixNano(), callers)
	)
	b.ReportAllocs()
	b.ResetTimer()
	for c := 0; c < callers; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				k := prefix + fmt.Sprint(i)
				if _, err := s.Ingest(ctx(), rec(k, del(snow, k, store.EventFired))); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}

// BenchClaimComplete measures the queue: workers goroutines claim batches
// of batch deliveries and complete each one, over b.N deliveries spread over
// many ticket keys. Reports deliveries/s. Ingesting the deliveries is not
// timed.
func BenchClaimComplete(b *testing.B, s store.Store, workers, batch int) {
	b.Helper()
	prefix := fmt.Sprintf("cc-%d-", time.Now().UnixNano())
	// Ingest untimed, concurrently so it is quick.
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	for c := 0; c < 64; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				k := fmt.Sprintf("%s%d", prefix, i)
				if _, err := s.Ingest(ctx(), rec(k, del(snow, k, store.EventFired))); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var done atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("bench-worker-%d", w)
			for done.Load() < int64(b.N) {
				ds, err := s.Claim(ctx(), owner, snow, batch, time.Minute)
				if err != nil {
					b.Error(err)
					return
				}
				if len(ds) == 0 {
					time.Sleep(100 * time.Microsecond)
					continue
				}
				for _, d := range ds {
					if err := s.Complete(ctx(), d.ID, owner, store.Outcome{Action: "created"}); err != nil {
						b.Error(err)
						return
					}
					done.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "deliveries/s")
}
