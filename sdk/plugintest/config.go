package plugintest

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/hclschema"
)

// DecodeConfig decodes src, the body of a backend's `config { ... }` block in
// HCL native syntax, against schema s and encodes it for Configure, as the
// host does. Decode problems (unknown attribute, wrong type, missing required
// value) are returned as one error with line numbers.
func DecodeConfig(s sdk.Schema, src string) (sdk.Config, error) {
	ty, err := s.ImpliedType()
	if err != nil {
		return sdk.Config{}, fmt.Errorf("plugin schema: %w", err)
	}
	spec, err := hclschema.Spec(s)
	if err != nil {
		return sdk.Config{}, fmt.Errorf("plugin schema: %w", err)
	}
	f, diags := hclsyntax.ParseConfig([]byte(src), "config.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return sdk.Config{}, fmt.Errorf("config: %s", diags.Error())
	}
	v, diags := hcldec.Decode(f.Body, spec, nil)
	if diags.HasErrors() {
		return sdk.Config{}, fmt.Errorf("config: %s", diags.Error())
	}
	return sdk.NewConfig(v, ty)
}

// sensitiveValues returns the string values of the sensitive attributes set
// in cfg (nested blocks included).
func sensitiveValues(s sdk.Schema, cfg sdk.Config) []string {
	v, err := cfg.Value()
	if err != nil || v.IsNull() {
		return nil
	}
	var out []string
	for _, p := range s.SensitivePaths() {
		cur := v
		for _, step := range strings.Split(p, ".") {
			if cur.IsNull() || !cur.IsKnown() || !cur.Type().IsObjectType() || !cur.Type().HasAttribute(step) {
				cur = cty.NilVal
				break
			}
			cur = cur.GetAttr(step)
		}
		if cur == cty.NilVal {
			continue
		}
		out = append(out, stringsIn(cur)...)
	}
	return out
}

// stringsIn collects every string leaf of v.
func stringsIn(v cty.Value) []string {
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return []string{v.AsString()}
	case ty == cty.Number || ty == cty.Bool:
		return nil
	case ty.IsObjectType() || ty.IsMapType() || ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		var out []string
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			out = append(out, stringsIn(ev)...)
		}
		return out
	}
	return nil
}

// withAttr returns cfg with the top-level attribute name set to val.
func withAttr(cfg sdk.Config, name string, val cty.Value) (sdk.Config, error) {
	v, err := cfg.Value()
	if err != nil {
		return sdk.Config{}, err
	}
	m := map[string]cty.Value{}
	if !v.IsNull() {
		m = v.AsValueMap()
	}
	if m == nil {
		m = map[string]cty.Value{}
	}
	m[name] = val
	// Fill attributes the value lacks so it conforms to the type.
	for an, at := range cfg.Type.AttributeTypes() {
		if _, ok := m[an]; !ok {
			m[an] = cty.NullVal(at)
		}
	}
	return sdk.NewConfig(cty.ObjectVal(m), cfg.Type)
}

// allNull is an object of the schema's type with every attribute null: what
// the host sends for an empty block when nothing is required.
func allNull(ty cty.Type) (sdk.Config, error) {
	m := map[string]cty.Value{}
	for an, at := range ty.AttributeTypes() {
		m[an] = cty.NullVal(at)
	}
	if len(m) == 0 {
		return sdk.NewConfig(cty.EmptyObjectVal, ty)
	}
	return sdk.NewConfig(cty.ObjectVal(m), ty)
}
