package hclschema

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// Spec converts s into an hcldec object spec whose implied type equals
// s.ImpliedType(). An error means the plugin declared an invalid schema (a bad
// type string, a bad default, a name declared twice): a bug in the plugin, not
// in the user's config.
func Spec(s sdk.Schema) (hcldec.ObjectSpec, error) {
	spec := hcldec.ObjectSpec{}
	for _, a := range s.Attributes {
		if a.Name == "" {
			return nil, fmt.Errorf("attribute with an empty name")
		}
		if _, dup := spec[a.Name]; dup {
			return nil, fmt.Errorf("attribute %q declared twice", a.Name)
		}
		as, err := attrSpec(a)
		if err != nil {
			return nil, err
		}
		spec[a.Name] = as
	}
	for _, b := range s.Blocks {
		if b.Name == "" {
			return nil, fmt.Errorf("block with an empty name")
		}
		if _, dup := spec[b.Name]; dup {
			return nil, fmt.Errorf("block %q: name already used by an attribute or block", b.Name)
		}
		nested, err := Spec(b.Nested)
		if err != nil {
			return nil, fmt.Errorf("block %q: %w", b.Name, err)
		}
		spec[b.Name] = &hcldec.BlockSpec{TypeName: b.Name, Nested: nested, Required: b.Required}
	}
	return spec, nil
}

func attrSpec(a sdk.Attribute) (hcldec.Spec, error) {
	ty, err := a.CtyType()
	if err != nil {
		return nil, err
	}
	var spec hcldec.Spec = &hcldec.AttrSpec{Name: a.Name, Type: ty, Required: a.Required}
	if a.Default != "" {
		if a.Required {
			return nil, fmt.Errorf("attribute %q: required attributes cannot have a default", a.Name)
		}
		def, err := DefaultValue(a.Default, ty)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
		}
		spec = &hcldec.DefaultSpec{Primary: spec, Default: &hcldec.LiteralSpec{Value: def}}
	}
	if a.Deprecated != "" {
		name, msg := a.Name, a.Deprecated
		spec = &hcldec.ValidateSpec{Wrapped: spec, Func: func(v cty.Value) hcl.Diagnostics {
			if v.IsNull() {
				return nil
			}
			return hcl.Diagnostics{{
				Severity: hcl.DiagWarning,
				Summary:  "Deprecated attribute",
				Detail:   fmt.Sprintf("The attribute %q is deprecated: %s", name, msg),
			}}
		}}
	}
	return spec, nil
}

// DefaultValue decodes a JSON default against ty. For dynamic types ("any")
// the JSON's own shape is used.
func DefaultValue(js string, ty cty.Type) (cty.Value, error) {
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
