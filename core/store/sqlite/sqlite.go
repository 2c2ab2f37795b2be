package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/internal/wake"
)

// Options tune the store. The zero value is ready for production.
type Options struct {
	// Logger receives migration and error logs. Default: no logging.
	Logger hclog.Logger
	// Now is the clock for leases, due times and timestamps.
	// Default time.Now; tests inject a fake clock.
	Now func() time.Time
	// BusyTimeout is how long a transaction waits for another process's
	// write lock before failing with ErrUnavailable. Default 5 s.
	BusyTimeout time.Duration
	// MaxBatch caps how many writes share one transaction. Default 256.
	MaxBatch int
	// BatchWait is how long the writer lingers for more writes before
	// committing a batch that is not full. Default 0: the writer commits
	// what is waiting at once, and writes that arrive during a commit form
	// the next batch (batches grow with load, idle latency stays minimal).
	BatchWait time.Duration
	// ReadConns is the size of the read pool. Default 4.
	ReadConns int
	// OnCommit, when set, is called after every write transaction with the
	// number of writes it carried, how long it took (execution and commit;
	// not the WAL fsync that follows, see writer.go) and its error: the data for a commit-latency
	// histogram and batch-size metrics. It runs on the writer goroutine and
	// must be quick.
	OnCommit func(writes int, took time.Duration, err error)
}

// Store is the SQLite store. Create it with Open.
type Store struct {
	path  string
	log   hclog.Logger
	clock func() time.Time

	wdb *sql.DB // the one write connection, owned by the writer goroutine
	cdb *sql.DB // the checkpointer's connection
	rdb *sql.DB // read-only pool

	ops       chan *op
	maxBatch  int
	batchWait time.Duration
	onCommit  func(writes int, took time.Duration, err error)

	stmts map[string]*sql.Stmt // hot statements prepared on wdb at Open; read-only after
	// bound holds stmts bound to boundTx, the current write transaction
	// (see txStmt); writer goroutine only.
	bound   map[string]*sql.Stmt
	boundTx *sql.Tx
	rstmts  map[string]*sql.Stmt // and on rdb

	committed chan committedBatch // writer → syncer, unbuffered (see syncer)
	syncEnd   chan struct{}
	wal       *os.File             // the WAL, opened by the syncer at its first fsync
	fsync     func(*os.File) error // syncFile; tests inject failures
	syncErr   atomic.Pointer[error]

	ckptKick  chan struct{} // a commit happened (buffered 1)
	ckptEnd   chan struct{}
	hub       wake.Hub
	closing   chan struct{}
	closeOnce sync.Once
	writerEnd chan struct{}
	closeErr  error

	writerStarted bool
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path, migrates its schema
// and starts the writer. Errors opening or migrating wrap store.ErrUnavailable.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") || path == ":memory:" {
		return nil, fmt.Errorf("%w: sqlite path %q: want a file path without '?' or '#'", store.ErrInvalid, path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: sqlite path %q: %v", store.ErrInvalid, path, err)
	}
	if opts.Logger == nil {
		opts.Logger = hclog.NewNullLogger()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
	}

	busy := fmt.Sprintf("_pragma=busy_timeout(%d)", opts.BusyTimeout.Milliseconds())
	wdsn := abs + "?" + strings.Join([]string{
		busy,
		"_pragma=journal_mode(WAL)",
		// Commits are made durable by the syncer's fsync of the WAL
		// before anyone is answered (see writer.go); NORMAL only moves
		// that fsync off the writer goroutine.
		"_pragma=synchronous(NORMAL)",
		"_pragma=foreign_keys(1)",
		// Statement journals (needed for statement-level rollback) in
		// memory rather than temporary files: this halves the writer's cost.
		"_pragma=temp_store(MEMORY)",
		// 8 MiB (in KiB) holds the hot pages: interior pages and the
		// right-hand leaves that sequential keys append to. A larger cache
		// made ingest slower, not faster: it keeps growing page by page
		// (an allocation and first-touch page faults each, ~40 µs here)
		// until full, while a full cache recycles its pages for free;
		// leaves of random-key indexes miss any cache once the database
		// outgrows it, and come from the OS page cache either way.
		"_pragma=cache_size(-8000)",
		// The checkpointer goroutine copies the WAL into the database in
		// the background; the writer checkpoints only if the WAL grows this
		// large (it then mostly finds the work done), so commits rarely pay
		// for a checkpoint's page copies and database fsync.
		fmt.Sprintf("_pragma=wal_autocheckpoint(%d)", walAutoCheckpoint),
		"_txlock=immediate",
	}, "&")
	cdsn := abs + "?" + strings.Join([]string{busy, "_pragma=synchronous(FULL)"}, "&")
	rdsn := abs + "?" + strings.Join([]string{busy, "_pragma=query_only(1)", "_pragma=temp_store(MEMORY)"}, "&")

	s := &Store{
		path:      abs,
		log:       opts.Logger,
		clock:     opts.Now,
		ops:       make(chan *op),
		maxBatch:  opts.MaxBatch,
		batchWait: opts.BatchWait,
		onCommit:  opts.OnCommit,
		closing:   make(chan struct{}),
		writerEnd: make(chan struct{}),
		committed: make(chan committedBatch),
		syncEnd:   make(chan struct{}),
		fsync:     syncFile,
		ckptKick:  make(chan struct{}, 1),
		ckptEnd:   make(chan struct{}),
		stmts:     map[string]*sql.Stmt{},
		bound:     map[string]*sql.Stmt{},
		rstmts:    map[string]*sql.Stmt{},
	}
	if s.wdb, err = sql.Open("sqlite", wdsn); err != nil {
		return nil, unavailable("open %s: %w", abs, err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if s.rdb, err = sql.Open("sqlite", rdsn); err != nil {
		s.wdb.Close()
		return nil, unavailable("open %s: %w", abs, err)
	}
	s.rdb.SetMaxOpenConns(opts.ReadConns)
	s.rdb.SetMaxIdleConns(opts.ReadConns)
	if s.cdb, err = sql.Open("sqlite", cdsn); err != nil {
		s.wdb.Close()
		s.rdb.Close()
		return nil, unavailable("open %s: %w", abs, err)
	}
	s.cdb.SetMaxOpenConns(1)
	s.cdb.SetMaxIdleConns(1)

	from, to, err := migrate(ctx, s.wdb)
	if err != nil {
		s.wdb.Close()
		s.rdb.Close()
		s.cdb.Close()
		return nil, unavailable("sqlite %s: %w", abs, err)
	}
	if from != to {
		// The migration committed without an fsync (synchronous=NORMAL).
		if err := s.syncWAL(); err != nil {
			s.wdb.Close()
			s.rdb.Close()
			s.cdb.Close()
			return nil, fmt.Errorf("sqlite %s: %w", abs, err)
		}
		s.log.Info("migrated store schema", "path", abs, "from", from, "to", to)
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, unavailable("sqlite %s: %w", abs, err)
	}
	s.writerStarted = true
	go s.writer()
	go s.syncer()
	go s.checkpointer()
	return s, nil
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Ping checks that the database answers a read.
func (s *Store) Ping(ctx context.Context) error {
	select {
	case <-s.closing:
		return unavailable("store closed")
	default:
	}
	if err := s.syncFailure(); err != nil {
		return err
	}
	var one int
	if err := s.rdb.QueryRowContext(ctx, `SELECT 1 FROM schema_version`).Scan(&one); err != nil {
		return unavailable("ping: %w", err)
	}
	return nil
}

// Close stops the writer (queued writes fail with ErrUnavailable) and
// closes the database.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closing)
		if s.writerStarted {
			<-s.writerEnd
			<-s.syncEnd
			<-s.ckptEnd
		}
		for _, st := range s.stmts {
			st.Close()
		}
		for _, st := range s.rstmts {
			st.Close()
		}
		s.closeErr = errors.Join(s.cdb.Close(), s.wdb.Close(), s.rdb.Close())
	})
	return s.closeErr
}

// Watch implements store.Queue. Signals come from this process's writes
// only; changes made by other processes are seen by polling.
func (s *Store) Watch(ctx context.Context, backend store.BackendID) <-chan struct{} {
	return s.hub.Watch(ctx, backend.String())
}

func (s *Store) now() time.Time { return s.clock().UTC().Truncate(time.Microsecond) }

// unavailable wraps err as store.ErrUnavailable with context.
func unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{store.ErrUnavailable}, args...)...)
}

// us and fromUS convert times to and from the stored Unix microseconds.
func us(t time.Time) int64 { return t.UnixMicro() }

func fromUS(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullUS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromUS(v.Int64)
}

func nullUS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: us(t), Valid: true}
}
