// Package sqlite is the embedded store: store.Store on one SQLite file
// (modernc.org/sqlite, pure Go), for a single bridge process.
//
// Durability and throughput come from the same design: every write goes
// through one writer goroutine that owns the only write connection. The
// writer takes whatever writes are waiting (ingests, claims, completions,
// ...) and commits them in one transaction, so concurrent callers share one
// fsync (group commit) while each gets its own result. The database runs in
// WAL mode; a syncer goroutine fsyncs the WAL after each commit and only
// then answers the batch's callers, while the writer already executes the
// next batch (see writer.go): a write returns only once it is on disk, as
// with synchronous=FULL, and a failed fsync stops all writes. Reads use a
// separate pool of read-only connections and never wait for the writer.
//
// Other processes (the CLI's `dlq` and `alerts` commands) may open the same
// file at the same time: transactions start with BEGIN IMMEDIATE and a busy
// timeout, so writers from several processes queue rather than fail.
//
// The schema is versioned (table schema_version) and migrated on Open;
// a database written by a newer binary is refused.
package sqlite
