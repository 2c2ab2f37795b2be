package plugintest

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/itsmbridge/itsmbridge/sdk"
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
	spec, err := specOf(s)
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

// specOf converts a schema to an hcldec spec (the host's core/config/hclschema
// does the same; the SDK cannot import the core).
func specOf(s sdk.Schema) (hcldec.ObjectSpec, error) {
	spec := hcldec.ObjectSpec{}
	for _, a := range s.Attributes {
		if a.Name == "" {
			return nil, fmt.Errorf("attribute with an empty name")
		}
		if _, dup := spec[a.Name]; dup {
			return nil, fmt.Errorf("attribute %q declared twice", a.Name)
		}
		ty, err := a.CtyType()
		if err != nil {
			return nil, err
		}
		var as hcldec.Spec = &hcldec.AttrSpec{Name: a.Name, Type: ty, Required: a.Required}
		if a.Default != "" {
			if a.Required {
				return nil, fmt.Errorf("attribute %q: required attributes cannot have a default", a.Name)
			}
			def, err := defaultValue(a.Default, ty)
			if err != nil {
				return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
			}
			as = &hcldec.DefaultSpec{Primary: as, Default: &hcldec.LiteralSpec{Value: def}}
		}
		spec[a.Name] = as
	}
	for _, b := range s.Blocks {
		if b.Name == "" {
			return nil, fmt.Errorf("block with an empty name")
		}
		if _, dup := spec[b.Name]; dup {
			return nil, fmt.Errorf("block %q: name already used", b.Name)
		}
		nested, err := specOf(b.Nested)
		if err != nil {
			return nil, fmt.Errorf("block %q: %w", b.Name, err)
		}
		spec[b.Name] = &hcldec.BlockSpec{TypeName: b.Name, Nested: nested, Required: b.Required}
	}
	return spec, nil
}

func defaultValue(js string, ty cty.Type) (cty.Value, error) {
	want := ty
	if ty.HasDynamicTypes() {
		implied, err := ctyjson.ImpliedType([]byte(js))
		if err != nil {
			return cty.NilVal, fmt.Errorf("bad default %s: %w", js, err)
		}
		want = implied
	}
	v, err := ctyjson.Unmarshal([]byte(js), want)
	if err != nil {
		return cty.NilVal, fmt.Errorf("bad default %s: %w", js, err)
	}
	return v, nil
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
