package plugintest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/hostclient"
	itsmv1 "github.com/itsmbridge/itsmbridge/sdk/proto/itsm/v1"
)

// Process is a plugin binary started through a real go-plugin handshake
// (AutoMTLS, gRPC, no host environment), as core/pluginhost starts it.
type Process struct {
	// Client is the host-side client of the running plugin.
	Client *hostclient.Client
	// Path is the built binary.
	Path string

	pc     *plugin.Client
	stdout *syncBuffer
	stderr *syncBuffer // the plugin's log lines and anything written to stderr
}

// Stdout returns what the plugin wrote to stdout after the handshake. Writes
// before the handshake break it, so BuildAndHandshake fails instead.
func (p *Process) Stdout() string { return p.stdout.String() }

// Logs returns the plugin's stderr (its JSON log lines) as seen by the host.
func (p *Process) Logs() string { return p.stderr.String() }

// Kill stops the plugin process and waits for it to exit. It is idempotent
// and also run at test cleanup.
func (p *Process) Kill() { p.pc.Kill() }

// Build compiles the main package pkg (a path as `go build` takes it,
// relative to the test's package directory, e.g. "." or "./cmd/plugin") into
// a fresh temporary directory and returns the binary's path. The binary is
// named itsmbridge-plugin-<base of pkg> as the host expects.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		if gr := os.Getenv("GOROOT"); gr != "" {
			goBin = filepath.Join(gr, "bin", "go")
		} else {
			t.Fatalf("plugintest: cannot build %s: go tool not found in PATH", pkg)
			return ""
		}
	}
	abs, err := filepath.Abs(pkg)
	if err != nil {
		t.Fatalf("plugintest: build %s: %v", pkg, err)
		return ""
	}
	name := "itsmbridge-plugin-" + filepath.Base(abs)
	out := filepath.Join(t.TempDir(), name)
	// No DWARF: linking is most of the build time, and the kit needs no debugger.
	cmd := exec.Command(goBin, "build", "-ldflags=-s -w", "-o", out, pkg)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("plugintest: go build %s: %v\n%s", pkg, err, b)
		return ""
	}
	return out
}

// BuildAndHandshake builds the plugin's main package pkg (see Build), starts
// it through a real go-plugin handshake and returns the running process. A
// plugin that writes to stdout before the handshake fails here with the
// handshake error; anything it writes to stdout later fails the test at
// cleanup, so a test that drives the returned Client through real operations
// proves nothing reaches stdout.
func BuildAndHandshake(t testing.TB, pkg string) *Process {
	t.Helper()
	return Start(t, Build(t, pkg))
}

// Start runs an already built plugin binary through the handshake (see
// BuildAndHandshake).
func Start(t testing.TB, path string) *Process {
	t.Helper()
	p := &Process{Path: path, stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:   "plugintest.host",
		Output: p.stderr,
		Level:  hclog.Trace,
	})
	p.pc = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.PluginSets(nil),
		Cmd:              exec.Command(path),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     30 * time.Second,
		Logger:           logger,
		SyncStdout:       p.stdout,
		SyncStderr:       p.stderr,
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(sdk.MaxMessageBytes), grpc.MaxCallSendMsgSize(sdk.MaxMessageBytes))},
	})
	t.Cleanup(func() {
		p.pc.Kill()
		if out := p.Stdout(); out != "" {
			t.Errorf("plugintest: plugin %s wrote to stdout (must log through hclog to stderr):\n%s", filepath.Base(path), truncate(out, 2048))
		}
	})
	rpcClient, err := p.pc.Client()
	if err != nil {
		t.Fatalf("plugintest: handshake with %s failed (does it print to stdout before sdk.Serve?): %v\nplugin stderr:\n%s",
			filepath.Base(path), err, truncate(p.Logs(), 4096))
		return nil
	}
	raw, err := rpcClient.Dispense(sdk.PluginKey)
	if err != nil {
		t.Fatalf("plugintest: dispense %s: %v", filepath.Base(path), err)
		return nil
	}
	stub, ok := raw.(itsmv1.ITSMClient)
	if !ok {
		t.Fatalf("plugintest: dispense %s: got %T, want itsmv1.ITSMClient", filepath.Base(path), raw)
		return nil
	}
	p.Client = hostclient.New(stub)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := p.Client.Info(ctx); err != nil {
		t.Fatalf("plugintest: GetInfo on %s: %v", filepath.Base(path), err)
		return nil
	}
	return p
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + fmt.Sprintf("…(%d more bytes)", len(s)-n)
}

// containsFold reports whether s contains sub, ignoring case.
func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
