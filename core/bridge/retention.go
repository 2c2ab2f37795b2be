package bridge

import (
	"context"
	"time"

	"github.com/itsmbridge/itsmbridge/core/retention"
	"github.com/itsmbridge/itsmbridge/core/store"
)

// setRetention (re)starts the retention loop for keep, or stops it when
// keep is 0. Called at start-up, on reload and at shutdown. With several replicas on PostgreSQL each runs the loop; the
// passes are idempotent deletes, so running more than one only repeats
// the search.
func (b *Bridge) setRetention(keep time.Duration) {
	b.retentionMu.Lock()
	defer b.retentionMu.Unlock()
	if keep == b.retentionKeep && (keep == 0) == (b.retention == nil) {
		return
	}
	if b.retention != nil {
		b.retention()
		<-b.retentionDone
		b.retention, b.retentionDone = nil, nil
	}
	b.retentionKeep = keep
	p, ok := b.store.(store.Purger)
	if keep <= 0 || !ok {
		if keep > 0 {
			b.logger.Warn("this store cannot purge old history; retention is ignored")
		}
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.retention, b.retentionDone = cancel, done
	o := b.opts.Retention
	o.Keep, o.Logger, o.Record = keep, b.logger.Named("retention"), b.metrics
	go func() {
		defer close(done)
		retention.Run(ctx, p, o)
	}()
	b.logger.Info("retention: deleting finished history older than the retention", "retention", keep)
}
