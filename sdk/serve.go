package sdk

import (
	"io"
	"os"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// ServeOption configures Serve.
type ServeOption func(*serveConfig)

type serveConfig struct {
	logOutput      io.Writer
	parentInterval time.Duration
}

// WithLogOutput sends the plugin's JSON logs somewhere other than stderr.
func WithLogOutput(w io.Writer) ServeOption {
	return func(c *serveConfig) { c.logOutput = w }
}

// WithParentCheckInterval sets how often the plugin checks that its host is
// still alive (default 1s; 0 disables the watch).
func WithParentCheckInterval(d time.Duration) ServeOption {
	return func(c *serveConfig) { c.parentInterval = d }
}

// Serve runs p as a go-plugin gRPC plugin process. It returns only when the
// host goes away. main must call it and do nothing else: anything written to
// stdout before the handshake breaks the plugin start (go-plugin #199).
//
// Serve sets hclog's default logger to JSON on stderr, which the host parses
// to keep log levels; plugins should log through hclog.Default() or a logger
// passed to them, never fmt.Print.
func Serve(p Plugin, opts ...ServeOption) {
	cfg := serveConfig{logOutput: os.Stderr, parentInterval: time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	name := "plugin"
	if p != nil {
		name = p.Info().Name
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       name,
		Output:     cfg.logOutput,
		JSONFormat: true,
		Level:      hclog.Trace, // the host filters by its own level
	})
	hclog.SetDefault(logger)

	if cfg.parentInterval > 0 {
		go watchParent(logger, cfg.parentInterval)
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: PluginSets(p),
		Logger:           logger,
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes))
			return grpc.NewServer(opts...)
		},
	})
}

// watchParent exits the plugin when its host dies. On Linux the host also
// sets a parent-death signal, but that is tied to the host thread that forked
// us, so this watch is the portable backstop against orphans.
func watchParent(logger hclog.Logger, every time.Duration) {
	parent := os.Getppid()
	for range time.Tick(every) {
		if os.Getppid() != parent {
			logger.Warn("host process went away; exiting", "parent_pid", parent)
			os.Exit(0)
		}
	}
}
