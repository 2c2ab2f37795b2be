package config

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/itsmbridge/itsmbridge/sdk"
)

var routeSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "match", Required: true},
		{Name: "to", Required: true},
		{Name: "continue"},
		{Name: "group_by"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "ticket"}, {Type: "lifecycle"}, {Type: "cmdb"}},
}

var ticketSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "title"}, {Name: "description"}, {Name: "severity"}, {Name: "fields"},
}}

var lifecycleSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "resolve"}, {Name: "reopen_within"}, {Name: "on_repeat"},
}}

var cmdbSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "bind"}, {Name: "create_missing"},
}}

var routeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func (d *decoder) decodeRoutes(cfg *Config, blocks hcl.Blocks, schemas map[string]*sdk.Schema) {
	seen := map[string]hcl.Range{}
	var stopper *Route // an earlier route that matches everything and stops
	for _, b := range blocks {
		if b.Type != "route" {
			continue
		}
		name := b.Labels[0]
		if !routeNameRE.MatchString(name) {
			d.errorf(b.LabelRanges[0], "Invalid route name",
				"%q is not a valid route name: use letters, digits, dots, underscores and dashes.", name)
			continue
		}
		if d.duplicate(seen, fmt.Sprintf("%q", name), "route", b) {
			continue
		}
		r := &Route{
			Name:      name,
			Lifecycle: Lifecycle{Resolve: true, ReopenWithin: DefaultReopenWithin, OnRepeat: OnRepeatComment},
			DeclRange: b.DefRange,
		}
		content, diags := b.Body.Content(routeSchema)
		d.add(diags...)
		a := content.Attributes

		matchAlways := false
		if attr, ok := a["match"]; ok {
			r.Match = attr.Expr
			if v, ok := d.routeExpr(attr); ok {
				switch {
				case v.Type() == cty.Bool || v.Type() == cty.DynamicPseudoType:
					matchAlways = v.Type() == cty.Bool && v.IsKnown() && !v.IsNull() && v.True()
				default:
					d.add(&hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Match is not a boolean",
						Detail:   fmt.Sprintf("The match expression must evaluate to true or false; it evaluates to %s. Compare it with something, e.g. alert.severity <= 1.", v.Type().FriendlyName()),
						Subject:  attr.Expr.Range().Ptr(),
					})
				}
			}
		}
		if attr, ok := a["to"]; ok {
			r.To = d.backendRefs(cfg, attr)
		}
		d.boolean(a, "continue", &r.Continue)
		if attr, ok := a["group_by"]; ok {
			r.GroupBy = attr.Expr
			if v, ok := d.routeExpr(attr); ok {
				ty := v.Type()
				if !(ty.IsTupleType() || ty.IsListType() || ty.IsSetType() || ty == cty.DynamicPseudoType) {
					d.errorf(attr.Expr.Range(), "Invalid group_by",
						"group_by must be a list of values, such as [alert.rule, alert.resource_name]; it evaluates to %s.", ty.FriendlyName())
				}
			}
		}
		if tb := d.singleBlock(content.Blocks, "ticket"); tb != nil {
			d.decodeTicket(cfg, r, tb, schemas)
		} else {
			d.checkRequiredTicketFields(cfg, r, b.DefRange, nil, schemas)
		}
		if lb := d.singleBlock(content.Blocks, "lifecycle"); lb != nil {
			d.decodeLifecycle(&r.Lifecycle, lb)
		}
		if cb := d.singleBlock(content.Blocks, "cmdb"); cb != nil {
			r.CMDB.Bind = true
			c, diags := cb.Body.Content(cmdbSchema)
			d.add(diags...)
			d.boolean(c.Attributes, "bind", &r.CMDB.Bind)
			d.boolean(c.Attributes, "create_missing", &r.CMDB.CreateMissing)
		}

		if stopper != nil {
			d.warnf(b.DefRange, "Unreachable route",
				"The route %q is never used: the earlier route %q matches every alert and does not continue (set continue = true there, or move this route before it).", name, stopper.Name)
		}
		if matchAlways && !r.Continue && stopper == nil {
			stopper = r
		}
		cfg.Routes = append(cfg.Routes, r)
	}
}

// routeExpr checks a route attribute's expression (see checkExpr).
func (d *decoder) routeExpr(attr *hcl.Attribute) (cty.Value, bool) {
	return d.checkExpr(attr.Expr)
}

// checkExpr checks a route expression statically (only alert.* references,
// literal regular expressions) and evaluates it against an alert of unknown
// values, so type errors surface at load time. ok is false after an error.
func (d *decoder) checkExpr(expr hcl.Expression) (cty.Value, bool) {
	n := len(d.diags)
	d.checkTraversals(expr)
	d.checkRegexLiterals(expr)
	if d.diags[n:].HasErrors() {
		return cty.NilVal, false
	}
	v, diags := expr.Value(d.alert)
	d.add(diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	v, _ = v.UnmarkDeep()
	return v, true
}

// checkTraversals allows only references to `alert` and its attributes.
func (d *decoder) checkTraversals(expr hcl.Expression) {
	for _, t := range expr.Variables() {
		root := t.RootName()
		if root != "alert" {
			d.errorf(t.SourceRange(), "Unknown variable",
				"There is no variable named %q: route expressions can only refer to alert and its attributes, e.g. alert.severity.%s", root, didYouMean(root, []string{"alert"}))
			continue
		}
		if len(t) < 2 {
			continue
		}
		var attr string
		switch step := t[1].(type) {
		case hcl.TraverseAttr:
			attr = step.Name
		case hcl.TraverseIndex:
			if step.Key.Type() != cty.String || !step.Key.IsKnown() {
				continue
			}
			attr = step.Key.AsString()
		default:
			continue
		}
		if _, ok := alertAttrs[attr]; !ok {
			d.errorf(t[1].SourceRange(), "Unsupported attribute",
				"alert has no attribute %q.%s", attr, didYouMean(attr, AlertAttributeNames()))
		}
	}
}

// regexParams maps regex functions to the index of their pattern argument.
var regexParams = map[string]int{"regex": 0, "regexall": 0, "regex_replace": 1}

// checkRegexLiterals compiles literal patterns at load time, so a bad regular
// expression is reported even when try() or can() would hide it at run time.
func (d *decoder) checkRegexLiterals(expr hcl.Expression) {
	se, ok := expr.(hclsyntax.Expression)
	if !ok {
		return
	}
	hclsyntax.VisitAll(se, func(n hclsyntax.Node) hcl.Diagnostics {
		call, ok := n.(*hclsyntax.FunctionCallExpr)
		if !ok {
			return nil
		}
		i, ok := regexParams[call.Name]
		if !ok || len(call.Args) <= i {
			return nil
		}
		arg := call.Args[i]
		if len(arg.Variables()) > 0 {
			return nil
		}
		v, diags := arg.Value(d.static)
		if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
			return nil
		}
		v, _ = v.Unmark()
		if _, err := regexp.Compile(v.AsString()); err != nil {
			d.errorf(arg.Range(), "Invalid regular expression",
				"The pattern passed to %s() is not a valid regular expression: %s.", call.Name, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		return nil
	})
}

// backendRefs decodes `to = [backend.TYPE.NAME, ...]`.
func (d *decoder) backendRefs(cfg *Config, attr *hcl.Attribute) []BackendRef {
	exprs, diags := hcl.ExprList(attr.Expr)
	if diags.HasErrors() {
		d.errorf(attr.Expr.Range(), "Invalid to",
			"to must be a list of backend references, such as [backend.servicenow.prod].")
		return nil
	}
	if len(exprs) == 0 {
		d.errorf(attr.Expr.Range(), "Empty to", "to must name at least one backend, such as [backend.servicenow.prod].")
		return nil
	}
	var refs []BackendRef
	seen := map[BackendRef]bool{}
	for _, e := range exprs {
		t, diags := hcl.AbsTraversalForExpr(e)
		var ref BackendRef
		ok := !diags.HasErrors() && len(t) == 3 && t.RootName() == "backend"
		if ok {
			a1, ok1 := t[1].(hcl.TraverseAttr)
			a2, ok2 := t[2].(hcl.TraverseAttr)
			ok = ok1 && ok2
			ref = BackendRef{Type: a1.Name, Name: a2.Name}
		}
		if !ok {
			d.errorf(e.Range(), "Invalid backend reference",
				"Each entry of to must be a reference of the form backend.TYPE.NAME, such as backend.servicenow.prod.")
			continue
		}
		if cfg.Backend(ref) == nil {
			d.errorf(e.Range(), "Reference to undeclared backend", "%s", undeclaredBackend(cfg, ref))
			continue
		}
		if seen[ref] {
			d.errorf(e.Range(), "Duplicate backend reference", "%s is listed twice.", ref)
			continue
		}
		seen[ref] = true
		refs = append(refs, ref)
	}
	return refs
}

func undeclaredBackend(cfg *Config, ref BackendRef) string {
	var all, sameType []string
	for _, b := range cfg.Backends {
		all = append(all, b.Ref().String())
		if b.Type == ref.Type {
			sameType = append(sameType, b.Ref().String())
		}
	}
	msg := fmt.Sprintf("No backend %q %q is declared.", ref.Type, ref.Name)
	if s := suggest(ref.String(), all); s != "" {
		return msg + fmt.Sprintf(" Did you mean %s?", s)
	}
	switch {
	case len(sameType) > 0:
		return msg + " Declared " + ref.Type + " backends: " + strings.Join(sameType, ", ") + "."
	case len(all) > 0:
		if len(all) > 10 {
			all = append(all[:10], "…")
		}
		return msg + " Declared backends: " + strings.Join(all, ", ") + "."
	}
	return msg + " Declare it with a backend \"" + ref.Type + "\" \"" + ref.Name + "\" block."
}

func (d *decoder) decodeTicket(cfg *Config, r *Route, b *hcl.Block, schemas map[string]*sdk.Schema) {
	content, diags := b.Body.Content(ticketSchema)
	d.add(diags...)
	a := content.Attributes
	strExpr := func(name string) hcl.Expression {
		attr, ok := a[name]
		if !ok {
			return nil
		}
		if v, ok := d.routeExpr(attr); ok {
			if _, err := convert.Convert(v, cty.String); err != nil {
				d.errorf(attr.Expr.Range(), "Incorrect attribute value type", "Inappropriate value for attribute %q: %s.", name, err)
			}
		}
		return attr.Expr
	}
	r.Ticket.Title = strExpr("title")
	r.Ticket.Description = strExpr("description")
	if attr, ok := a["severity"]; ok {
		r.Ticket.Severity = attr.Expr
		if v, ok := d.routeExpr(attr); ok {
			if cv, err := convert.Convert(v, cty.Number); err != nil {
				d.errorf(attr.Expr.Range(), "Incorrect attribute value type", "Inappropriate value for attribute \"severity\": %s.", err)
			} else if cv.IsKnown() && !cv.IsNull() {
				if f, _ := cv.AsBigFloat().Float64(); f < 0 || f > 4 || f != float64(int(f)) {
					d.errorf(attr.Expr.Range(), "Invalid severity", "severity must be a whole number from 0 (most severe) to 4.")
				}
			}
		}
	}
	if attr, ok := a["fields"]; ok {
		r.Ticket.Fields = d.ticketFields(attr)
	}
	d.checkRequiredTicketFields(cfg, r, b.DefRange, a["fields"], schemas)
}

// ticketFields decodes `fields = { name = value, ... }`; keys must be static.
func (d *decoder) ticketFields(attr *hcl.Attribute) []TicketField {
	pairs, diags := hcl.ExprMap(attr.Expr)
	if diags.HasErrors() {
		d.errorf(attr.Expr.Range(), "Invalid fields",
			"fields must be an object of vendor fields, such as { assignment_group = \"Cloud Ops\" }.")
		return nil
	}
	var out []TicketField
	seen := map[string]bool{}
	for _, p := range pairs {
		kv, kd := p.Key.Value(d.static)
		if kd.HasErrors() || kv.Type() != cty.String || !kv.IsKnown() || kv.IsNull() {
			d.errorf(p.Key.Range(), "Invalid field name", "Field names must be constant strings.")
			continue
		}
		name := kv.AsString()
		if seen[name] {
			d.errorf(p.Key.Range(), "Duplicate field", "The field %q is set twice.", name)
			continue
		}
		seen[name] = true
		if v, ok := d.checkExpr(p.Value); ok {
			ty := v.Type()
			if !(ty.IsPrimitiveType() || ty == cty.DynamicPseudoType) {
				d.errorf(p.Value.Range(), "Invalid field value",
					"The value of field %q must be a string, number or bool; it is %s.", name, ty.FriendlyName())
			}
		}
		out = append(out, TicketField{Name: name, Value: p.Value, Range: p.Key.Range()})
	}
	return out
}

// checkRequiredTicketFields checks the route's fields against the ticket
// schema of every plugin it sends to (when the plugin declares one).
func (d *decoder) checkRequiredTicketFields(cfg *Config, r *Route, blockRange hcl.Range, fieldsAttr *hcl.Attribute, schemas map[string]*sdk.Schema) {
	checked := map[string]bool{}
	for _, ref := range r.To {
		s := schemas[ref.Type]
		if s == nil || len(s.TicketFields) == 0 || checked[ref.Type] {
			continue
		}
		checked[ref.Type] = true
		var names []string
		for _, f := range s.TicketFields {
			names = append(names, f.Name)
		}
		set := map[string]bool{}
		for _, f := range r.Ticket.Fields {
			set[f.Name] = true
			decl, ok := s.TicketField(f.Name)
			if !ok {
				d.errorf(f.Range, "Unsupported ticket field",
					"The %s plugin does not declare a ticket field %q.%s Its ticket fields are %s.", ref.Type, f.Name, didYouMean(f.Name, names), quotedList(names))
				continue
			}
			d.checkFieldType(f, decl, ref.Type)
		}
		var missing []string
		for _, f := range s.TicketFields {
			if _, family := sdk.FieldFamily(f.Name); f.Required && !family && !set[f.Name] {
				missing = append(missing, f.Name)
			}
		}
		if len(missing) > 0 {
			rng := blockRange
			if fieldsAttr != nil {
				rng = fieldsAttr.Expr.Range()
			}
			sort.Strings(missing)
			d.errorf(rng, "Missing required ticket field",
				"The %s plugin requires the ticket field(s) %s; set them in ticket { fields = { ... } } of route %q.", ref.Type, quotedList(missing), r.Name)
		}
	}
}

// checkFieldType converts a field value known at load time to the type the
// plugin declares (values still travel as strings).
func (d *decoder) checkFieldType(f TicketField, decl sdk.Attribute, plugin string) {
	ty, err := decl.CtyType()
	if err != nil || !ty.IsPrimitiveType() {
		return
	}
	v, diags := f.Value.Value(d.alert)
	if diags.HasErrors() {
		return
	}
	v, _ = v.UnmarkDeep()
	if !v.IsWhollyKnown() || v.IsNull() {
		return
	}
	if _, err := convert.Convert(v, ty); err != nil {
		d.errorf(f.Value.Range(), "Invalid ticket field value",
			"The %s plugin declares the ticket field %q as %s: %s.", plugin, f.Name, ty.FriendlyName(), err)
	}
}

func (d *decoder) decodeLifecycle(l *Lifecycle, b *hcl.Block) {
	content, diags := b.Body.Content(lifecycleSchema)
	d.add(diags...)
	a := content.Attributes
	d.boolean(a, "resolve", &l.Resolve)
	d.duration(a, "reopen_within", &l.ReopenWithin)
	if attr := d.str(a, "on_repeat", &l.OnRepeat); attr != nil {
		switch l.OnRepeat {
		case OnRepeatComment, OnRepeatIgnore:
		default:
			d.errorf(attr.Expr.Range(), "Invalid on_repeat",
				"on_repeat must be \"comment\" or \"ignore\"; got %q.%s", l.OnRepeat, didYouMean(l.OnRepeat, []string{OnRepeatComment, OnRepeatIgnore}))
			l.OnRepeat = OnRepeatComment
		}
	}
}
