package pluginhost

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/hostclient"
)

var pluginDir string

func TestMain(m *testing.M) {
	if os.Getenv("PLUGINHOST_TEST_HOST") != "" {
		runHelperHost()
		return
	}
	dir, err := os.MkdirTemp("", "pluginhost-test")
	if err != nil {
		panic(err)
	}
	pluginDir = dir
	build := exec.Command("go", "build", "-o", filepath.Join(dir, BinaryPrefix+"fake"), "./testdata/fakeplugin")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building fake plugin:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func fakeSpec(t testing.TB, mode string) Spec {
	t.Helper()
	if mode != "" {
		t.Setenv("FAKE_PLUGIN_MODE", mode)
	}
	return Spec{Type: "fake", Name: "test", Dir: pluginDir, Env: []string{"FAKE_PLUGIN_MODE"}, Logger: hclog.NewNullLogger(), StartTimeout: 5 * time.Second}
}

func fakeConfig(t testing.TB, failConfigure bool) sdk.Config {
	t.Helper()
	schema := sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "token", Type: "string"}, {Name: "fail_configure", Type: "bool"},
	}}
	ty, err := schema.ImpliedType()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := sdk.NewConfig(cty.ObjectVal(map[string]cty.Value{
		"token": cty.StringVal("s3cret-token"), "fail_configure": cty.BoolVal(failConfigure),
	}), ty)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestLaunchReadsInfoAndSchema(t *testing.T) {
	inst, err := Launch(context.Background(), fakeSpec(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Kill()
	info := inst.Info()
	if info.Name != "fake" || info.Version != "0.0.1" {
		t.Fatalf("info = %+v", info)
	}
	if !info.Has(sdk.CapCreate) || info.Has(sdk.CapBindCI) {
		t.Fatalf("capabilities = %v, want create/resolve only", info.Capabilities)
	}
	if len(inst.Schema().Attributes) != 2 || !inst.Schema().Attributes[0].Sensitive {
		t.Fatalf("schema = %+v", inst.Schema())
	}
}

func TestLaunchFailures(t *testing.T) {
	good, err := fileSHA256(filepath.Join(pluginDir, BinaryPrefix+"fake"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		mode    string
		mutate  func(*Spec)
		wantErr string
	}{
		{name: "missing binary", mutate: func(s *Spec) { s.Type = "nosuch" }, wantErr: "binary not found"},
		{name: "checksum mismatch", mutate: func(s *Spec) { s.SHA256 = strings.Repeat("ab", 32) }, wantErr: "checksum mismatch"},
		{name: "malformed pin", mutate: func(s *Spec) { s.SHA256 = "xyz" }, wantErr: "sha256 pin is not 64 hex"},
		{name: "not a plugin", mode: "notaplugin", wantErr: "start failed"},
		{name: "wrong cookie", mode: "wrongcookie", wantErr: "start failed"},
		{name: "incompatible protocol version", mode: "badversion", wantErr: "incompatible API version"},
		{name: "writes to stdout", mode: "stdout", wantErr: "Unrecognized remote plugin message"},
		{name: "name mismatch", mutate: func(s *Spec) {
			s.Path = filepath.Join(pluginDir, BinaryPrefix+"fake")
			s.Type = "servicenow"
		}, wantErr: `plugin reports name "fake", expected "servicenow"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := fakeSpec(t, tt.mode)
			if tt.mutate != nil {
				tt.mutate(&spec)
			}
			inst, err := Launch(context.Background(), spec)
			if err == nil {
				inst.Kill()
				t.Fatal("launch succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "backend "+spec.Type+".test") {
				t.Fatalf("error %q does not name the backend", err)
			}
		})
	}
	t.Run("correct pin", func(t *testing.T) {
		spec := fakeSpec(t, "")
		spec.SHA256 = hex.EncodeToString(good)
		inst, err := Launch(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		inst.Kill()
	})
}

func TestPluginDoesNotInheritHostEnv(t *testing.T) {
	t.Setenv("ITSMBRIDGE_TEST_SECRET", "do-not-leak")
	t.Setenv("TZ", "UTC")
	inst, err := Launch(context.Background(), fakeSpec(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Kill()
	for name, want := range map[string]string{"ITSMBRIDGE_TEST_SECRET": "", "TZ": "UTC"} {
		ref, err := inst.Client().Create(context.Background(), &sdk.CreateRequest{TicketKey: "env:" + name})
		if err != nil {
			t.Fatal(err)
		}
		if ref.Number != want {
			t.Errorf("plugin sees %s=%q, want %q", name, ref.Number, want)
		}
	}
}

func TestErrorsCrossTheWireClassified(t *testing.T) {
	inst, err := Launch(context.Background(), fakeSpec(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Kill()
	c := inst.Client()
	_, err = c.Create(context.Background(), &sdk.CreateRequest{TicketKey: "retry-1"})
	kind, after := sdk.Classify(err)
	if kind != sdk.KindRetryable || after != 1500*time.Millisecond {
		t.Fatalf("retry: kind=%v after=%v err=%v", kind, after, err)
	}
	_, err = c.Create(context.Background(), &sdk.CreateRequest{TicketKey: "bad-1"})
	if kind, _ := sdk.Classify(err); kind != sdk.KindPermanent || !strings.Contains(err.Error(), "field x invalid") {
		t.Fatalf("bad: kind=%v err=%v", kind, err)
	}
	_, err = c.BindCI(context.Background(), &sdk.BindCIRequest{})
	if !errors.Is(err, hostclient.ErrCapabilityAbsent) || sdk.IsRetryable(err) {
		t.Fatalf("bind on a plugin without bind_ci: %v", err)
	}
}

func TestSupervisorConfigureFailures(t *testing.T) {
	t.Run("error diagnostics", func(t *testing.T) {
		s := Supervise(Options{Spec: fakeSpec(t, ""), Config: fakeConfig(t, true), MaxBackoff: 50 * time.Millisecond})
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err := s.WaitReady(ctx)
		if err == nil || !strings.Contains(err.Error(), "credentials rejected") || !strings.Contains(err.Error(), "backend fake.test") {
			t.Fatalf("WaitReady = %v", err)
		}
		callErr := s.Call(context.Background(), func(ctx context.Context, c *hostclient.Client) error { return nil })
		if !sdk.IsRetryable(callErr) || !errors.Is(callErr, ErrNotRunning) {
			t.Fatalf("call while down = %v, want retryable ErrNotRunning", callErr)
		}
	})
	t.Run("crash on configure", func(t *testing.T) {
		s := Supervise(Options{Spec: fakeSpec(t, "crash_configure"), Config: fakeConfig(t, false), MaxBackoff: 50 * time.Millisecond})
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.WaitReady(ctx); err == nil || !strings.Contains(err.Error(), "backend fake.test") {
			t.Fatalf("WaitReady = %v", err)
		}
		if st := s.Status(); st.Running || st.LastError == "" {
			t.Fatalf("status = %+v", st)
		}
	})
}

func TestSupervisorRestartsCrashedPlugin(t *testing.T) {
	s := Supervise(Options{Spec: fakeSpec(t, ""), Config: fakeConfig(t, false), LivenessInterval: 50 * time.Millisecond, MinBackoff: 10 * time.Millisecond})
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	err := s.Call(ctx, func(ctx context.Context, c *hostclient.Client) error {
		_, err := c.Create(ctx, &sdk.CreateRequest{TicketKey: "crash-now"})
		return err
	})
	if !sdk.IsRetryable(err) {
		t.Fatalf("call into crashing plugin = %v, want retryable", err)
	}
	// The next call succeeds once the supervisor has restarted the plugin.
	deadline := time.Now().Add(8 * time.Second)
	for {
		err = s.Call(ctx, func(ctx context.Context, c *hostclient.Client) error {
			_, err := c.Create(ctx, &sdk.CreateRequest{TicketKey: "after-crash"})
			return err
		})
		if err == nil || time.Now().After(deadline) {
			break
		}
		if !sdk.IsRetryable(err) {
			t.Fatalf("call while restarting = %v, want retryable", err)
		}
	}
	if err != nil {
		t.Fatalf("plugin not restarted: %v", err)
	}
	if st := s.Status(); st.Restarts < 1 || !st.Running {
		t.Fatalf("status = %+v, want a restart", st)
	}
}

func TestSupervisorCallDeadline(t *testing.T) {
	s := Supervise(Options{Spec: fakeSpec(t, ""), Config: fakeConfig(t, false), CallTimeout: 200 * time.Millisecond})
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	err := s.Call(ctx, func(ctx context.Context, c *hostclient.Client) error {
		_, err := c.Create(ctx, &sdk.CreateRequest{TicketKey: "hang-forever"})
		return err
	})
	if !sdk.IsRetryable(err) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("hung call = %v, want retryable timeout", err)
	}
	// The plugin is still usable afterwards.
	if err := s.Call(ctx, func(ctx context.Context, c *hostclient.Client) error {
		_, err := c.Create(ctx, &sdk.CreateRequest{TicketKey: "ok"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// TestNoOrphanWhenHostIsKilled starts a host process (this test binary in
// helper mode) that launches the plugin, SIGKILLs the host, and checks the
// plugin process goes away.
func TestNoOrphanWhenHostIsKilled(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PLUGINHOST_TEST_HOST=1", "PLUGINHOST_TEST_DIR="+pluginDir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var line [64]byte
	n, err := out.Read(line[:])
	if err != nil {
		t.Fatalf("helper host: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(line[:n])))
	if err != nil {
		t.Fatalf("helper host printed %q", line[:n])
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin pid %d still running after its host was SIGKILLed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func processAlive(pid int) bool {
	// A zombie still answers signal 0; check /proc state where available.
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		fields := strings.Fields(string(b))
		return len(fields) > 2 && fields[2] != "Z"
	}
	return syscall.Kill(pid, 0) == nil
}

func runHelperHost() {
	spec := Spec{Type: "fake", Name: "helper", Dir: os.Getenv("PLUGINHOST_TEST_DIR")}
	inst, err := Launch(context.Background(), spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ref, err := inst.Client().Create(context.Background(), &sdk.CreateRequest{TicketKey: "pid"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ref.Number)
	select {} // wait to be killed
}

func BenchmarkCreateCall(b *testing.B) {
	inst, err := Launch(context.Background(), fakeSpec(b, ""))
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Kill()
	c := inst.Client()
	req := &sdk.CreateRequest{TicketKey: "bench", Alert: sdk.Alert{ID: "x", Targets: []string{}, ConfigurationItems: []string{}, Custom: map[string]string{}}}
	b.Run("callers=1", func(b *testing.B) {
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			if _, err := c.Create(context.Background(), req); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		reportP50(b, lat)
	})
	b.Run("callers=32", func(b *testing.B) {
		var wg sync.WaitGroup
		per := b.N/32 + 1
		t0 := time.Now()
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range per {
					if _, err := c.Create(context.Background(), req); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(per*32)/time.Since(t0).Seconds(), "calls/s")
	})
}

func BenchmarkStartToFirstCall(b *testing.B) {
	spec := fakeSpec(b, "")
	for b.Loop() {
		inst, err := Launch(context.Background(), spec)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := inst.Client().Create(context.Background(), &sdk.CreateRequest{TicketKey: "first"}); err != nil {
			b.Fatal(err)
		}
		inst.Kill()
	}
}

func reportP50(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
}
