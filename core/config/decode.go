package config

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decoder holds what every block decoder needs and collects diagnostics.
type decoder struct {
	static  *hcl.EvalContext // functions, no variables: for non-route attributes
	alert   *hcl.EvalContext // functions + an unknown `alert`: for load-time checks of route expressions
	secrets *secretSet
	diags   hcl.Diagnostics
}

func (d *decoder) add(diags ...*hcl.Diagnostic) { d.diags = append(d.diags, diags...) }

func (d *decoder) errorf(subject hcl.Range, summary, format string, args ...any) {
	d.add(&hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject.Ptr(),
	})
}

func (d *decoder) warnf(subject hcl.Range, summary, format string, args ...any) {
	d.add(&hcl.Diagnostic{
		Severity: hcl.DiagWarning,
		Summary:  summary,
		Detail:   fmt.Sprintf(format, args...),
		Subject:  subject.Ptr(),
	})
}

// value evaluates a non-route attribute and converts it to ty. ok is false
// when the attribute is absent, null, or invalid (then a diagnostic was
// recorded). Values derived from env() or file() are recorded as secrets.
func (d *decoder) value(attrs hcl.Attributes, name string, ty cty.Type) (cty.Value, *hcl.Attribute, bool) {
	attr, exists := attrs[name]
	if !exists {
		return cty.NilVal, nil, false
	}
	v, diags := attr.Expr.Value(d.static)
	d.add(diags...)
	if diags.HasErrors() {
		return cty.NilVal, attr, false
	}
	v, marks := v.UnmarkDeep()
	if v.IsNull() {
		return cty.NilVal, attr, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		d.add(&hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Incorrect attribute value type",
			Detail:   fmt.Sprintf("Inappropriate value for attribute %q: %s.", name, err),
			Subject:  attr.Expr.Range().Ptr(),
			Context:  hcl.RangeBetween(attr.NameRange, attr.Expr.Range()).Ptr(),
		})
		return cty.NilVal, attr, false
	}
	if !cv.IsWhollyKnown() {
		d.errorf(attr.Expr.Range(), "Value not known", "The value of %q must be known when the configuration is loaded.", name)
		return cty.NilVal, attr, false
	}
	if _, sensitive := marks[Sensitive]; sensitive {
		addSecretStrings(d.secrets, cv)
	}
	return cv, attr, true
}

// addSecretStrings records every string inside v as a secret.
func addSecretStrings(s *secretSet, v cty.Value) {
	if v.IsNull() || !v.IsKnown() {
		return
	}
	v, _ = v.UnmarkDeep()
	switch {
	case v.Type() == cty.String:
		s.add(v.AsString())
	case v.CanIterateElements():
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			addSecretStrings(s, ev)
		}
	}
}

func (d *decoder) str(attrs hcl.Attributes, name string, dst *string) *hcl.Attribute {
	v, attr, ok := d.value(attrs, name, cty.String)
	if ok {
		*dst = v.AsString()
	}
	return attr
}

func (d *decoder) strList(attrs hcl.Attributes, name string, dst *[]string) *hcl.Attribute {
	v, attr, ok := d.value(attrs, name, cty.List(cty.String))
	if !ok {
		return attr
	}
	out := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if ev.IsNull() {
			d.errorf(attr.Expr.Range(), "Invalid list element", "The list %q must not contain null.", name)
			return attr
		}
		out = append(out, ev.AsString())
	}
	*dst = out
	return attr
}

func (d *decoder) boolean(attrs hcl.Attributes, name string, dst *bool) *hcl.Attribute {
	v, attr, ok := d.value(attrs, name, cty.Bool)
	if ok {
		*dst = v.True()
	}
	return attr
}

// intAttr decodes a whole number in [min, max].
func (d *decoder) intAttr(attrs hcl.Attributes, name string, min, max int64, dst *int) *hcl.Attribute {
	v, attr, ok := d.value(attrs, name, cty.Number)
	if !ok {
		return attr
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if acc != big.Exact || !bf.IsInt() || i < min || i > max {
		d.errorf(attr.Expr.Range(), "Invalid value", "%q must be a whole number between %d and %d.", name, min, max)
		return attr
	}
	*dst = int(i)
	return attr
}

// number decodes a non-negative number.
func (d *decoder) number(attrs hcl.Attributes, name string, dst *float64) *hcl.Attribute {
	v, attr, ok := d.value(attrs, name, cty.Number)
	if !ok {
		return attr
	}
	f, _ := v.AsBigFloat().Float64()
	if f < 0 {
		d.errorf(attr.Expr.Range(), "Invalid value", "%q must not be negative.", name)
		return attr
	}
	*dst = f
	return attr
}

// duration decodes a Go duration string such as "30s" or "24h".
func (d *decoder) duration(attrs hcl.Attributes, name string, dst *time.Duration) *hcl.Attribute {
	v, attr, ok := d.value(attrs, name, cty.String)
	if !ok {
		return attr
	}
	dur, err := time.ParseDuration(v.AsString())
	if err != nil {
		d.errorf(attr.Expr.Range(), "Invalid duration",
			"%q must be a duration such as \"30s\", \"5m\" or \"24h\" (units: ms, s, m, h); got %q.", name, v.AsString())
		return attr
	}
	if dur < 0 {
		d.errorf(attr.Expr.Range(), "Invalid duration", "%q must not be negative; got %q.", name, v.AsString())
		return attr
	}
	*dst = dur
	return attr
}

// singleBlock returns the only block of type typ in blocks, reporting extras.
func (d *decoder) singleBlock(blocks hcl.Blocks, typ string) *hcl.Block {
	var first *hcl.Block
	for _, b := range blocks {
		if b.Type != typ {
			continue
		}
		if first != nil {
			d.errorf(b.DefRange, "Duplicate "+typ+" block",
				"Only one %s block is allowed here; the first one is at %s.", typ, first.DefRange)
			continue
		}
		first = b
	}
	return first
}

// suggest returns the candidate closest to given, or "" when none is close.
// The threshold is hcl's own (distance < 3).
func suggest(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if dist := levenshtein.Distance(given, c, nil); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	return best
}

// didYouMean renders a suggestion sentence, or "".
func didYouMean(given string, candidates []string) string {
	if s := suggest(given, candidates); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}

// quotedList renders names as "a", "b" and "c".
func quotedList(names []string) string {
	names = append([]string(nil), names...)
	sort.Strings(names)
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	switch len(q) {
	case 0:
		return "(none)"
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}
