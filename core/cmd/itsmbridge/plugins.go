package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/core/pluginhost"
	"github.com/itsmbridge/itsmbridge/sdk"
)

func init() {
	validateSchemas = func(_ context.Context, cfg *config.Config, logger hclog.Logger) (config.SchemaProvider, func(), error) {
		p := newCLIPlugins(cfg, logger)
		return p, p.close, nil
	}
	register("plugins list", command{
		summary: "launch each configured plugin and print name, version, protocol, capabilities",
		run:     runPluginsList,
	})
}

// cliPlugins launches each plugin type once and keeps it for the command's
// lifetime: validate asks it for the schema and then for the plugin's own
// offline checks (ValidateConfig), which never contact the vendor.
type cliPlugins struct {
	dir    string
	pins   map[string]string
	logger hclog.Logger

	mu    sync.Mutex
	insts map[string]*pluginhost.Instance
}

func newCLIPlugins(cfg *config.Config, logger hclog.Logger) *cliPlugins {
	p := &cliPlugins{dir: cfg.PluginDir, pins: map[string]string{}, logger: logger, insts: map[string]*pluginhost.Instance{}}
	for _, b := range cfg.Backends {
		if b.SHA256 != "" {
			p.pins[b.Type] = b.SHA256
		}
	}
	return p
}

func (p *cliPlugins) instance(ctx context.Context, typ string) (*pluginhost.Instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if inst, ok := p.insts[typ]; ok {
		return inst, nil
	}
	inst, err := pluginhost.Launch(ctx, pluginhost.Spec{Type: typ, Name: "validate", Dir: p.dir, SHA256: p.pins[typ], Logger: p.logger})
	if err != nil {
		return nil, err
	}
	p.insts[typ] = inst
	return inst, nil
}

// PluginSchema implements config.SchemaProvider.
func (p *cliPlugins) PluginSchema(ctx context.Context, typ string) (sdk.Schema, error) {
	inst, err := p.instance(ctx, typ)
	if err != nil {
		return sdk.Schema{}, err
	}
	return inst.Schema(), nil
}

// ValidateBackendConfig runs the plugin's offline checks on a decoded config.
func (p *cliPlugins) ValidateBackendConfig(ctx context.Context, b *config.Backend) (sdk.Diagnostics, error) {
	inst, err := p.instance(ctx, b.Type)
	if err != nil {
		return nil, err
	}
	return inst.Client().ValidateConfig(ctx, b.Config)
}

func (p *cliPlugins) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, inst := range p.insts {
		inst.Kill()
	}
}

func runPluginsList(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("plugins list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "config.hcl", "configuration file or directory")
	if err := fs.Parse(args); err != nil {
		return exitFailed
	}
	cfg, diags := config.Load(*cfgPath, config.Options{})
	if diags.HasErrors() {
		if cfg != nil {
			_ = cfg.WriteDiagnostics(stderr, diags, 0)
		}
		return exitFailed
	}
	p := newCLIPlugins(cfg, hclog.NewNullLogger())
	defer p.close()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\tPLUGIN\tVERSION\tPROTOCOL\tCAPABILITIES")
	failed := false
	seen := map[string]bool{}
	for _, b := range cfg.Backends {
		if seen[b.Type] {
			continue
		}
		seen[b.Type] = true
		inst, err := p.instance(context.Background(), b.Type)
		if err != nil {
			fmt.Fprintf(stderr, "itsmbridge: %v\n", err)
			failed = true
			continue
		}
		i := inst.Info()
		fmt.Fprintf(tw, "%s.%s\t%s\t%s\t%d (api %s)\t%s\n", b.Type, b.Name, i.Name, i.Version, sdk.ProtocolVersion, strings.Join(i.APIVersions, ","), strings.Join(i.Capabilities, ","))
	}
	tw.Flush()
	if failed {
		return exitRuntime
	}
	return exitOK
}
