package config

import (
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/itsmbridge/itsmbridge/core/alert"
)

// alertAttrs are the attributes of the `alert` object in expressions, with
// their types (DESIGN §3). `context` is dynamic: its shape is the schema's
// alert context as Azure sent it.
var alertAttrs = map[string]cty.Type{
	"id":                  cty.String,
	"schema":              cty.String,
	"source":              cty.String,
	"status":              cty.String,
	"severity":            cty.Number,
	"severity_name":       cty.String,
	"rule":                cty.String,
	"rule_id":             cty.String,
	"service":             cty.String,
	"signal":              cty.String,
	"description":         cty.String,
	"targets":             cty.List(cty.String),
	"configuration_items": cty.List(cty.String),
	"subscription":        cty.String,
	"resource_group":      cty.String,
	"resource_type":       cty.String,
	"resource_name":       cty.String,
	"fired_at":            cty.String,
	"resolved_at":         cty.String,
	"link":                cty.String,
	"custom":              cty.Map(cty.String),
	"context":             cty.DynamicPseudoType,
	"dedup_key":           cty.String,
}

// AlertAttributeNames lists the attributes of `alert` in expressions.
func AlertAttributeNames() []string {
	out := make([]string, 0, len(alertAttrs))
	for k := range alertAttrs {
		out = append(out, k)
	}
	return out
}

// UnknownAlert is an `alert` whose attributes are all unknown values of their
// types: evaluating an expression against it finds type errors and typos at
// load time, without a real alert.
func UnknownAlert() cty.Value {
	m := make(map[string]cty.Value, len(alertAttrs))
	for k, ty := range alertAttrs {
		m[k] = cty.UnknownVal(ty)
	}
	return cty.ObjectVal(m)
}

// AlertValue converts a into the `alert` object of expressions. When
// withContext is false, `context` is null: decoding a large alert context is
// the costliest part of routing, and is skipped when no expression reads it.
func AlertValue(a *alert.Alert, withContext bool) cty.Value {
	ctx := cty.NullVal(cty.DynamicPseudoType)
	if withContext {
		ctx = jsonValue(a.Context)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"id":                  cty.StringVal(a.ID),
		"schema":              cty.StringVal(a.Schema),
		"source":              cty.StringVal(a.Source),
		"status":              cty.StringVal(a.Status),
		"severity":            cty.NumberIntVal(int64(a.Severity)),
		"severity_name":       cty.StringVal(a.SeverityName),
		"rule":                cty.StringVal(a.Rule),
		"rule_id":             cty.StringVal(a.RuleID),
		"service":             cty.StringVal(a.Service),
		"signal":              cty.StringVal(a.Signal),
		"description":         cty.StringVal(a.Description),
		"targets":             stringList(a.Targets),
		"configuration_items": stringList(a.ConfigurationItems),
		"subscription":        cty.StringVal(a.Subscription),
		"resource_group":      cty.StringVal(a.ResourceGroup),
		"resource_type":       cty.StringVal(a.ResourceType),
		"resource_name":       cty.StringVal(a.ResourceName),
		"fired_at":            cty.StringVal(a.FiredAt),
		"resolved_at":         cty.StringVal(a.ResolvedAt),
		"link":                cty.StringVal(a.Link),
		"custom":              stringMap(a.Custom),
		"context":             ctx,
		"dedup_key":           cty.StringVal(a.DedupKey),
	})
}

func stringList(ss []string) cty.Value {
	if len(ss) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(ss))
	for i, s := range ss {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}

func stringMap(m map[string]string) cty.Value {
	if len(m) == 0 {
		return cty.MapValEmpty(cty.String)
	}
	vals := make(map[string]cty.Value, len(m))
	for k, v := range m {
		vals[k] = cty.StringVal(v)
	}
	return cty.MapVal(vals)
}

// jsonValue decodes raw JSON into a cty value of its implied type (objects
// become objects, arrays tuples); empty or invalid JSON gives null.
func jsonValue(raw []byte) cty.Value {
	if len(raw) == 0 {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	ty, err := ctyjson.ImpliedType(raw)
	if err != nil {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	v, err := ctyjson.Unmarshal(raw, ty)
	if err != nil {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	return v
}
