package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// BackupInfo describes a backup written by Backup.
type BackupInfo struct {
	Path          string // absolute path of the copy
	Bytes         int64
	SchemaVersion int
	Alerts        int64
	Deliveries    int64
}

// Backup writes a consistent copy of the database to dest, a file that must
// not exist yet, while the store keeps running (in this process or another
// one: the CLI backs up a live server's database). VACUUM INTO reads one
// snapshot, so writes that commit meanwhile neither wait for it nor appear
// half in the copy; what the copy holds was committed when it started. The
// copy is fsync'd, then opened and checked (integrity_check, schema
// version, counts) before Backup returns; a copy that fails the check is
// removed. Restoring is copying the file back in place of the database while
// the bridge is stopped.
func (s *Store) Backup(ctx context.Context, dest string) (BackupInfo, error) {
	abs, err := filepath.Abs(dest)
	if err != nil {
		return BackupInfo{}, fmt.Errorf("backup: %w", err)
	}
	info := BackupInfo{Path: abs}
	if abs == s.path || abs == s.path+"-wal" || abs == s.path+"-shm" {
		return info, fmt.Errorf("backup: %s is the database itself", abs)
	}
	if _, err := os.Stat(abs); err == nil {
		return info, fmt.Errorf("backup: %s already exists; choose a new file", abs)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return info, fmt.Errorf("backup: %w", err)
	}
	// A connection of its own: the read pool is query_only, and the writer
	// must not wait for a copy of the whole database.
	db, err := sql.Open("sqlite", s.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return info, unavailable("backup: open %s: %w", s.path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, abs); err != nil {
		os.Remove(abs)
		return info, unavailable("backup: VACUUM INTO %s: %w", abs, err)
	}
	if err := syncPath(abs); err != nil {
		os.Remove(abs)
		return info, fmt.Errorf("backup: %w", err)
	}
	if err := checkBackup(ctx, &info); err != nil {
		os.Remove(abs)
		return info, fmt.Errorf("backup: the copy failed its check and was removed: %w", err)
	}
	return info, nil
}

// syncPath fsyncs a new file and the directory that holds its name.
func syncPath(path string) error {
	for _, p := range []string{path, filepath.Dir(path)} {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("fsync %s: %w", p, err)
		}
	}
	return nil
}

// checkBackup opens the copy read-only and fills info from it.
func checkBackup(ctx context.Context, info *BackupInfo) error {
	st, err := os.Stat(info.Path)
	if err != nil {
		return err
	}
	info.Bytes = st.Size()
	db, err := sql.Open("sqlite", "file:"+info.Path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	var result string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&result); err != nil {
		return fmt.Errorf("integrity_check: %w", err)
	}
	if result != "ok" {
		return fmt.Errorf("integrity_check: %s", result)
	}
	return db.QueryRowContext(ctx, `SELECT
	(SELECT version FROM schema_version),
	(SELECT COUNT(*) FROM alerts),
	(SELECT COUNT(*) FROM deliveries)`).Scan(&info.SchemaVersion, &info.Alerts, &info.Deliveries)
}
