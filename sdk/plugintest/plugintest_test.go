package plugintest_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest/internal/refbackend"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest/internal/refplugin"
)

const (
	testUser = "plugintest-user"
	testPass = "s3cret-Pa55word-xyz"
)

func options(b *refbackend.Server, f refplugin.Faults) plugintest.Options {
	return plugintest.Options{
		Factory: func() sdk.Plugin { return refplugin.New(f) },
		Config:  fmt.Sprintf("url = %q\nusername = %q\npassword = %q\ntimeout_seconds = 10\n", b.URL, testUser, testPass),
		Backend: b,
		BadConfigs: []plugintest.BadConfig{{
			Config: fmt.Sprintf("url = %q\nusername = %q\npassword = %q\n", b.URL, testUser, "wrong-password-123"),
			Path:   []string{"password"},
		}},
		Timeout: 20 * time.Second, // generous: CI machines are loaded; only failures wait this long
	}
}

// TestReferencePluginConforms: the well-behaved plugin passes every
// in-process check (the stdio check runs in the parallel test below, so the
// three plugin builds of this package overlap).
func TestReferencePluginConforms(t *testing.T) {
	b := refbackend.Start(testUser, testPass)
	defer b.Close()
	plugintest.Run(t, options(b, refplugin.Faults{}))
}

// TestReferenceBinaryConforms: the built binary passes the stdio check
// through a real handshake.
func TestReferenceBinaryConforms(t *testing.T) {
	t.Parallel() // the stdio check uses no harness
	b := refbackend.Start(testUser, testPass)
	defer b.Close()
	opts := options(b, refplugin.Faults{})
	opts.Binary = "./testdata/refplugin"
	plugintest.RunCheck(t, plugintest.CheckStdio, opts)
}

// minimal implements only the mandatory operations.
type minimal struct{ p *refplugin.Plugin }

func (m minimal) Info() sdk.Info     { return m.p.Info() }
func (m minimal) Schema() sdk.Schema { return m.p.Schema() }
func (m minimal) Configure(ctx context.Context, r *sdk.ConfigureRequest) sdk.Diagnostics {
	return m.p.Configure(ctx, r)
}
func (m minimal) Create(ctx context.Context, r *sdk.CreateRequest) (*sdk.TicketRef, error) {
	return m.p.Create(ctx, r)
}
func (m minimal) Resolve(ctx context.Context, r *sdk.ResolveRequest) error {
	return m.p.Resolve(ctx, r)
}

func TestMinimalPluginConforms(t *testing.T) {
	b := refbackend.Start(testUser, testPass)
	defer b.Close()
	opts := options(b, refplugin.Faults{})
	opts.Factory = func() sdk.Plugin { return minimal{refplugin.New(refplugin.Faults{})} }
	for _, name := range []string{plugintest.CheckCapabilities, plugintest.CheckCreateIdempotent, plugintest.CheckResolve} {
		r := record(t, func(tb testing.TB) { plugintest.RunCheck(tb, name, opts) })
		if r.failed || r.skipped {
			t.Errorf("%s on a plugin without optional capabilities: failed=%v skipped=%v\n%s", name, r.failed, r.skipped, r.log())
		}
	}
}

// TestChecksCatchBrokenPlugins proves each check fails on the fault it
// exists for, for the reason it exists for.
func TestChecksCatchBrokenPlugins(t *testing.T) {
	tests := []struct {
		name   string
		faults refplugin.Faults
		check  string
		want   string // substring of the failure message
	}{
		{"create without lookup", refplugin.Faults{NonIdempotentCreate: true}, plugintest.CheckCreateIdempotent, "same key returned"},
		{"create deduped in memory only", refplugin.Faults{MemoryIdempotent: true}, plugintest.CheckCreateIdempotent, "restarted plugin"},
		{"resolve twice fails", refplugin.Faults{ResolveTwiceFails: true}, plugintest.CheckResolve, "second Resolve"},
		{"create finds resolved tickets", refplugin.Faults{FindsResolved: true}, plugintest.CheckResolve, "returned the resolved ticket"},
		{"unknown ticket retryable", refplugin.Faults{UnknownRetryable: true}, plugintest.CheckResolve, "want permanent"},
		{"declared capability not implemented", refplugin.Faults{LyingComment: true}, plugintest.CheckCapabilities, `capability "comment" is declared`},
		{"secret in log", refplugin.Faults{LeakSecretInLog: true}, plugintest.CheckSecretHygiene, "leaked"},
		{"secret in error", refplugin.Faults{LeakSecretInError: true}, plugintest.CheckSecretHygiene, "leaked"},
		{"ignores cancellation", refplugin.Faults{IgnoreCancel: true}, plugintest.CheckCancellation, "kept running"},
		{"every error permanent", refplugin.Faults{AllPermanent: true}, plugintest.CheckErrorClassification, "want retryable"},
		{"retry-after dropped", refplugin.Faults{DropRetryAfter: true}, plugintest.CheckErrorClassification, "retry-after 0s carried back"},
		{"panics on empty config", refplugin.Faults{PanicOnEmptyConfig: true}, plugintest.CheckConfigure, "panicked"},
		{"accepts empty required attribute", refplugin.Faults{AcceptEmptyURL: true}, plugintest.CheckConfigure, `(required url = "") was accepted`},
		{"diagnostics without path", refplugin.Faults{NoAttributePath: true}, plugintest.CheckConfigure, "carry no attribute path"},
		{"attribute without description", refplugin.Faults{UndescribedSchema: true}, plugintest.CheckSchema, "username has no description"},
		{"password not sensitive", refplugin.Faults{PasswordNotSecret: true}, plugintest.CheckSchema, "password looks like a secret"},
		{"required field family", refplugin.Faults{RequiredFamily: true}, plugintest.CheckSchema, "family x_* is Required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := refbackend.Start(testUser, testPass)
			defer b.Close()
			opts := options(b, tc.faults)
			if tc.faults.IgnoreCancel {
				opts.Timeout = 3 * time.Second // the kit waits this long for the stuck plugin
			}
			r := record(t, func(tb testing.TB) { plugintest.RunCheck(tb, tc.check, opts) })
			if !r.failed {
				t.Fatalf("check %s passed on a plugin with %+v\n%s", tc.check, tc.faults, r.log())
			}
			if !strings.Contains(r.log(), tc.want) {
				t.Errorf("check %s failed, but not with %q:\n%s", tc.check, tc.want, r.log())
			}
			// The same check passes on the good plugin with the same backend.
			good := options(b, refplugin.Faults{})
			if r := record(t, func(tb testing.TB) { plugintest.RunCheck(tb, tc.check, good) }); r.failed {
				t.Errorf("check %s fails on the good plugin too:\n%s", tc.check, r.log())
			}
		})
	}
}

func TestStdoutBeforeHandshakeIsCaught(t *testing.T) {
	t.Parallel() // no harness: does not touch hclog.Default()
	r := record(t, func(tb testing.TB) { plugintest.BuildAndHandshake(tb, "./testdata/stdoutinit") })
	if !r.failed || !strings.Contains(r.log(), "handshake") {
		t.Fatalf("a plugin printing in init() passed BuildAndHandshake:\n%s", r.log())
	}
}

func TestStdoutDuringCallIsCaught(t *testing.T) {
	t.Parallel() // the stdio check uses no harness
	b := refbackend.Start(testUser, testPass)
	defer b.Close()
	opts := options(b, refplugin.Faults{})
	opts.Binary = "./testdata/stdoutcreate"
	r := record(t, func(tb testing.TB) { plugintest.RunCheck(tb, plugintest.CheckStdio, opts) })
	if !r.failed || !strings.Contains(r.log(), "wrote to stdout") {
		t.Fatalf("a plugin printing in Create passed the stdio check:\n%s", r.log())
	}
}

func TestChecksSkipWithoutBackendFeatures(t *testing.T) {
	b := refbackend.Start(testUser, testPass)
	defer b.Close()
	opts := options(b, refplugin.Faults{})
	opts.Backend = countOnly{b} // hides FaultInjector, NetworkBreaker, Staller
	for _, name := range []string{plugintest.CheckCancellation, plugintest.CheckErrorClassification} {
		r := record(t, func(tb testing.TB) { plugintest.RunCheck(tb, name, opts) })
		if !r.skipped || r.failed || !strings.Contains(r.log(), "Backend") {
			t.Errorf("%s: skipped=%v failed=%v, want a skip naming the missing Backend feature\n%s", name, r.skipped, r.failed, r.log())
		}
	}
}

type countOnly struct{ b *refbackend.Server }

func (c countOnly) Reset()                    { c.b.Reset() }
func (c countOnly) CountTickets(k string) int { return c.b.CountTickets(k) }

func TestRunCheckRejectsBadOptions(t *testing.T) {
	for name, opts := range map[string]plugintest.Options{
		"no factory": {Backend: countOnly{}},
		"no backend": {Factory: func() sdk.Plugin { return refplugin.New(refplugin.Faults{}) }},
	} {
		r := record(t, func(tb testing.TB) { plugintest.RunCheck(tb, plugintest.CheckSchema, opts) })
		if !r.failed {
			t.Errorf("%s: RunCheck did not fail", name)
		}
	}
	b := refbackend.Start(testUser, testPass)
	defer b.Close()
	r := record(t, func(tb testing.TB) { plugintest.RunCheck(tb, "nope", options(b, refplugin.Faults{})) })
	if !r.failed || !strings.Contains(r.log(), "unknown check") {
		t.Errorf("unknown check name: %s", r.log())
	}
}

// recorder is a testing.TB that records failures instead of failing the
// outer test. Methods it does not override (TempDir, Setenv...) go to the
// outer test.
type recorder struct {
	testing.TB
	mu       sync.Mutex
	failed   bool
	skipped  bool
	msgs     []string
	cleanups []func()
}

func record(t *testing.T, f func(tb testing.TB)) *recorder {
	t.Helper()
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	return r
}

func (r *recorder) add(failed bool, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if failed {
		r.failed = true
	}
	r.msgs = append(r.msgs, msg)
}

func (r *recorder) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.msgs, "\n")
}

func (r *recorder) Helper()                        {}
func (r *recorder) Error(args ...any)              { r.add(true, fmt.Sprint(args...)) }
func (r *recorder) Errorf(format string, a ...any) { r.add(true, fmt.Sprintf(format, a...)) }
func (r *recorder) Fail()                          { r.add(true, "Fail") }
func (r *recorder) FailNow()                       { r.add(true, "FailNow"); runtime.Goexit() }
func (r *recorder) Fatal(args ...any)              { r.Error(args...); runtime.Goexit() }
func (r *recorder) Fatalf(format string, a ...any) { r.Errorf(format, a...); runtime.Goexit() }
func (r *recorder) Log(args ...any)                { r.add(false, fmt.Sprint(args...)) }
func (r *recorder) Logf(format string, a ...any)   { r.add(false, fmt.Sprintf(format, a...)) }
func (r *recorder) Skip(args ...any)               { r.Log(args...); r.SkipNow() }
func (r *recorder) Skipf(format string, a ...any)  { r.Logf(format, a...); r.SkipNow() }
func (r *recorder) SkipNow()                       { r.mu.Lock(); r.skipped = true; r.mu.Unlock(); runtime.Goexit() }
func (r *recorder) Skipped() bool                  { r.mu.Lock(); defer r.mu.Unlock(); return r.skipped }
func (r *recorder) Failed() bool                   { r.mu.Lock(); defer r.mu.Unlock(); return r.failed }
func (r *recorder) Cleanup(f func())               { r.mu.Lock(); r.cleanups = append(r.cleanups, f); r.mu.Unlock() }
func (r *recorder) Context() context.Context       { return context.Background() }
