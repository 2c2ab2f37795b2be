package bridge

import (
	"context"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/core/pluginhost"
)

// LoadConfig loads path and decodes every backend's config block against
// its plugin's schema. It loads twice: first without plugins, to learn each
// backend's SHA-256 pin, so that no unpinned binary is ever executed even to
// read its schema.
func LoadConfig(ctx context.Context, path string, logger hclog.Logger) (*config.Config, *pluginhost.SchemaProvider, hcl.Diagnostics) {
	plain, diags := config.Load(path, config.Options{Context: ctx})
	if diags.HasErrors() {
		return plain, nil, diags
	}
	pins := map[string]string{}
	for _, b := range plain.Backends {
		if b.SHA256 != "" {
			pins[b.Type] = b.SHA256
		}
	}
	provider := &pluginhost.SchemaProvider{Dir: plain.PluginDir, Logger: logger, SHA256: pins}
	cfg, diags := config.Load(path, config.Options{Context: ctx, Schemas: provider})
	return cfg, provider, diags
}
