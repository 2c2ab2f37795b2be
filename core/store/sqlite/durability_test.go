package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// helperEnv selects a child-process scenario (see TestMain).
const helperEnv = "ITSMBRIDGE_SQLITE_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "readonly":
		os.Exit(helperReadOnly(os.Getenv("DB")))
	case "diskfull":
		os.Exit(helperDiskFull(os.Getenv("DB")))
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
		os.Exit(3)
	}
}

var (
	snow = store.BackendID{Type: "servicenow", Name: "prod"}
	jira = store.BackendID{Type: "jira", Name: "ops"}
)

// record returns an alert routed to both test backends, with a raw payload
// of rawSize bytes.
func record(dedup string, rawSize int) store.IngestRecord {
	raw := `{"dedup":"` + dedup + `","pad":"` + strings.Repeat("x", max(0, rawSize-30)) + `"}`
	return store.IngestRecord{
		Source: "prod",
		Alert:  alert.Alert{ID: "id-" + dedup, Status: alert.StatusFired, Rule: "r", DedupKey: dedup},
		Raw:    []byte(raw),
		Deliveries: []store.NewDelivery{
			{Route: "r", Backend: snow, TicketKey: dedup, Event: store.EventFired, Ticket: json.RawMessage(`{"title":"t"}`)},
			{Route: "r", Backend: jira, TicketKey: dedup, Event: store.EventFired},
		},
	}
}

// checkConsistent verifies that every alert in the database has exactly the
// deliveries it was ingested with (nothing half-written) and returns the
// stored dedup keys.
func checkConsistent(t *testing.T, path string) map[string]bool {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT a.dedup_key, a.deliveries, (SELECT COUNT(*) FROM deliveries d WHERE d.alert_id = a.id) FROM alerts a`)
	if err != nil {
		t.Fatalf("read alerts: %v", err)
	}
	defer rows.Close()
	keys := map[string]bool{}
	for rows.Next() {
		var (
			k          string
			want, have int
		)
		if err := rows.Scan(&k, &want, &have); err != nil {
			t.Fatal(err)
		}
		if want != have {
			t.Errorf("alert %s: %d deliveries stored, %d ingested: half-written", k, have, want)
		}
		keys[k] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var orphans int
	if err := db.QueryRow(`SELECT COUNT(*) FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.id = d.alert_id)`).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Errorf("%d deliveries without their alert", orphans)
	}
	return keys
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	clock := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }

	s, err := Open(ctx, path, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Ingest(ctx, record("a1", 100))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := s.Claim(ctx, "w1", snow, 10, time.Minute)
	if err != nil || len(ds) != 1 {
		t.Fatalf("Claim = %v, %v", ds, err)
	}
	if _, err := s.PutTicket(ctx, store.Ticket{Backend: snow, Key: "a1", Generation: 1, State: store.TicketOpen,
		Ref: sdk.TicketRef{ID: "sys1"}, CIBindings: []store.CIBinding{{Item: "vm1"}}}); err != nil {
		t.Fatal(err)
	}
	qid, err := s.Quarantine(ctx, store.QuarantineRecord{Source: "prod", Raw: []byte(`{"x":1}`), Reason: "unknown"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.Ingest(ctx, record("after-close", 10)); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ingest after Close: %v, want ErrUnavailable", err)
	}

	s2 := openTest(t, path, now)
	a, got, err := s2.GetAlert(ctx, res.AlertID)
	if err != nil || a.DedupKey != "a1" || len(got) != 2 {
		t.Fatalf("after reopen: alert %+v, %d deliveries, %v", a, len(got), err)
	}
	if got[0].State != store.StateLeased || got[0].LeaseOwner != "w1" || got[1].State != store.StatePending {
		t.Fatalf("after reopen: deliveries %+v", got)
	}
	tk, err := s2.GetTicket(ctx, snow, "a1")
	if err != nil || tk.Ref.ID != "sys1" || len(tk.CIBindings) != 1 {
		t.Fatalf("after reopen: ticket %+v, %v", tk, err)
	}
	if q, err := s2.GetQuarantine(ctx, qid); err != nil || string(q.Raw) != `{"x":1}` {
		t.Fatalf("after reopen: quarantine %+v, %v", q, err)
	}
	if r, err := s2.Ingest(ctx, record("a1", 100)); err != nil || !r.Duplicate {
		t.Fatalf("re-ingest after reopen = %+v, %v; want duplicate", r, err)
	}
	// The lease survives the restart: a takeover waits for its expiry.
	if ds, err := s2.Claim(ctx, "w2", snow, 10, time.Minute); err != nil || len(ds) != 0 {
		t.Fatalf("claim of a leased delivery after reopen = %v, %v", ds, err)
	}
	clock = clock.Add(2 * time.Minute)
	if ds, err := s2.Claim(ctx, "w2", snow, 10, time.Minute); err != nil || len(ds) != 1 {
		t.Fatalf("takeover after reopen = %v, %v", ds, err)
	}
}

func TestSchemaVersion(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	s := openTest(t, path, nil)
	var v int
	if err := s.rdb.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != len(migrations) {
		t.Fatalf("schema_version = %d, %v; want %d", v, err, len(migrations))
	}
	s.Close()

	// Reopening an up-to-date database migrates nothing.
	s = openTest(t, path, nil)
	s.Close()

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(ctx, path, Options{})
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "newer than this binary") {
		t.Fatalf("Open(newer schema) = %v, want a clear refusal", err)
	}
}

func TestOpenRejectsBadPath(t *testing.T) {
	for _, p := range []string{"", ":memory:", "a?mode=ro"} {
		if _, err := Open(context.Background(), p, Options{}); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Open(%q) = %v, want ErrInvalid", p, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "missing", "dir", "db")
	if _, err := Open(context.Background(), dir, Options{}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open(in a missing directory) = %v, want ErrUnavailable", err)
	}
}

// TestTwoHandlesOneFile is the CLI working on the server's database: two
// stores on one file ingest concurrently; duplicates across them collapse.
func TestTwoHandlesOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	a, b := openTest(t, path, nil), openTest(t, path, nil)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		fresh = map[string]int{}
	)
	for i := 0; i < 40; i++ {
		for _, s := range []*Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k := fmt.Sprintf("k%d", i)
				res, err := s.Ingest(ctx, record(k, 50))
				if err != nil {
					t.Errorf("Ingest(%s): %v", k, err)
					return
				}
				if !res.Duplicate {
					mu.Lock()
					fresh[k]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	for i := 0; i < 40; i++ {
		if n := fresh[fmt.Sprintf("k%d", i)]; n != 1 {
			t.Errorf("k%d stored %d times, want 1", i, n)
		}
	}
	st, err := b.Stats(ctx)
	if err != nil || st.Alerts != 40 || st.Pending != 80 {
		t.Fatalf("stats = %+v, %v; want 40 alerts, 80 pending", st, err)
	}
}

// childUser returns a non-root account to run a child as, when we are root
// (root ignores file permissions, so a read-only file would not be).
func childUser(t *testing.T) *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("running as root and no 'nobody' user to drop to: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// runHelper runs this test binary as a child in scenario mode and returns
// its stdout. The binary is copied to dir so that a dropped-privilege child
// can execute it.
func runHelper(t *testing.T, scenario, dir, db string, cred *syscall.Credential) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "helper.test")
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	src.Close()
	dst.Close()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), helperEnv+"="+scenario, "DB="+db)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	if err := cmd.Run(); err != nil {
		t.Fatalf("helper %s: %v\nstdout:\n%s\nstderr:\n%s", scenario, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// sharedDir makes a directory that a dropped-privilege child can use.
func sharedDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "itsmbridge-store-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Chmod(p, 0o755) })
		os.RemoveAll(dir)
	})
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReadOnlyDatabase: a database the process cannot write answers writes
// with ErrUnavailable and nothing is half-written.
func TestReadOnlyDatabase(t *testing.T) {
	cases := []struct {
		name            string
		fileMode, dMode os.FileMode
	}{
		{"read-only file", 0o444, 0o777},
		{"read-only directory", 0o644, 0o555},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cred := childUser(t)
			base := sharedDir(t)
			dir := filepath.Join(base, "data")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(dir, "itsmbridge.db")
			s, err := Open(context.Background(), db, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Ingest(context.Background(), record("before", 100)); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if cred != nil {
				for _, p := range []string{dir, db} {
					if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := os.Chmod(db, c.fileMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, c.dMode); err != nil {
				t.Fatal(err)
			}

			out := runHelper(t, "readonly", base, db, cred)
			if !strings.Contains(out, "RESULT unavailable") {
				t.Fatalf("child did not report ErrUnavailable:\n%s", out)
			}
			t.Log(strings.TrimSpace(out))
			os.Chmod(dir, 0o755)
			os.Chmod(db, 0o644)
			keys := checkConsistent(t, db)
			if len(keys) != 1 || !keys["before"] {
				t.Fatalf("stored alerts %v, want only the one written before", keys)
			}
		})
	}
}

// helperReadOnly runs in the child: every write must fail with ErrUnavailable.
func helperReadOnly(path string) int {
	ctx := context.Background()
	s, err := Open(ctx, path, Options{BusyTimeout: time.Second})
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			fmt.Println("RESULT unavailable (open):", err)
			return 0
		}
		fmt.Println("RESULT open failed without ErrUnavailable:", err)
		return 1
	}
	defer s.Close()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Ingest(ctx, record(fmt.Sprintf("ro-%d", i), 100))
		}()
	}
	wg.Wait()
	_, qerr := s.Quarantine(ctx, store.QuarantineRecord{Raw: []byte("{}")})
	errs = append(errs, qerr)
	for _, err := range errs {
		if !errors.Is(err, store.ErrUnavailable) {
			fmt.Println("RESULT write did not fail with ErrUnavailable:", err)
			return 1
		}
	}
	fmt.Println("RESULT unavailable:", errs[0])
	return 0
}

// TestDiskFull fills the "disk" (a file size limit on the child process)
// while alerts stream in: the writes that fail report ErrUnavailable, every
// acknowledged alert is stored complete, nothing is half-written, and the
// store recovers when space returns.
func TestDiskFull(t *testing.T) {
	base := sharedDir(t)
	db := filepath.Join(base, "itsmbridge.db")
	out := runHelper(t, "diskfull", base, db, nil)
	acked := map[string]bool{}
	var failed, recovered bool
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "ACK "):
			acked[strings.TrimPrefix(line, "ACK ")] = true
		case strings.HasPrefix(line, "FAIL "):
			failed = true
		case strings.HasPrefix(line, "BAD "):
			t.Errorf("child: %s", line)
		case line == "RECOVERED":
			recovered = true
		}
	}
	if !failed || !recovered || len(acked) == 0 {
		t.Fatalf("child output lacks acks, failures or recovery:\n%s", out)
	}
	stored := checkConsistent(t, db)
	for k := range acked {
		if !stored[k] {
			t.Errorf("acknowledged alert %s is not stored", k)
		}
	}
}

// helperDiskFull runs in the child with a file size limit (RLIMIT_FSIZE):
// writes past it fail with EFBIG, as on a full disk.
func helperDiskFull(path string) int {
	ctx := context.Background()
	s, err := Open(ctx, path, Options{})
	if err != nil {
		fmt.Println("BAD open:", err)
		return 1
	}
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		fmt.Println("BAD getrlimit:", err)
		return 1
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 1 << 20, Max: old.Max}); err != nil {
		fmt.Println("BAD setrlimit:", err)
		return 1
	}
	var (
		mu       sync.Mutex
		failures int
		wg       sync.WaitGroup
	)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 400; i++ {
				k := fmt.Sprintf("g%d-%d", g, i)
				_, err := s.Ingest(ctx, record(k, 2000))
				mu.Lock()
				switch {
				case err == nil:
					fmt.Println("ACK", k)
				case errors.Is(err, store.ErrUnavailable):
					failures++
					fmt.Println("FAIL", k, err)
				default:
					fmt.Println("BAD", k, err)
				}
				stop := failures > 20
				mu.Unlock()
				if stop {
					return
				}
			}
		}()
	}
	wg.Wait()
	if failures == 0 {
		fmt.Println("BAD the size limit never hit")
		return 1
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		fmt.Println("BAD restore rlimit:", err)
		return 1
	}
	if _, err := s.Ingest(ctx, record("after-space-returns", 100)); err != nil {
		fmt.Println("BAD no recovery:", err)
		return 1
	}
	fmt.Println("ACK after-space-returns")
	fmt.Println("RECOVERED")
	if err := s.Close(); err != nil {
		fmt.Println("BAD close:", err)
		return 1
	}
	return 0
}
