package pluginhost

import (
	"context"
	"sync"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// SchemaProvider launches a plugin once per type to read its schema, for
// core/config (config.SchemaProvider). Schemas are cached: a binary's schema
// does not change while the host runs.
type SchemaProvider struct {
	Dir    string
	Logger hclog.Logger
	// SHA256 pins by plugin type, as configured on the backends.
	SHA256 map[string]string

	mu    sync.Mutex
	cache map[string]sdk.Schema
	infos map[string]Info
}

// Info is what `plugins list` shows.
type Info struct {
	Type         string
	Name         string
	Version      string
	APIVersions  []string
	Capabilities []string
	Path         string
}

// PluginSchema implements config.SchemaProvider.
func (p *SchemaProvider) PluginSchema(ctx context.Context, backendType string) (sdk.Schema, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.cache[backendType]; ok {
		return s, nil
	}
	spec := Spec{Type: backendType, Name: "schema", Dir: p.Dir, SHA256: p.SHA256[backendType], Logger: p.Logger}
	inst, err := Launch(ctx, spec)
	if err != nil {
		return sdk.Schema{}, err
	}
	defer inst.Kill()
	if p.cache == nil {
		p.cache, p.infos = map[string]sdk.Schema{}, map[string]Info{}
	}
	p.cache[backendType] = inst.Schema()
	i := inst.Info()
	p.infos[backendType] = Info{Type: backendType, Name: i.Name, Version: i.Version, APIVersions: i.APIVersions, Capabilities: i.Capabilities, Path: spec.BinaryPath()}
	return inst.Schema(), nil
}

// Infos returns the info of every plugin launched so far.
func (p *SchemaProvider) Infos() map[string]Info {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]Info, len(p.infos))
	for k, v := range p.infos {
		out[k] = v
	}
	return out
}
