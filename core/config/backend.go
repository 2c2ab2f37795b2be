package config

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/hclschema"
)

var backendSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "sha256"},
		{Name: "max_concurrency"},
		{Name: "rate_limit"},
		{Name: "max_age"},
		{Name: "timeout"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "config"}},
}

func (d *decoder) decodeBackends(cfg *Config, blocks hcl.Blocks) {
	seen := map[string]hcl.Range{}
	for _, b := range blocks {
		if b.Type != "backend" {
			continue
		}
		if !d.identifier(b, 0, "backend type") || !d.identifier(b, 1, "backend name") {
			continue
		}
		be := &Backend{
			Type: b.Labels[0], Name: b.Labels[1],
			MaxConcurrency: DefaultMaxConcurrency, MaxAge: DefaultMaxAge, Timeout: DefaultBackendTimeout,
			DeclRange: b.DefRange, cfgRange: b.DefRange, redact: cfg.Redact,
		}
		if d.duplicate(seen, fmt.Sprintf("%q %q", be.Type, be.Name), "backend", b) {
			continue
		}
		content, diags := b.Body.Content(backendSchema)
		d.add(diags...)
		a := content.Attributes
		if attr := d.str(a, "sha256", &be.SHA256); attr != nil {
			be.SHA256 = strings.ToLower(be.SHA256)
			if raw, err := hex.DecodeString(be.SHA256); err != nil || len(raw) != 32 {
				d.errorf(attr.Expr.Range(), "Invalid sha256", "sha256 must be 64 hexadecimal digits (the output of sha256sum on the plugin binary).")
			}
		}
		d.intAttr(a, "max_concurrency", 1, 1024, &be.MaxConcurrency)
		d.number(a, "rate_limit", &be.RateLimit)
		if attr := d.duration(a, "max_age", &be.MaxAge); attr != nil && be.MaxAge == 0 {
			d.errorf(attr.Expr.Range(), "Invalid duration", "max_age must be positive.")
		}
		if attr := d.duration(a, "timeout", &be.Timeout); attr != nil && be.Timeout == 0 {
			d.errorf(attr.Expr.Range(), "Invalid duration", "timeout must be positive.")
		}
		if cb := d.singleBlock(content.Blocks, "config"); cb != nil {
			be.Body = cb.Body
			be.cfgRange = cb.DefRange
		}
		cfg.Backends = append(cfg.Backends, be)
	}
}

// decodeBackendConfigs decodes every backend's config body against its
// plugin's schema, or, without a schema provider, evaluates its attributes to
// find unset env vars and collect secrets. It returns the schemas by type.
func (d *decoder) decodeBackendConfigs(cfg *Config, opts Options) map[string]*sdk.Schema {
	schemas := map[string]*sdk.Schema{}
	if opts.Schemas == nil {
		for _, be := range cfg.Backends {
			if body, ok := be.Body.(*hclsyntax.Body); ok {
				be.SensitivePaths = d.evalRawBody(body, nil)
			}
		}
		return schemas
	}
	failed := map[string]bool{}
	for _, be := range cfg.Backends {
		if failed[be.Type] {
			continue
		}
		schema, ok := schemas[be.Type]
		if !ok {
			s, err := opts.Schemas.PluginSchema(opts.Context, be.Type)
			if err != nil {
				failed[be.Type] = true
				d.errorf(be.DeclRange, "Cannot load plugin schema",
					"The schema of plugin %q could not be read, so its config cannot be checked: %s", be.Type, err)
				continue
			}
			schema = &s
			schemas[be.Type] = schema
		}
		d.decodeBackendConfig(be, *schema)
	}
	return schemas
}

func (d *decoder) decodeBackendConfig(be *Backend, schema sdk.Schema) {
	spec, err := hclschema.Spec(schema)
	var ty cty.Type
	if err == nil {
		ty, err = schema.ImpliedType()
	}
	if err != nil {
		d.errorf(be.DeclRange, "Invalid plugin schema", "The plugin %q declares an invalid config schema (a bug in the plugin): %s", be.Type, err)
		return
	}
	body := be.Body
	if body == nil {
		if req := requiredNames(schema); len(req) > 0 {
			d.errorf(be.DeclRange, "Missing config block",
				"The %s plugin requires a config block with %s.", be.Type, quotedList(req))
			return
		}
		body = hcl.EmptyBody()
	}
	v, diags := hcldec.Decode(body, spec, d.static)
	d.add(diags...)
	if diags.HasErrors() {
		return
	}
	v, marked := v.UnmarkDeepWithPaths()
	var paths []cty.Path
	for _, pm := range marked {
		if _, ok := pm.Marks[Sensitive]; ok {
			paths = append(paths, pm.Path)
		}
	}
	for _, p := range schema.SensitivePaths() {
		var path cty.Path
		for _, step := range strings.Split(p, ".") {
			path = path.GetAttr(step)
		}
		paths = append(paths, path)
	}
	for _, p := range paths {
		if sv, err := p.Apply(v); err == nil {
			addSecretStrings(d.secrets, sv)
		}
	}
	c, err := sdk.NewConfig(v, ty)
	if err != nil {
		d.errorf(be.cfgRange, "Cannot encode config", "The config of backend %s does not fit its plugin's schema: %s", be.Ref(), err)
		return
	}
	be.Decoded, be.Schema, be.Value, be.Config, be.SensitivePaths = true, schema, v, c, paths
}

// evalRawBody evaluates every attribute of an undecoded config body (nested
// blocks too), reporting errors such as unset env vars, and returns the paths
// of values that came from env() or file().
func (d *decoder) evalRawBody(body *hclsyntax.Body, prefix cty.Path) []cty.Path {
	var paths []cty.Path
	for name, attr := range body.Attributes {
		v, diags := attr.Expr.Value(d.static)
		d.add(diags...)
		if v.ContainsMarked() {
			addSecretStrings(d.secrets, v)
			paths = append(paths, prefix.Copy().GetAttr(name))
		}
	}
	for _, b := range body.Blocks {
		paths = append(paths, d.evalRawBody(b.Body, prefix.Copy().GetAttr(b.Type))...)
	}
	return paths
}

// DiagnosticsFor maps a plugin's diagnostics (from ValidateConfig or
// Configure) to HCL diagnostics at the range of the attribute each one names,
// falling back to the config block and then the backend block. Secrets are
// redacted from summaries and details.
func (b *Backend) DiagnosticsFor(pd sdk.Diagnostics) hcl.Diagnostics {
	out := make(hcl.Diagnostics, 0, len(pd))
	for _, x := range pd {
		sev := hcl.DiagError
		if x.Severity == sdk.SeverityWarning {
			sev = hcl.DiagWarning
		}
		summary, detail := x.Summary, x.Detail
		if b.redact != nil {
			summary, detail = b.redact(summary), b.redact(detail)
		}
		if len(x.AttributePath) > 0 {
			detail = strings.TrimSpace(fmt.Sprintf("%s (in %s, attribute %s)", detail, b.Ref(), strings.Join(x.AttributePath, ".")))
		} else {
			detail = strings.TrimSpace(fmt.Sprintf("%s (in %s)", detail, b.Ref()))
		}
		rng := b.AttributeRange(x.AttributePath)
		out = append(out, &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail, Subject: &rng})
	}
	return out
}

// AttributeRange returns the source range of the config attribute (or nested
// block) at path, or the closest enclosing range that exists.
func (b *Backend) AttributeRange(path []string) hcl.Range {
	body, ok := b.Body.(*hclsyntax.Body)
	if !ok {
		return b.cfgRange
	}
	rng := b.cfgRange
	for _, step := range path {
		if attr, ok := body.Attributes[step]; ok {
			// Deeper steps (e.g. a map key) are inside the value; the
			// value is the best we can point at.
			return attr.Expr.Range()
		}
		var next *hclsyntax.Block
		for _, blk := range body.Blocks {
			if blk.Type == step {
				next = blk
				break
			}
		}
		if next == nil {
			return rng
		}
		rng = next.DefRange()
		body = next.Body
	}
	return rng
}

// requiredNames lists the schema's required attributes and blocks.
func requiredNames(s sdk.Schema) []string {
	var out []string
	for _, a := range s.Attributes {
		if a.Required {
			out = append(out, a.Name)
		}
	}
	for _, b := range s.Blocks {
		if b.Required {
			out = append(out, b.Name)
		}
	}
	return out
}
