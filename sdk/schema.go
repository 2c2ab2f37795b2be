package sdk

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
	ctymsgpack "github.com/zclconf/go-cty/cty/msgpack"
)

// Schema declares the attributes and nested blocks of a plugin's `config`
// block, and the vendor fields a route may set in `ticket { fields = {...} }`.
// The host turns it into an hcldec spec, so users get file:line diagnostics for
// unknown attributes, wrong types and missing required values before the
// plugin sees anything.
type Schema struct {
	Attributes []Attribute
	Blocks     []Block
	// TicketFields lists the vendor field names a route's ticket may set. When
	// empty, any field name is accepted (the plugin validates at run time).
	// A name ending in "*" declares a family of fields: every name that
	// starts with the rest (at least one more character) is accepted with
	// that attribute's type, e.g. "u_*" for ServiceNow's custom columns. A
	// family cannot be Required.
	TicketFields []Attribute
}

// TicketField returns the declaration of ticket field name: the attribute of
// that exact name, else the family (see Schema.TicketFields) with the
// longest prefix of name. A name with a "*" (such as a family's own) is
// not a field.
func (s Schema) TicketField(name string) (Attribute, bool) {
	var (
		best  Attribute
		found bool
	)
	if strings.Contains(name, "*") {
		return best, false
	}
	for _, f := range s.TicketFields {
		prefix, family := FieldFamily(f.Name)
		if !family && f.Name == name {
			return f, true
		}
		if family && len(name) > len(prefix) && strings.HasPrefix(name, prefix) &&
			(!found || len(prefix) > len(best.Name)-1) {
			best, found = f, true
		}
	}
	return best, found
}

// FieldFamily reports whether a declared ticket field name is a family
// ("u_*") and returns its prefix ("u_").
func FieldFamily(name string) (prefix string, ok bool) {
	prefix, ok = strings.CutSuffix(name, "*")
	return prefix, ok
}

// Attribute declares one attribute.
type Attribute struct {
	Name string
	// Type is an HCL type constraint: "string", "number", "bool",
	// "list(string)", "map(string)", "map(object({impact=string}))", "any"...
	Type     string
	Required bool
	// Default is the JSON encoding of the default value; empty means null.
	Default     string
	Sensitive   bool
	Description string
	Deprecated  string
}

// Block declares a nested single block (e.g. `oauth { ... }`).
type Block struct {
	Name        string
	Description string
	Required    bool
	Nested      Schema
}

// CtyType parses the attribute's type constraint.
func (a Attribute) CtyType() (cty.Type, error) {
	expr, diags := hclExprFromString(a.Type)
	if diags.HasErrors() {
		return cty.NilType, fmt.Errorf("attribute %q: bad type %q: %s", a.Name, a.Type, diags.Error())
	}
	ty, diags := typeexpr.TypeConstraint(expr)
	if diags.HasErrors() {
		return cty.NilType, fmt.Errorf("attribute %q: bad type %q: %s", a.Name, a.Type, diags.Error())
	}
	return ty, nil
}

// ImpliedType is the cty object type of a decoded config for this schema.
func (s Schema) ImpliedType() (cty.Type, error) {
	attrs := map[string]cty.Type{}
	for _, a := range s.Attributes {
		ty, err := a.CtyType()
		if err != nil {
			return cty.NilType, err
		}
		attrs[a.Name] = ty
	}
	for _, b := range s.Blocks {
		ty, err := b.Nested.ImpliedType()
		if err != nil {
			return cty.NilType, fmt.Errorf("block %q: %w", b.Name, err)
		}
		attrs[b.Name] = ty
	}
	return cty.Object(attrs), nil
}

// SensitivePaths lists the dotted paths of sensitive attributes.
func (s Schema) SensitivePaths() []string {
	var out []string
	for _, a := range s.Attributes {
		if a.Sensitive {
			out = append(out, a.Name)
		}
	}
	for _, b := range s.Blocks {
		for _, p := range b.Nested.SensitivePaths() {
			out = append(out, b.Name+"."+p)
		}
	}
	return out
}

func hclExprFromString(src string) (hcl.Expression, hcl.Diagnostics) {
	return hclParseExpression(strings.TrimSpace(src))
}

// Config is a decoded `config` block as it crosses the wire: the value encoded
// with cty's msgpack encoding against the schema's implied type.
type Config struct {
	// Msgpack is the encoded value; empty means an empty config.
	Msgpack []byte
	// Type is the implied type of the plugin's schema (set by the SDK).
	Type cty.Type
}

// NewConfig encodes v (an object conforming to ty) for the wire.
func NewConfig(v cty.Value, ty cty.Type) (Config, error) {
	b, err := ctymsgpack.Marshal(v, ty)
	if err != nil {
		return Config{}, fmt.Errorf("encode config: %w", err)
	}
	return Config{Msgpack: b, Type: ty}, nil
}

// Value decodes the config as a cty value.
func (c Config) Value() (cty.Value, error) {
	if len(c.Msgpack) == 0 {
		return cty.NullVal(c.Type), nil
	}
	v, err := ctymsgpack.Unmarshal(c.Msgpack, c.Type)
	if err != nil {
		return cty.NilVal, fmt.Errorf("decode config: %w", err)
	}
	return v, nil
}

// Decode fills target (a pointer to a struct with `json` tags named like the
// schema attributes) from the config. Null attributes leave fields untouched,
// so callers set defaults before decoding.
func (c Config) Decode(target any) error {
	v, err := c.Value()
	if err != nil {
		return err
	}
	if v.IsNull() {
		return nil
	}
	js, err := ctyjson.Marshal(stripNulls(v), stripNulls(v).Type())
	if err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	if err := json.Unmarshal(js, target); err != nil {
		return fmt.Errorf("decode config: %w", err)
	}
	return nil
}

// stripNulls drops null attributes of objects so json.Unmarshal keeps defaults.
func stripNulls(v cty.Value) cty.Value {
	if v.IsNull() || !v.IsKnown() {
		return v
	}
	ty := v.Type()
	switch {
	case ty.IsObjectType():
		m := map[string]cty.Value{}
		for k, av := range v.AsValueMap() {
			if av.IsNull() {
				continue
			}
			m[k] = stripNulls(av)
		}
		return cty.ObjectVal(m)
	case ty.IsMapType() && v.LengthInt() > 0:
		m := map[string]cty.Value{}
		for k, av := range v.AsValueMap() {
			m[k] = stripNulls(av)
		}
		return cty.MapVal(m)
	}
	return v
}
