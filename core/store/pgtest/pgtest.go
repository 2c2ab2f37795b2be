package pgtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// server is the package-wide PostgreSQL instance.
type server struct {
	bindir string
	dir    string // temporary directory: data/, the socket, the log
	port   int
	cred   *syscall.Credential
	fsync  bool

	// spares are databases created ahead of time: CREATE DATABASE copies a
	// template and takes most of a second, so it runs while tests do.
	spares     chan spare
	stopSpares context.CancelFunc
	sparesDone sync.WaitGroup
}

type spare struct {
	name string
	err  error
}

// spareCreators is how many databases are being prepared at once.
const spareCreators = 2

// makeSpares creates databases into s.spares until ctx ends.
func (s *server) makeSpares(ctx context.Context) {
	defer s.sparesDone.Done()
	admin, err := pgx.Connect(ctx, s.dsn("postgres"))
	if err != nil {
		select {
		case s.spares <- spare{err: fmt.Errorf("connect: %w", err)}:
		case <-ctx.Done():
		}
		return
	}
	defer admin.Close(context.Background())
	for {
		name := fmt.Sprintf("itsmbridge_test_%d", dbCounter.Add(1))
		sp := spare{name: name}
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			if ctx.Err() != nil {
				return
			}
			sp = spare{err: fmt.Errorf("create database: %w", err)}
		}
		select {
		case s.spares <- sp:
		case <-ctx.Done():
			return
		}
		if sp.err != nil {
			return
		}
	}
}

var (
	mainRunning atomic.Bool
	startOnce   sync.Once
	srv         *server
	startErr    error
	dbCounter   atomic.Int64
)

// errNoBinaries marks "PostgreSQL is not installed" (skip), as opposed to a
// server that failed to start (fail).
var errNoBinaries = errors.New("PostgreSQL binaries not found")

// Main runs the package's tests and stops the server afterwards. Call it
// from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	mainRunning.Store(true)
	code := m.Run()
	if srv != nil {
		if err := srv.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}
	return code
}

// Required reports whether a missing PostgreSQL must fail tests rather than
// skip them ($CI=true or $ITSMBRIDGE_REQUIRE_POSTGRES=1).
func Required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("ITSMBRIDGE_REQUIRE_POSTGRES") == "1"
}

// Start returns the DSN of a new, empty database on the shared server,
// dropped when t ends. It skips t when PostgreSQL is not installed (fails
// under Required).
func Start(t testing.TB) string {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatal("pgtest: call pgtest.Main from TestMain so the server is stopped after the tests")
	}
	startOnce.Do(func() { srv, startErr = launch() })
	if startErr != nil {
		if errors.Is(startErr, errNoBinaries) && !Required() {
			t.Skipf("%v: install postgresql-15 (or set ITSMBRIDGE_PG_BINDIR); set CI=true or ITSMBRIDGE_REQUIRE_POSTGRES=1 to fail instead", startErr)
		}
		t.Fatalf("pgtest: %v", startErr)
	}
	spare := <-srv.spares
	if spare.err != nil {
		t.Fatalf("pgtest: %v", spare.err)
	}
	name := spare.name
	ctx := context.Background()
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, srv.dsn("postgres"))
		if err != nil {
			t.Errorf("pgtest: connect to drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return srv.dsn(name)
}

func (s *server) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// BinDir returns the directory holding initdb, pg_ctl and postgres.
func BinDir() (string, error) {
	has := func(dir string) bool {
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	var tried []string
	if d := os.Getenv("ITSMBRIDGE_PG_BINDIR"); d != "" {
		if has(d) {
			return d, nil
		}
		tried = append(tried, d+" ($ITSMBRIDGE_PG_BINDIR)")
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if has(d) {
			return d, nil
		}
		tried = append(tried, d+" (pg_config)")
	} else {
		tried = append(tried, "pg_config")
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if d := filepath.Dir(p); has(d) {
			return d, nil
		}
	}
	tried = append(tried, "$PATH")
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if has(d) {
			return d, nil
		}
	}
	tried = append(tried, "/usr/lib/postgresql/*/bin")
	return "", fmt.Errorf("%w (looked in %s)", errNoBinaries, strings.Join(tried, ", "))
}

func pgVersion(bindir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return v
}

// serverUser returns the account to run PostgreSQL as when we are root.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 == nil && err2 == nil {
			return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
		}
	}
	return nil, errors.New("running as root, and neither a 'postgres' nor a 'nobody' account exists to run PostgreSQL as (initdb refuses root)")
}

func benchmarking() bool {
	f := flag.Lookup("test.bench")
	return f != nil && f.Value.String() != ""
}

func launch() (*server, error) {
	bindir, err := BinDir()
	if err != nil {
		return nil, err
	}
	cred, err := serverUser()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "itsmbridge-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	s := &server{bindir: bindir, dir: dir, cred: cred,
		fsync: benchmarking() || os.Getenv("ITSMBRIDGE_PG_FSYNC") == "on"}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("chown %s: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	if err := s.initdb(data); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The port is free when we look; another process could take it before
	// the server binds, so retry with a fresh one.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		fsync := "off"
		if s.fsync {
			fsync = "on"
		}
		opts := strings.Join([]string{
			"-p", strconv.Itoa(s.port),
			"-k", dir,
			"-c", "listen_addresses=127.0.0.1",
			"-c", "max_connections=300",
			"-c", "fsync=" + fsync,
			"-c", "full_page_writes=" + fsync,
			"-c", "shared_buffers=128MB",
		}, " ")
		if extra := os.Getenv("ITSMBRIDGE_PG_OPTS"); extra != "" {
			opts += " " + extra // e.g. "-c shared_preload_libraries=pg_stat_statements" to profile
		}
		out, err := s.run("pg_ctl", "start", "-w", "-t", "60", "-D", data, "-l", filepath.Join(dir, "server.log"), "-o", opts)
		if err == nil {
			ctx, cancel := context.WithCancel(context.Background())
			s.spares, s.stopSpares = make(chan spare), cancel
			for i := 0; i < spareCreators; i++ {
				s.sparesDone.Add(1)
				go s.makeSpares(ctx)
			}
			return s, nil
		}
		if attempt == 2 {
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			os.RemoveAll(dir)
			return nil, fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, tail(log, 2000))
		}
	}
}

// initdb creates a pristine cluster in data. initdb is slow (it starts the
// server several times to probe settings), so its result is cached in the
// user cache directory, keyed by the binaries, and copied for each run.
func (s *server) initdb(data string) error {
	cache := ""
	if base, err := os.UserCacheDir(); err == nil {
		fi, err := os.Stat(filepath.Join(s.bindir, "initdb"))
		if err == nil {
			key := fmt.Sprintf("%x", sha256.Sum256([]byte(fmt.Sprintf("%s|%d|%d", s.bindir, fi.Size(), fi.ModTime().UnixNano()))))
			cache = filepath.Join(base, "itsmbridge-pgtest", key[:16])
		}
	}
	if cache != "" {
		if _, err := os.Stat(filepath.Join(cache, "PG_VERSION")); err == nil {
			if err := copyTree(cache, data, s.cred); err == nil {
				return nil
			}
			os.RemoveAll(data)
		}
	}
	if out, err := s.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if cache != "" {
		// Publish atomically; a concurrent test binary may win the rename.
		tmp := cache + fmt.Sprintf(".tmp-%d", os.Getpid())
		if err := copyTree(data, tmp, nil); err == nil {
			if os.Rename(tmp, cache) != nil {
				os.RemoveAll(tmp)
			}
		} else {
			os.RemoveAll(tmp)
		}
	}
	return nil
}

// copyTree copies the directory tree src to dst (which must not exist),
// keeping modes and giving the copies to cred's account when set.
func copyTree(src, dst string, cred *syscall.Credential) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, info.Mode().Perm()); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(target, b, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return fmt.Errorf("copy %s: unsupported file type %s", p, info.Mode().Type())
		}
		if cred != nil {
			return os.Lchown(target, int(cred.Uid), int(cred.Gid))
		}
		return nil
	})
}

func (s *server) stop() error {
	defer os.RemoveAll(s.dir)
	s.stopSpares()
	s.sparesDone.Wait()
	out, err := s.run("pg_ctl", "stop", "-w", "-m", "immediate", "-D", filepath.Join(s.dir, "data"))
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// run executes a PostgreSQL program, as the server account when root.
func (s *server) run(prog string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(s.bindir, prog), args...)
	cmd.Dir = s.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC", "HOME=" + s.dir}
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// ServerCPU returns the CPU time (user + system) the running server has
// used so far: the postmaster and all its processes, live or exited. Take
// the difference around a benchmark to get the database's share of the
// work. It reads Linux's /proc; elsewhere, or without a server, it is 0.
func ServerCPU() time.Duration {
	pid := serverPID()
	if pid == 0 {
		return 0
	}
	return TreeCPU(pid)
}

// serverPID returns the pid of the running server's postmaster, or 0.
func serverPID() int {
	if srv == nil {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(srv.dir, "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

// clockTicks is USER_HZ, the unit of CPU times in /proc/<pid>/stat (100 on
// every Linux platform Go supports).
const clockTicks = 100

// procTimes reads a process's parent, its own CPU time and the CPU time of
// its children that have exited and been waited for.
func procTimes(pid int) (ppid int, own, reaped time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 15 { // f[0] is field 3 (state)
		return 0, 0, 0, false
	}
	n := func(i int) time.Duration {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		return time.Duration(v) * time.Second / clockTicks
	}
	ppid, _ = strconv.Atoi(f[1])
	return ppid, n(11) + n(12), n(13) + n(14), true
}

// TreeCPU returns the CPU time used so far by process pid and all its
// descendants, live or exited (and waited for), from Linux's /proc (0
// elsewhere). Benchmarks use it to account CPU per process.
func TreeCPU(pid int) time.Duration {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, _, _, ok := procTimes(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	var walk func(int) time.Duration
	walk = func(p int) time.Duration {
		_, own, reaped, ok := procTimes(p)
		if !ok {
			return 0
		}
		sum := own + reaped
		for _, c := range children[p] {
			sum += walk(c)
		}
		return sum
	}
	return walk(pid)
}

// OwnCPU returns the CPU time used so far by this process alone (0 where
// /proc is missing).
func OwnCPU() time.Duration {
	_, own, _, _ := procTimes(os.Getpid())
	return own
}
