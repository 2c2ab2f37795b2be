package retention

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// Recorder counts what was deleted (core/metrics implements it).
type Recorder interface {
	Purged(alerts, deliveries, tickets int64)
}

// Options configure Run.
type Options struct {
	// Keep is the retention: history older than now-Keep is deleted.
	Keep time.Duration
	// Every is the interval between passes (default 1h). The first pass
	// runs after Delay (default 1m), not at start-up, so a restart loop does
	// not add purges to whatever made the process restart.
	Every, Delay time.Duration
	// Batch bounds each Purge call (default 500): each is one transaction,
	// and on SQLite other writes queue behind it.
	Batch int
	// Pause between batches of one pass (default 50ms), leaving the store to
	// ingest and dispatch.
	Pause  time.Duration
	Now    func() time.Time // default time.Now
	Logger hclog.Logger
	Record Recorder
}

// Run purges on schedule until ctx ends.
func Run(ctx context.Context, p store.Purger, o Options) {
	o = o.withDefaults()
	t := time.NewTimer(o.Delay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		Pass(ctx, p, o)
		t.Reset(o.Every)
	}
}

// Pass deletes everything older than now-Keep, batch by batch, and returns
// the totals. A store error ends the pass (logged; the next pass retries).
func Pass(ctx context.Context, p store.Purger, o Options) store.PurgeResult {
	o = o.withDefaults()
	cutoff := o.Now().Add(-o.Keep)
	var total store.PurgeResult
	start := time.Now()
	for ctx.Err() == nil {
		r, err := p.Purge(ctx, cutoff, o.Batch)
		if err != nil {
			if ctx.Err() == nil {
				o.Logger.Error("retention pass failed; retrying at the next pass", "cutoff", cutoff, "error", err)
			}
			break
		}
		total.Alerts += r.Alerts
		total.Deliveries += r.Deliveries
		total.Tickets += r.Tickets
		if o.Record != nil {
			o.Record.Purged(r.Alerts, r.Deliveries, r.Tickets)
		}
		if r.Alerts < int64(o.Batch) && r.Tickets < int64(o.Batch) {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(o.Pause):
		}
	}
	if total != (store.PurgeResult{}) {
		o.Logger.Info("retention: deleted old history", "cutoff", cutoff, "alerts", total.Alerts,
			"deliveries", total.Deliveries, "tickets", total.Tickets, "took", time.Since(start).Round(time.Millisecond))
	}
	return total
}

func (o Options) withDefaults() Options {
	if o.Every <= 0 {
		o.Every = time.Hour
	}
	if o.Delay <= 0 {
		o.Delay = time.Minute
	}
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.Pause <= 0 {
		o.Pause = 50 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	return o
}
