// Package groupcommit is the stores' group-commit loop: the writes that
// queue up while one batch commits form the next batch, so concurrent
// callers share a transaction and its fsync.
package groupcommit

import "time"

// Collect is the loop of a store's single writer (SQLite) or batcher
// (PostgreSQL ingests and queue updates): it waits for one request, adds whatever else is already waiting (up to max),
// lingers up to wait for more when wait > 0, and hands the batch to commit.
// What arrives while a batch commits forms the next one, so batches grow
// with load and add no latency when idle. It returns when closing is closed
// (between batches: a batch being committed is always answered). The
// slice passed to commit is reused for the next batch: commit must copy
// what it keeps.
func Collect[T any](in <-chan T, closing <-chan struct{}, max int, wait time.Duration, commit func([]T)) {
	batch := make([]T, 0, max)
	for {
		batch = batch[:0]
		select {
		case r := <-in:
			batch = append(batch, r)
		case <-closing:
			return
		}
	drain:
		for len(batch) < max {
			select {
			case r := <-in:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		if wait > 0 && len(batch) < max {
			timer := time.NewTimer(wait)
		linger:
			for len(batch) < max {
				select {
				case r := <-in:
					batch = append(batch, r)
				case <-timer.C:
					break linger
				}
			}
			timer.Stop()
		}
		commit(batch)
	}
}
