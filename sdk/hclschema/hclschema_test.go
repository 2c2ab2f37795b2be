package hclschema

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/itsmbridge/itsmbridge/sdk"
)

var schema = sdk.Schema{
	Attributes: []sdk.Attribute{
		{Name: "url", Type: "string", Required: true},
		{Name: "table", Type: "string", Default: `"incident"`},
		{Name: "retries", Type: "number", Default: `3`},
		{Name: "labels", Type: "list(string)", Default: `["azure"]`},
		{Name: "severity_map", Type: "map(object({impact=string}))"},
		{Name: "extra", Type: "any", Default: `{"a":[1,2]}`},
		{Name: "old", Type: "bool", Deprecated: "use new"},
	},
	Blocks: []sdk.Block{{Name: "oauth", Nested: sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "client_id", Type: "string", Required: true},
	}}}},
}

func decode(t *testing.T, src string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "c.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	spec, err := Spec(schema)
	if err != nil {
		t.Fatal(err)
	}
	return hcldec.Decode(f.Body, spec, nil)
}

func TestSpecDecodes(t *testing.T) {
	v, diags := decode(t, `
url = "https://x"
severity_map = { "0" = { impact = "1" } }
oauth {
  client_id = "abc"
}
`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	ty, err := schema.ImpliedType()
	if err != nil {
		t.Fatal(err)
	}
	// The decoded value must encode against the schema's implied type: it is
	// what crosses the wire to the plugin.
	if _, err := sdk.NewConfig(v, ty); err != nil {
		t.Fatalf("decoded value does not fit the implied type: %v", err)
	}
	checks := map[string]string{
		"table":   "incident",
		"retries": "3",
	}
	for k, want := range checks {
		got := v.GetAttr(k)
		if got.Type() == cty.Number {
			if got.AsBigFloat().String() != want {
				t.Errorf("%s = %s", k, got.AsBigFloat().String())
			}
		} else if got.AsString() != want {
			t.Errorf("%s = %s", k, got.AsString())
		}
	}
	if l := v.GetAttr("labels"); l.LengthInt() != 1 || l.Index(cty.NumberIntVal(0)).AsString() != "azure" {
		t.Errorf("labels = %#v", l)
	}
	if v.GetAttr("oauth").GetAttr("client_id").AsString() != "abc" {
		t.Error("nested block not decoded")
	}
	if !v.GetAttr("old").IsNull() {
		t.Error("unset attribute not null")
	}
}

func TestSpecDiagnostics(t *testing.T) {
	tests := []struct{ src, want string }{
		{`url = 1`, ""}, // numbers convert to strings, like everywhere in HCL
		{``, `The argument "url" is required`},
		{"url = \"x\"\nretries = \"many\"", `Inappropriate value for attribute "retries": a number is required.`},
		{"url = \"x\"\nnope = 1", `An argument named "nope" is not expected here.`},
		{"url = \"x\"\nold = true", `The attribute "old" is deprecated: use new`},
		{"url = \"x\"\noauth {}", `The argument "client_id" is required`},
		{"url = \"x\"\nseverity_map = { a = { impakt = \"1\" } }", `attribute "impact" is required`},
	}
	for _, tt := range tests {
		_, diags := decode(t, tt.src)
		got := diags.Error()
		if tt.want == "" && len(diags) > 0 || !strings.Contains(got, tt.want) {
			t.Errorf("%q: diagnostics %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestBadSchemas(t *testing.T) {
	tests := []struct {
		s    sdk.Schema
		want string
	}{
		{sdk.Schema{Attributes: []sdk.Attribute{{Name: "a", Type: "strng"}}}, `bad type "strng"`},
		{sdk.Schema{Attributes: []sdk.Attribute{{Name: "a", Type: "string"}, {Name: "a", Type: "string"}}}, `declared twice`},
		{sdk.Schema{Attributes: []sdk.Attribute{{Name: "a", Type: "number", Default: `"x"`}}}, `bad default`},
		{sdk.Schema{Attributes: []sdk.Attribute{{Name: "a", Type: "string", Required: true, Default: `"x"`}}}, `cannot have a default`},
		{sdk.Schema{Attributes: []sdk.Attribute{{Name: "", Type: "string"}}}, `empty name`},
		{sdk.Schema{Attributes: []sdk.Attribute{{Name: "a", Type: "string"}}, Blocks: []sdk.Block{{Name: "a"}}}, `already used`},
	}
	for _, tt := range tests {
		if _, err := Spec(tt.s); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Spec(%+v) error = %v, want %q", tt.s, err, tt.want)
		}
	}
}
