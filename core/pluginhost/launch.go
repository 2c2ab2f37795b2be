package pluginhost

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/hostclient"
	itsmv1 "github.com/itsmbridge/itsmbridge/sdk/proto/itsm/v1"
)

// BinaryPrefix is the file name prefix of plugin binaries.
const BinaryPrefix = "itsmbridge-plugin-"

// DefaultEnvAllowList is the host environment a plugin inherits. Everything
// else (JWT settings, other plugins' credentials) stays in the host.
var DefaultEnvAllowList = []string{
	"PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_ALL",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
}

// Spec says which plugin to start for which backend.
type Spec struct {
	Type string // backend type label = plugin name
	Name string // backend instance name, for logs and errors
	// Dir is the plugin directory; Path, when set, overrides Dir.
	Dir  string
	Path string
	// SHA256 is an optional hex pin of the binary, checked before exec.
	SHA256 string
	// Env lists extra host environment variables passed to the plugin.
	Env    []string
	Logger hclog.Logger
	// StartTimeout bounds launch + handshake (default 10s).
	StartTimeout time.Duration
}

func (s Spec) id() string { return s.Type + "." + s.Name }

// BinaryPath returns where the plugin binary for s lives.
func (s Spec) BinaryPath() string {
	if s.Path != "" {
		return s.Path
	}
	return filepath.Join(s.Dir, BinaryPrefix+s.Type)
}

// Instance is one running plugin process.
type Instance struct {
	spec   Spec
	client *plugin.Client
	rpc    *hostclient.Client
	info   hostclient.Info
	schema sdk.Schema
}

// Info returns what the plugin reported at launch.
func (i *Instance) Info() hostclient.Info { return i.info }

// Schema returns the plugin's declared schema.
func (i *Instance) Schema() sdk.Schema { return i.schema }

// Client returns the typed RPC client.
func (i *Instance) Client() *hostclient.Client { return i.rpc }

// Exited reports whether the process has exited.
func (i *Instance) Exited() bool { return i.client.Exited() }

// Kill stops the process (gracefully, then forcefully).
func (i *Instance) Kill() { i.client.Kill() }

// Launch starts the plugin of spec, completes the handshake and reads its
// info and schema. Every failure names the backend and the cause, and
// includes the tail of the plugin's stderr where there is one.
func Launch(ctx context.Context, spec Spec) (*Instance, error) {
	if spec.Logger == nil {
		spec.Logger = hclog.NewNullLogger()
	}
	if spec.StartTimeout <= 0 {
		spec.StartTimeout = 10 * time.Second
	}
	path := spec.BinaryPath()
	fail := func(format string, args ...any) error {
		return fmt.Errorf("backend %s: plugin %s: %s", spec.id(), path, fmt.Sprintf(format, args...))
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fail("binary not found (build it with `make build` or check plugin_dir)")
	case err != nil:
		return nil, fail("%v", err)
	case st.IsDir() || st.Mode()&0o111 == 0:
		return nil, fail("not an executable file")
	}
	var secure *plugin.SecureConfig
	if spec.SHA256 != "" {
		want, err := hex.DecodeString(strings.TrimSpace(spec.SHA256))
		if err != nil || len(want) != sha256.Size {
			return nil, fail("sha256 pin is not 64 hex characters")
		}
		got, err := fileSHA256(path)
		if err != nil {
			return nil, fail("reading binary for checksum: %v", err)
		}
		if !bytes.Equal(got, want) {
			return nil, fail("checksum mismatch: binary is sha256 %x, config pins %x", got, want)
		}
		secure = &plugin.SecureConfig{Checksum: want, Hash: sha256.New()}
	}

	cmd := exec.Command(path)
	cmd.Env = allowedEnv(append(DefaultEnvAllowList, spec.Env...))
	setParentDeathSignal(cmd)
	stderrTail := newTail(4096)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.PluginSets(nil),
		Cmd:              cmd,
		SecureConfig:     secure,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     spec.StartTimeout,
		Stderr:           stderrTail,
		Logger:           spec.Logger.Named("plugin." + spec.id()),
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(sdk.MaxMessageBytes), grpc.MaxCallSendMsgSize(sdk.MaxMessageBytes)),
		},
	})
	inst, err := handshake(ctx, spec, client)
	if err != nil {
		client.Kill()
		msg := err.Error()
		if tail := stderrTail.String(); tail != "" {
			msg += "; plugin stderr: " + tail
		}
		return nil, fail("%s", msg)
	}
	return inst, nil
}

func handshake(ctx context.Context, spec Spec, client *plugin.Client) (*Instance, error) {
	proto, err := client.Client()
	if err != nil {
		return nil, fmt.Errorf("start failed (is it an itsmbridge plugin built with this SDK's protocol version %d?): %w", sdk.ProtocolVersion, err)
	}
	raw, err := proto.Dispense(sdk.PluginKey)
	if err != nil {
		return nil, fmt.Errorf("dispense: %w", err)
	}
	stub, ok := raw.(itsmv1.ITSMClient)
	if !ok {
		return nil, fmt.Errorf("plugin served %T, not the itsm.v1 service", raw)
	}
	rpc := hostclient.New(stub)
	ctx, cancel := context.WithTimeout(ctx, spec.StartTimeout)
	defer cancel()
	info, err := rpc.Info(ctx)
	if err != nil {
		return nil, err
	}
	if info.Name != spec.Type {
		return nil, fmt.Errorf("plugin reports name %q, expected %q", info.Name, spec.Type)
	}
	if !compatibleAPI(info.APIVersions) {
		return nil, fmt.Errorf("plugin speaks API versions %v; this host needs %s", info.APIVersions, sdk.APIVersion)
	}
	schema, err := rpc.Schema(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := schema.ImpliedType(); err != nil {
		return nil, fmt.Errorf("plugin declares an invalid config schema: %w", err)
	}
	return &Instance{spec: spec, client: client, rpc: rpc, info: info, schema: schema}, nil
}

// compatibleAPI reports whether the plugin speaks our API major version.
func compatibleAPI(versions []string) bool {
	major, _, _ := strings.Cut(sdk.APIVersion, ".")
	for _, v := range versions {
		if m, _, _ := strings.Cut(v, "."); m == major {
			return true
		}
	}
	return false
}

func fileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func allowedEnv(names []string) []string {
	var env []string
	for _, n := range names {
		if v, ok := os.LookupEnv(n); ok {
			env = append(env, n+"="+v)
		}
	}
	return env
}

// tail keeps the last n bytes written to it.
type tail struct {
	mu  sync.Mutex
	n   int
	buf []byte
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.n {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.n:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.buf))
}
