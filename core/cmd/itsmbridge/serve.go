package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/bridge"
)

func init() {
	register("serve", command{
		summary: "run the bridge (SIGHUP reloads, SIGTERM drains)",
		run:     runServe,
	})
}

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "config.hcl", "configuration file or directory of *.hcl")
	level := fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
	jsonLogs := fs.Bool("log-json", false, "log as JSON")
	if err := fs.Parse(args); err != nil {
		return exitFailed
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name: "itsmbridge", Level: hclog.LevelFromString(*level), Output: stderr, JSONFormat: *jsonLogs,
	})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	b, err := bridge.Start(ctx, bridge.Options{ConfigPath: *cfgPath, Logger: logger})
	if err != nil {
		var de *bridge.DiagnosticsError
		if errors.As(err, &de) {
			fmt.Fprintln(stderr, err)
			return exitFailed
		}
		fmt.Fprintf(stderr, "itsmbridge: %v\n", err)
		return exitRuntime
	}
	fmt.Fprintf(stdout, "itsmbridge listening: ingress http://%s  admin http://%s\n", b.Addr("ingress"), b.Addr("admin"))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			b.Reload(context.Background())
			continue
		case <-ctx.Done():
		}
		break
	}
	timeout := b.Config().Server.ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	logger.Info("shutting down", "drain_timeout", timeout)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	b.Shutdown(sctx)
	logger.Info("stopped")
	return exitOK
}
