package plugintest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/hostclient"
	itsmv1 "github.com/itsmbridge/itsmbridge/sdk/proto/itsm/v1"
)

// Harness serves one plugin in the test process over real gRPC (a loopback
// listener) and talks to it through sdk/hostclient, exactly as the host does.
// Vendors get coverage and debugger support; the conformance checks use it.
type Harness struct {
	// Client is the host-side client, as core/pluginhost uses it.
	Client *hostclient.Client
	// RPC is the raw generated stub (to tell Unimplemented apart).
	RPC itsmv1.ITSMClient

	logs     *syncBuffer
	restore  func()
	inflight inflight
}

// NewHarness builds a plugin with factory and serves it over gRPC on
// 127.0.0.1 until the test ends. While the harness lives, hclog.Default()
// writes into a buffer (see Logs); it is swapped before factory runs, so
// plugins that log through hclog.Default() (as sdk.Serve sets it up) are
// captured. Harnesses must therefore not run in parallel tests.
//
// A panic inside a plugin call is recovered and reported as a gRPC Internal
// error containing "plugin panicked" (in production it would crash the
// plugin process).
func NewHarness(t testing.TB, factory func() sdk.Plugin) *Harness {
	t.Helper()
	h := &Harness{logs: &syncBuffer{}}
	h.inflight.changed = make(chan struct{}, 1)

	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "plugin",
		Output:     h.logs,
		JSONFormat: true,
		Level:      hclog.Trace,
	})
	hclog.Default() // initialise, so SetDefault returns a usable previous logger
	prev := hclog.SetDefault(logger)
	h.restore = func() { hclog.SetDefault(prev) }

	var p sdk.Plugin
	if factory != nil {
		p = factory()
	}

	srv := grpc.NewServer(
		grpc.MaxRecvMsgSize(sdk.MaxMessageBytes),
		grpc.MaxSendMsgSize(sdk.MaxMessageBytes),
		grpc.ChainUnaryInterceptor(h.inflight.intercept, recoverPanics),
	)
	if err := (&sdk.GRPCPlugin{Impl: p}).GRPCServer(nil, srv); err != nil {
		h.restore()
		t.Fatalf("plugintest: serve plugin: %v", err)
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		h.restore()
		t.Fatalf("plugintest: listen: %v", err)
		return nil
	}
	go func() { _ = srv.Serve(ln) }()
	conn, err := grpc.NewClient(ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(sdk.MaxMessageBytes), grpc.MaxCallSendMsgSize(sdk.MaxMessageBytes)),
	)
	if err != nil {
		srv.Stop()
		h.restore()
		t.Fatalf("plugintest: dial: %v", err)
		return nil
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		h.restore()
	})
	h.RPC = itsmv1.NewITSMClient(conn)
	h.Client = hostclient.New(h.RPC)
	return h
}

// Logs returns everything the plugin logged through hclog.Default() so far.
func (h *Harness) Logs() string { return h.logs.String() }

// WaitIdle waits until no plugin call is running, or until timeout. It
// reports whether the plugin became idle: a plugin that ignores a cancelled
// context keeps its handler running after the caller has given up.
func (h *Harness) WaitIdle(timeout time.Duration) bool {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		if h.inflight.count() == 0 {
			return true
		}
		select {
		case <-h.inflight.changed:
		case <-timer.C:
			return h.inflight.count() == 0
		}
	}
}

// inflight counts running plugin calls.
type inflight struct {
	mu      sync.Mutex
	n       int
	changed chan struct{}
}

func (f *inflight) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func (f *inflight) add(d int) {
	f.mu.Lock()
	f.n += d
	f.mu.Unlock()
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *inflight) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	f.add(1)
	defer f.add(-1)
	return handler(ctx, req)
}

func recoverPanics(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = status.Errorf(codes.Internal, "plugin panicked in %s: %v\n%s", info.FullMethod, r, debug.Stack())
		}
	}()
	return handler(ctx, req)
}

// syncBuffer is a goroutine-safe bytes.Buffer.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// isPanic reports whether err came from a recovered plugin panic.
func isPanic(err error) bool {
	return err != nil && bytes.Contains([]byte(err.Error()), []byte("plugin panicked"))
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%v", err)
}
