package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/internal/groupcommit"
)

// op is one write executed by the writer goroutine inside a shared
// transaction.
type op struct {
	ctx context.Context
	// fn performs the write. It must return a logical error (see logical)
	// only before writing anything, so such an op needs no rollback; any
	// other error aborts the transaction. fn may run more than once (when a
	// batch is retried without a failed op), so it must reset its outputs.
	fn func(tx *sql.Tx) error
	// wake lists the backends to signal after a successful commit; fn sets it.
	wake []store.BackendID
	res  chan error
}

// logical reports whether err is an outcome of the op itself (no write
// happened) rather than a database failure.
func logical(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrLeaseLost) || errors.Is(err, store.ErrInvalid)
}

// write queues fn for the writer and waits for its commit. Once queued, the
// op is always answered (the writer skips it if ctx has ended by then), so
// the caller never abandons a write that may still commit.
func (s *Store) write(ctx context.Context, o *op) error {
	o.ctx = ctx
	o.res = make(chan error, 1)
	select {
	case s.ops <- o:
	case <-s.closing:
		return unavailable("store closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	err := <-o.res
	if err == nil {
		for _, b := range o.wake {
			s.hub.Signal(b.String())
		}
	}
	return err
}

// writer is the only goroutine using the write connection. It commits what
// is waiting as one transaction: callers that arrive while a commit is in
// progress form the next batch, so they share one commit and one fsync.
func (s *Store) writer() {
	defer close(s.writerEnd)
	defer close(s.committed) // the syncer answers what is left, then ends
	groupcommit.Collect(s.ops, s.closing, s.maxBatch, s.batchWait, s.commit)
}

// commit runs batch in one transaction and hands it to the syncer, which
// answers the ops once the commit is durable. If an op fails with a
// database error, that op is answered with ErrUnavailable and the others
// are retried in a fresh transaction, so one bad write cannot fail its
// neighbours; a failure to begin or commit fails the whole batch.
func (s *Store) commit(batch []*op) {
	if err := s.syncFailure(); err != nil {
		for _, o := range batch {
			o.res <- err
		}
		return
	}
	for len(batch) > 0 {
		res, failed, err := s.runTx(batch)
		if err == nil {
			// A copy: the writer reuses batch's array for the next batch.
			s.committed <- committedBatch{ops: slices.Clone(batch), res: res}
			return
		}
		if failed < 0 {
			s.log.Error("store commit failed", "ops", len(batch), "error", err)
			for _, o := range batch {
				o.res <- err
			}
			return
		}
		s.log.Error("store write failed", "error", err)
		batch[failed].res <- err
		batch = append(batch[:failed:failed], batch[failed+1:]...)
	}
}

// runTx executes batch in one transaction. On success it returns each op's
// (logical) result. On failure it returns the index of the op that failed,
// or -1 when beginning or committing failed.
func (s *Store) runTx(batch []*op) (res []error, failed int, err error) {
	ctx := context.Background() // an op must not be cut short half-way
	if s.onCommit != nil {
		start := time.Now()
		defer func() { s.onCommit(len(batch), time.Since(start), err) }()
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, -1, unavailable("begin: %w", err)
	}
	res = make([]error, len(batch))
	for i, o := range batch {
		o.wake = nil
		if err := o.ctx.Err(); err != nil {
			res[i] = err
			continue
		}
		if err := o.fn(tx); err != nil {
			if logical(err) {
				res[i] = err
				continue
			}
			_ = tx.Rollback()
			return nil, i, unavailable("%w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		_ = tx.Rollback()
		return nil, -1, unavailable("commit: %w", err)
	}
	select {
	case s.ckptKick <- struct{}{}:
	default:
	}
	return res, 0, nil
}

// Durability is pipelined. The write connection commits with
// synchronous=NORMAL: COMMIT writes the transaction's WAL frames but does
// not sync them. The syncer then syncs the WAL (fdatasync on Linux) and
// only then answers the batch's callers, while the writer already executes
// the next batch: the sync (0.4–1 ms here) no longer stalls the one writer.
// A caller is answered only when its commit is on disk, as with
// synchronous=FULL. Readers may see a commit a moment before it is
// durable; every write's caller (the ingress acknowledging an alert, the
// dispatcher completing or claiming a delivery) still waits for the sync,
// and one sync of the WAL makes durable every commit before it, so nothing
// outside this process acts on a commit that could be lost. SQLite itself
// syncs the WAL before each checkpoint and the database after it, before
// the WAL is reused, so frames are never overwritten before they are
// durable in the database.

// committedBatch is a committed transaction waiting for its fsync.
type committedBatch struct {
	ops []*op
	res []error
}

// syncer fsyncs the WAL after each committed batch and answers its ops.
// s.committed is unbuffered, so the writer runs at most one batch ahead: it
// executes and commits batch N+1 during batch N's fsync, then waits for that
// fsync before taking more writes. Writes arriving meanwhile still form one
// large batch (a deeper pipeline made batches, and so commits, smaller and
// the writer's CPU per write larger).
func (s *Store) syncer() {
	defer close(s.syncEnd)
	for b := range s.committed {
		err := s.syncWAL()
		for i, o := range b.ops {
			if err != nil {
				o.res <- err
			} else {
				o.res <- b.res[i]
			}
		}
	}
	if s.wal != nil {
		s.wal.Close()
	}
}

// syncWAL fsyncs the WAL file. A failed fsync is final: the kernel may have
// dropped the pages it could not write, and a later fsync could succeed
// without them, so the store refuses every further write (and Ping fails)
// until the process restarts and SQLite recovers from what is on disk.
func (s *Store) syncWAL() error {
	if err := s.syncFailure(); err != nil {
		return err
	}
	var err error
	if s.wal == nil {
		// The WAL exists once a transaction has committed in WAL mode.
		s.wal, err = os.OpenFile(s.path+"-wal", os.O_RDWR, 0)
	}
	if err == nil {
		err = s.fsync(s.wal)
	}
	if err != nil {
		err = unavailable("fsync %s-wal: %w (restart required)", s.path, err)
		s.log.Error("store durability lost: fsync failed; refusing writes until restart", "error", err)
		s.syncErr.CompareAndSwap(nil, &err)
		return err
	}
	return nil
}

// syncFailure returns the fsync failure that stopped the store, if any.
func (s *Store) syncFailure() error {
	if p := s.syncErr.Load(); p != nil {
		return *p
	}
	return nil
}

// queryRow runs query in tx, as a prepared statement when query is one of
// the hot statements prepared at Open (saving SQLite's parse and plan).
func (s *Store) queryRow(tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := s.txStmt(tx, query); st != nil {
		return st.QueryRow(args...)
	}
	return tx.QueryRow(query, args...)
}

// exec is queryRow for statements returning no rows.
func (s *Store) exec(tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := s.txStmt(tx, query); st != nil {
		return st.Exec(args...)
	}
	return tx.Exec(query, args...)
}

// query is queryRow for statements returning several rows.
func (s *Store) query(tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if st := s.txStmt(tx, query); st != nil {
		return st.Query(args...)
	}
	return tx.Query(query, args...)
}

// txStmt returns the hot statement query bound to tx, or nil. The binding
// (database/sql's Tx.Stmt, an allocation and two locks) is made once per
// statement and write transaction rather than once per call: the writer
// runs one transaction at a time, for dozens of writes.
func (s *Store) txStmt(tx *sql.Tx, query string) *sql.Stmt {
	st, ok := s.stmts[query]
	if !ok {
		return nil
	}
	if s.boundTx != tx {
		s.boundTx = tx
		clear(s.bound)
	}
	b, ok := s.bound[query]
	if !ok {
		b = tx.Stmt(st)
		s.bound[query] = b
	}
	return b
}

// prepare prepares the hot statements on the write connection and on the
// read pool (where database/sql prepares them on each connection as used).
func (s *Store) prepare(ctx context.Context) error {
	for _, q := range []string{insertAlertSQL, dupAlertSQL, insertDeliverySQL, claimableSQL, completeSQL, retrySQL,
		putTicketSQL, ticketByIDSQL, ticketCIsSQL, leaseSQL, claimedSQL, backendOfSQL} {
		st, err := s.wdb.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		s.stmts[q] = st
	}
	for _, q := range []string{claimableSQL, ticketByKeySQL, ticketCIsSQL} {
		st, err := s.rdb.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		s.rstmts[q] = st
	}
	return nil
}

// affected returns the rows affected by an exec result.
func affected(r sql.Result) (int64, error) {
	n, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}

// Checkpointing. SQLite's automatic checkpoint runs inside the committing
// transaction, on the writer goroutine: copying the WAL's pages into the
// database and fsyncing it then delays every write waiting behind that
// commit. The checkpointer does the same work on its own connection, at
// most every ckptEvery, while the writer goes on appending to the WAL. It
// changes nothing for durability: a commit is durable once its WAL frames
// are fsync'd (by the syncer), whoever checkpoints later.
const (
	ckptEvery = 100 * time.Millisecond
	// walAutoCheckpoint (pages) is the writer's own fallback: when the WAL
	// is this long it checkpoints what the checkpointer has not yet copied,
	// so the WAL restarts from its beginning even under sustained load.
	walAutoCheckpoint = 8000
)

// checkpointer runs passive checkpoints after commits, at most every
// ckptEvery.
func (s *Store) checkpointer() {
	defer close(s.ckptEnd)
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-s.ckptKick:
		case <-s.closing:
			return
		}
		// PASSIVE never waits for readers or the writer; a checkpoint
		// that finds the database busy simply does less.
		if _, err := s.cdb.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
			s.log.Warn("background checkpoint failed", "error", err)
		}
		t.Reset(ckptEvery)
		select {
		case <-t.C:
		case <-s.closing:
			return
		}
	}
}
