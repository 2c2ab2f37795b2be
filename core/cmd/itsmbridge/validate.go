package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// validateSchemas, when set (by the file that wires the plugin host into the
// CLI), returns a provider that launches each backend's plugin once to read
// its config schema; release is called when validation is done. cfg is the
// configuration loaded without schemas (plugin_dir, sha256 pins). When nil,
// `validate` checks everything but the plugin configs and says so.
var validateSchemas func(ctx context.Context, cfg *config.Config, logger hclog.Logger) (p config.SchemaProvider, release func(), err error)

// backendConfigValidator is implemented by schema providers that can also run
// a plugin's own offline checks (sdk.ConfigValidator) on a decoded config.
type backendConfigValidator interface {
	ValidateBackendConfig(ctx context.Context, b *config.Backend) (sdk.Diagnostics, error)
}

func init() {
	register("validate", command{
		summary: "check a configuration (syntax, types, references, plugin configs); exit 0/1",
		run:     runValidate,
	})
}

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config.hcl", "configuration file, or directory of *.hcl files")
	noPlugins := fs.Bool("no-plugins", false, "do not launch plugins to check their config blocks")
	dump := fs.Bool("dump", false, "print the loaded configuration as JSON, secrets redacted")
	if err := fs.Parse(args); err != nil {
		return exitFailed
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "itsmbridge validate: unexpected argument %q (use -config PATH)\n", fs.Arg(0))
		return exitFailed
	}
	ctx := context.Background()

	cfg, diags := config.Load(*path, config.Options{Context: ctx})
	pluginNote := ""
	switch {
	case diags.HasErrors():
	case *noPlugins:
		pluginNote = "plugin configs not checked (-no-plugins)"
	case validateSchemas == nil:
		pluginNote = "plugin configs not checked: this build has no plugin host"
	case len(cfg.Backends) > 0:
		logger := hclog.New(&hclog.LoggerOptions{Name: "validate", Level: hclog.Warn, Output: cfg.RedactWriter(stderr)})
		provider, release, err := validateSchemas(ctx, cfg, logger)
		if err != nil {
			fmt.Fprintf(stderr, "itsmbridge validate: %s\n", cfg.Redact(err.Error()))
			return exitRuntime
		}
		if release != nil {
			defer release()
		}
		cfg, diags = config.Load(*path, config.Options{Context: ctx, Schemas: provider})
		if v, ok := provider.(backendConfigValidator); ok && !diags.HasErrors() {
			for _, b := range cfg.Backends {
				pd, err := v.ValidateBackendConfig(ctx, b)
				if err != nil {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Plugin check failed",
						Detail:   cfg.Redact(fmt.Sprintf("The %s plugin could not check the config of %s: %s", b.Type, b.Ref(), err)),
						Subject:  b.DeclRange.Ptr(),
					})
					continue
				}
				diags = append(diags, b.DiagnosticsFor(pd)...)
			}
		}
	}

	if len(diags) > 0 {
		if err := cfg.WriteDiagnostics(stderr, diags, 100); err != nil {
			fmt.Fprintf(stderr, "itsmbridge validate: %v\n", err)
			return exitRuntime
		}
	}
	if diags.HasErrors() {
		errs := 0
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				errs++
			}
		}
		fmt.Fprintf(stderr, "itsmbridge validate: %s: %d error(s)\n", *path, errs)
		return exitFailed
	}
	if *dump {
		b, err := json.MarshalIndent(cfg.Dump(), "", "  ")
		if err != nil {
			fmt.Fprintf(stderr, "itsmbridge validate: %v\n", err)
			return exitRuntime
		}
		fmt.Fprintln(stdout, cfg.Redact(string(b)))
	}
	fmt.Fprintf(stdout, "%s: valid (%s, %s, %s)\n", *path,
		validatePlural(len(cfg.Sources), "source"), validatePlural(len(cfg.Backends), "backend"), validatePlural(len(cfg.Routes), "route"))
	if pluginNote != "" {
		fmt.Fprintf(stdout, "note: %s\n", pluginNote)
	}
	return exitOK
}

func validatePlural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, strings.TrimSuffix(what, "s"))
}
