package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/itsmbridge/itsmbridge/core/auth"
	"github.com/itsmbridge/itsmbridge/core/config"
)

func init() {
	register("auth check", command{
		summary: "validate a token as a source would and explain every check",
		run:     runAuthCheck,
	})
}

func runAuthCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("auth check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "config.hcl", "configuration file or directory")
	source := fs.String("source", "", "name of the source block whose azure_ad settings apply")
	if err := fs.Parse(args); err != nil {
		return exitFailed
	}
	if fs.NArg() != 1 || *source == "" {
		fmt.Fprintln(stderr, "usage: itsmbridge auth check -config PATH -source NAME TOKEN")
		return exitFailed
	}
	cfg, diags := config.Load(*cfgPath, config.Options{})
	if diags.HasErrors() {
		if cfg != nil {
			_ = cfg.WriteDiagnostics(stderr, diags, 0)
		} else {
			fmt.Fprintln(stderr, diags.Error())
		}
		return exitFailed
	}
	src := cfg.Source(*source)
	if src == nil {
		fmt.Fprintf(stderr, "itsmbridge: no source %q in %s\n", *source, *cfgPath)
		return exitFailed
	}
	v, err := auth.NewVerifier(src.Auth)
	if err != nil {
		fmt.Fprintf(stderr, "itsmbridge: source %q: %v\n", *source, err)
		return exitFailed
	}
	defer v.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !auth.WriteChecks(stdout, v.Explain(ctx, fs.Arg(0))) {
		return exitFailed
	}
	return exitOK
}
