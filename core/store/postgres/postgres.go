package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/internal/wake"
)

// notifyChannel carries "new work for backend X" between replicas.
const notifyChannel = "itsmbridge_work"

// Options tune the store. The zero value is ready for production.
type Options struct {
	// Logger receives migration, listener and error logs. Default: none.
	Logger hclog.Logger
	// Now is the clock for leases, due times and timestamps. Default time.Now.
	Now func() time.Time
	// MaxConns caps the connection pool. Default: pgxpool's default, or
	// pool_max_conns in the DSN.
	MaxConns int32
	// IngestWorkers is how many batches of ingests may be in flight at once
	// (each in its own transaction). Default 1: batches grow with load
	// (whatever arrived during the previous commit), which measured best;
	// 2 may help when the database has idle cores and slow fsyncs.
	IngestWorkers int
	// MaxBatch caps the ingests sharing one transaction, and the queue
	// updates (Renew, Complete, Retry, DeadLetter) sharing another. Default 256.
	MaxBatch int
	// BatchWait is how long a batch lingers for more ingests before it
	// commits. Default 0: batches are what queued up during the previous
	// commit, so they grow with load and add no latency when idle.
	BatchWait time.Duration
	// DisableListen turns off LISTEN/NOTIFY wake-ups (Watch then only sees
	// this process's changes).
	DisableListen bool
	// OnCommit, when set, is called after every write transaction with the
	// number of writes it carried (the ingests of a batch; 1 otherwise), how
	// long it took and its error: the data for commit-latency and
	// batch-size metrics. It must be quick.
	OnCommit func(writes int, took time.Duration, err error)
}

// Store is the PostgreSQL store. Create it with Open.
type Store struct {
	pool  *pgxpool.Pool
	log   hclog.Logger
	clock func() time.Time

	ingests   chan *ingestReq
	updates   chan *update
	maxBatch  int
	batchWait time.Duration
	onCommit  func(writes int, took time.Duration, err error)

	hub       wake.Hub
	closing   chan struct{}
	closeOnce sync.Once
	bg        sync.WaitGroup
	stopBG    context.CancelFunc
}

var _ store.Store = (*Store)(nil)

// Open connects to dsn, migrates the schema (safe when several replicas
// start at once) and starts the ingest batchers and the NOTIFY listener.
// Connection and migration failures wrap store.ErrUnavailable.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("%w: postgres dsn: %v", store.ErrInvalid, err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.IngestWorkers <= 0 {
		opts.IngestWorkers = 1
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, unavailable("connect: %w", err)
	}
	from, to, err := migrate(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, unavailable("postgres: %w", err)
	}
	if from != to {
		opts.Logger.Info("migrated store schema", "from", from, "to", to)
	}
	bgctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		pool:      pool,
		log:       opts.Logger,
		clock:     opts.Now,
		ingests:   make(chan *ingestReq),
		updates:   make(chan *update),
		maxBatch:  opts.MaxBatch,
		batchWait: opts.BatchWait,
		onCommit:  opts.OnCommit,
		closing:   make(chan struct{}),
		stopBG:    cancel,
	}
	for i := 0; i < opts.IngestWorkers; i++ {
		s.bg.Add(1)
		go s.batcher()
	}
	s.bg.Add(1)
	go s.updater()
	if !opts.DisableListen {
		s.bg.Add(1)
		go s.listen(bgctx, cfg.ConnConfig.Copy())
	}
	return s, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	select {
	case <-s.closing:
		return unavailable("store closed")
	default:
	}
	if err := s.pool.Ping(ctx); err != nil {
		return unavailable("ping: %w", err)
	}
	return nil
}

// Close stops the batchers (queued ingests and queue updates fail with
// ErrUnavailable) and
// the listener, and closes the pool.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.stopBG()
		s.bg.Wait()
		s.pool.Close()
	})
	return nil
}

// Watch implements store.Queue: signals come from this process's writes and
// from other replicas' NOTIFY.
func (s *Store) Watch(ctx context.Context, backend store.BackendID) <-chan struct{} {
	return s.hub.Watch(ctx, backend.String())
}

// listen relays NOTIFY on notifyChannel to watchers, reconnecting with
// back-off until ctx ends.
func (s *Store) listen(ctx context.Context, cfg *pgx.ConnConfig) {
	defer s.bg.Done()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, cfg)
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("store notification listener lost its connection; retrying", "error", err, "in", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (s *Store) listenOnce(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		s.hub.Signal(n.Payload)
	}
}

func (s *Store) now() time.Time { return s.clock().UTC().Truncate(time.Microsecond) }

// unavailable wraps err as store.ErrUnavailable with context.
func unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{store.ErrUnavailable}, args...)...)
}

// logical reports whether err is an outcome rather than a database failure.
func logical(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrLeaseLost) || errors.Is(err, store.ErrInvalid)
}

// classify wraps database failures as ErrUnavailable and passes logical
// errors and context errors through.
func classify(err error) error {
	if err == nil || logical(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return unavailable("%w", err)
}

// inTx runs fn in a transaction and commits it.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) (err error) {
	if s.onCommit != nil {
		start := time.Now()
		defer func() {
			if !logical(err) {
				s.onCommit(1, time.Since(start), err)
			}
		}()
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return classify(fmt.Errorf("begin: %w", err))
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck // no-op after commit
	if err := fn(tx); err != nil {
		return classify(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return classify(fmt.Errorf("commit: %w", err))
	}
	return nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
