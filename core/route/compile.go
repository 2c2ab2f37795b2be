package route

import (
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/config"
)

// The fast path. Route expressions written in the everyday subset of the
// language (alert attributes, literals, templates, comparisons, &&, ||, !,
// lower, upper, startswith, endswith, strcontains, contains, length, lookup
// on alert.custom, regex inside can() or length(regexall()), and calls of
// other table functions on such values) are compiled into Go closures that
// read the alert directly. HCL evaluation costs microseconds per expression
// (cty's function machinery allocates on every call, and the alert object
// must be built first), which would make a hundred routes cost about a
// millisecond per alert; compiled, they cost well under a microsecond each.
//
// A compiled expression is only ever a shortcut for a result HCL would give:
// whenever it meets anything it cannot decide exactly (an error, a non-ASCII
// string whose Unicode normalization cty would change, a missing map key, a
// non-integral number to print), it reports !ok and the router evaluates
// the expression with HCL, which produces the authoritative value or error.
// TestCompiledMatchesHCL and TestCompiledTextMatchesHCL check that the two
// agree.

type kind uint8

const (
	kString kind = iota + 1
	kNumber
	kBool
	kList // list of strings
)

type fval struct {
	s string
	n float64
	b bool
	l []string
}

type fnode struct {
	kind kind
	lit  bool // a constant: eval ignores the alert (and accepts nil)
	eval func(a *alert.Alert) (fval, bool)
}

// compiler compiles expressions; funcs is the config's function table, for
// calls compiled generically (see compileGenericCall).
type compiler struct {
	funcs map[string]function.Function
}

// compiled holds a route's compiled expressions; nil members (and nil
// entries of fields) are evaluated by HCL.
type compiled struct {
	match       *fnode
	title, desc *fnode
	sev         *fnode
	fields      []*fnode // parallel to Route.Ticket.Fields
	group       []*fnode // the elements of group_by, rendered as text
}

func (c compiler) route(rt *config.Route) compiled {
	out := compiled{
		match: c.match(rt.Match),
		title: c.text(rt.Ticket.Title),
		desc:  c.text(rt.Ticket.Description),
		sev:   c.number(rt.Ticket.Severity),
	}
	out.fields = make([]*fnode, len(rt.Ticket.Fields))
	for i, f := range rt.Ticket.Fields {
		out.fields[i] = c.text(f.Value)
	}
	if rt.GroupBy != nil {
		if elems := c.tuple(rt.GroupBy); elems != nil {
			out.group = make([]*fnode, len(elems))
			for i, e := range elems {
				if out.group[i] = groupText(e); out.group[i] == nil {
					out.group = nil
					break
				}
			}
		}
	}
	return out
}

// groupText renders a group_by element as groupValueText does (integral
// numbers only, where the two renderings provably agree).
func groupText(n *fnode) *fnode { return asString(n) }

func (c compiler) root(e hcl.Expression) *fnode {
	if e == nil {
		return nil
	}
	se, ok := e.(hclsyntax.Expression)
	if !ok {
		return nil
	}
	return c.expr(se)
}

// match returns the compiled form of a bool expression, or nil.
func (c compiler) match(e hcl.Expression) *fnode {
	n := c.root(e)
	if n == nil || n.kind != kBool {
		return nil
	}
	return n
}

// text returns the compiled form of an expression rendered as a string
// (ticket title, description and fields), or nil.
func (c compiler) text(e hcl.Expression) *fnode {
	n := c.root(e)
	if n == nil {
		return nil
	}
	return asString(n)
}

// number returns the compiled form of a number expression, or nil.
func (c compiler) number(e hcl.Expression) *fnode {
	n := c.root(e)
	if n == nil || n.kind != kNumber {
		return nil
	}
	return n
}

// tuple returns the compiled elements of a [a, b, ...] expression (group_by),
// or nil unless every element compiles to a string, number or bool.
func (c compiler) tuple(e hcl.Expression) []*fnode {
	se, ok := e.(*hclsyntax.TupleConsExpr)
	if !ok {
		return nil
	}
	out := make([]*fnode, len(se.Exprs))
	for i, x := range se.Exprs {
		out[i] = c.expr(x)
		if out[i] == nil || out[i].kind == kList {
			return nil
		}
	}
	return out
}

// asString converts a node's value to a string as cty converts primitives:
// numbers in decimal (integers only; other numbers are left to HCL), bools
// as true/false.
func asString(n *fnode) *fnode {
	switch n.kind {
	case kString:
		return n
	case kNumber:
		return &fnode{kind: kString, lit: n.lit, eval: func(a *alert.Alert) (fval, bool) {
			v, ok := n.eval(a)
			s, exact := numberText(v.n)
			return fval{s: s}, ok && exact
		}}
	case kBool:
		return &fnode{kind: kString, lit: n.lit, eval: func(a *alert.Alert) (fval, bool) {
			v, ok := n.eval(a)
			return fval{s: strconv.FormatBool(v.b)}, ok
		}}
	}
	return nil
}

// numberText renders an integral number as cty does; exact is false for
// numbers whose text cty might render differently.
func numberText(n float64) (string, bool) {
	if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
		return "", false
	}
	return strconv.FormatFloat(n, 'f', -1, 64), true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// str wraps a string result: non-ASCII strings are left to HCL, since cty
// normalizes strings to NFC and Go's string functions do not.
func str(s string) (fval, bool) { return fval{s: s}, isASCII(s) }

var alertStrings = map[string]func(a *alert.Alert) string{
	"id":            func(a *alert.Alert) string { return a.ID },
	"schema":        func(a *alert.Alert) string { return a.Schema },
	"source":        func(a *alert.Alert) string { return a.Source },
	"status":        func(a *alert.Alert) string { return a.Status },
	"severity_name": func(a *alert.Alert) string { return a.SeverityName },
	"rule":          func(a *alert.Alert) string { return a.Rule },
	"rule_id":       func(a *alert.Alert) string { return a.RuleID },
	"service":       func(a *alert.Alert) string { return a.Service },
	"signal":        func(a *alert.Alert) string { return a.Signal },
	"description":   func(a *alert.Alert) string { return a.Description },
	"subscription":  func(a *alert.Alert) string { return a.Subscription },
	"resource_group": func(a *alert.Alert) string {
		return a.ResourceGroup
	},
	"resource_type": func(a *alert.Alert) string { return a.ResourceType },
	"resource_name": func(a *alert.Alert) string { return a.ResourceName },
	"fired_at":      func(a *alert.Alert) string { return a.FiredAt },
	"resolved_at":   func(a *alert.Alert) string { return a.ResolvedAt },
	"link":          func(a *alert.Alert) string { return a.Link },
	"dedup_key":     func(a *alert.Alert) string { return a.DedupKey },
}

var alertLists = map[string]func(a *alert.Alert) []string{
	"targets":             func(a *alert.Alert) []string { return a.Targets },
	"configuration_items": func(a *alert.Alert) []string { return a.ConfigurationItems },
}

func (c compiler) expr(e hclsyntax.Expression) *fnode {
	switch e := e.(type) {
	case *hclsyntax.ParenthesesExpr:
		return c.expr(e.Expression)
	case *hclsyntax.LiteralValueExpr:
		return literal(e.Val)
	case *hclsyntax.TemplateWrapExpr:
		return c.expr(e.Wrapped)
	case *hclsyntax.TemplateExpr:
		return c.template(e)
	case *hclsyntax.ScopeTraversalExpr:
		return compileTraversal(e.Traversal)
	case *hclsyntax.BinaryOpExpr:
		return c.binary(e)
	case *hclsyntax.UnaryOpExpr:
		return c.unary(e)
	case *hclsyntax.FunctionCallExpr:
		if e.ExpandFinal {
			return nil
		}
		return c.call(e)
	}
	return nil
}

func literal(v cty.Value) *fnode {
	if v.IsNull() || !v.IsKnown() || v.IsMarked() {
		return nil
	}
	switch v.Type() {
	case cty.String:
		s := v.AsString()
		if !isASCII(s) {
			return nil
		}
		return &fnode{kString, true, func(*alert.Alert) (fval, bool) { return fval{s: s}, true }}
	case cty.Number:
		f, acc := v.AsBigFloat().Float64()
		if acc != big.Exact {
			return nil
		}
		return &fnode{kNumber, true, func(*alert.Alert) (fval, bool) { return fval{n: f}, true }}
	case cty.Bool:
		b := v.True()
		return &fnode{kBool, true, func(*alert.Alert) (fval, bool) { return fval{b: b}, true }}
	}
	return nil
}

// template handles "literal" and "a${x}b" (parts converted to strings as
// HCL does). Directives (%{if}, %{for}) are left to HCL.
func (c compiler) template(e *hclsyntax.TemplateExpr) *fnode {
	parts := make([]*fnode, len(e.Parts))
	lit := true
	for i, p := range e.Parts {
		if n := c.expr(p); n != nil {
			parts[i] = asString(n)
		}
		if parts[i] == nil {
			return nil
		}
		lit = lit && parts[i].lit
	}
	if len(parts) == 1 && parts[0].kind == kString {
		return parts[0]
	}
	return &fnode{kString, lit, func(a *alert.Alert) (fval, bool) {
		var b strings.Builder
		for _, p := range parts {
			v, ok := p.eval(a)
			if !ok {
				return fval{}, false
			}
			b.WriteString(v.s)
		}
		return str(b.String())
	}}
}

func compileTraversal(t hcl.Traversal) *fnode {
	if len(t) < 2 || t.RootName() != "alert" {
		return nil
	}
	name, ok := stepName(t[1])
	if !ok {
		return nil
	}
	switch {
	case len(t) == 2 && name == "severity":
		return &fnode{kNumber, false, func(a *alert.Alert) (fval, bool) { return fval{n: float64(a.Severity)}, true }}
	case len(t) == 2 && alertStrings[name] != nil:
		get := alertStrings[name]
		return &fnode{kString, false, func(a *alert.Alert) (fval, bool) { return str(get(a)) }}
	case len(t) == 2 && alertLists[name] != nil:
		get := alertLists[name]
		return &fnode{kList, false, func(a *alert.Alert) (fval, bool) {
			l := get(a)
			for _, s := range l {
				if !isASCII(s) {
					return fval{}, false
				}
			}
			return fval{l: l}, true
		}}
	case len(t) == 3 && name == "custom":
		key, ok := stepName(t[2])
		if !ok || !isASCII(key) {
			return nil
		}
		return &fnode{kString, false, func(a *alert.Alert) (fval, bool) {
			v, ok := a.Custom[key]
			if !ok {
				return fval{}, false // HCL reports the missing key
			}
			return str(v)
		}}
	}
	return nil
}

// stepName returns the attribute or string-key name of a traversal step.
func stepName(s hcl.Traverser) (string, bool) {
	switch s := s.(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() && !s.Key.IsMarked() {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

func (c compiler) binary(e *hclsyntax.BinaryOpExpr) *fnode {
	l, r := c.expr(e.LHS), c.expr(e.RHS)
	if l == nil || r == nil {
		return nil
	}
	both := func(k kind) bool { return l.kind == k && r.kind == k }
	cmp := func(f func(x, y fval) bool) *fnode {
		return &fnode{kBool, false, func(a *alert.Alert) (fval, bool) {
			x, ok1 := l.eval(a)
			y, ok2 := r.eval(a)
			if !ok1 || !ok2 {
				return fval{}, false
			}
			return fval{b: f(x, y)}, true
		}}
	}
	switch e.Op {
	case hclsyntax.OpEqual, hclsyntax.OpNotEqual:
		neq := e.Op == hclsyntax.OpNotEqual
		switch {
		case both(kString):
			return cmp(func(x, y fval) bool { return (x.s == y.s) != neq })
		case both(kNumber):
			return cmp(func(x, y fval) bool { return (x.n == y.n) != neq })
		case both(kBool):
			return cmp(func(x, y fval) bool { return (x.b == y.b) != neq })
		}
	case hclsyntax.OpLessThan:
		if both(kNumber) {
			return cmp(func(x, y fval) bool { return x.n < y.n })
		}
	case hclsyntax.OpLessThanOrEqual:
		if both(kNumber) {
			return cmp(func(x, y fval) bool { return x.n <= y.n })
		}
	case hclsyntax.OpGreaterThan:
		if both(kNumber) {
			return cmp(func(x, y fval) bool { return x.n > y.n })
		}
	case hclsyntax.OpGreaterThanOrEqual:
		if both(kNumber) {
			return cmp(func(x, y fval) bool { return x.n >= y.n })
		}
	case hclsyntax.OpLogicalAnd, hclsyntax.OpLogicalOr:
		if !both(kBool) {
			return nil
		}
		// HCL evaluates both sides, then a controlling value (false for &&,
		// true for ||) on the left decides whatever the right side did.
		control := e.Op == hclsyntax.OpLogicalOr
		return &fnode{kBool, false, func(a *alert.Alert) (fval, bool) {
			x, ok := l.eval(a)
			if !ok {
				return fval{}, false
			}
			if x.b == control {
				return x, true
			}
			return r.eval(a)
		}}
	}
	return nil
}

func (c compiler) unary(e *hclsyntax.UnaryOpExpr) *fnode {
	v := c.expr(e.Val)
	if v == nil {
		return nil
	}
	switch {
	case e.Op == hclsyntax.OpLogicalNot && v.kind == kBool:
		return &fnode{kBool, v.lit, func(a *alert.Alert) (fval, bool) {
			x, ok := v.eval(a)
			return fval{b: !x.b}, ok
		}}
	case e.Op == hclsyntax.OpNegate && v.kind == kNumber:
		return &fnode{kNumber, v.lit, func(a *alert.Alert) (fval, bool) {
			x, ok := v.eval(a)
			return fval{n: -x.n}, ok
		}}
	}
	return nil
}

func (c compiler) args(e *hclsyntax.FunctionCallExpr, kinds ...kind) []*fnode {
	if len(e.Args) != len(kinds) {
		return nil
	}
	out := make([]*fnode, len(kinds))
	for i, k := range kinds {
		out[i] = c.expr(e.Args[i])
		if out[i] == nil || out[i].kind != k {
			return nil
		}
	}
	return out
}

func (c compiler) call(e *hclsyntax.FunctionCallExpr) *fnode {
	switch e.Name {
	case "lower", "upper":
		args := c.args(e, kString)
		if args == nil {
			return nil
		}
		f := strings.ToLower
		if e.Name == "upper" {
			f = strings.ToUpper
		}
		return &fnode{kString, false, func(a *alert.Alert) (fval, bool) {
			x, ok := args[0].eval(a)
			if !ok {
				return fval{}, false
			}
			return str(f(x.s))
		}}
	case "startswith", "endswith", "strcontains":
		args := c.args(e, kString, kString)
		if args == nil {
			return nil
		}
		f := map[string]func(s, x string) bool{"startswith": strings.HasPrefix, "endswith": strings.HasSuffix, "strcontains": strings.Contains}[e.Name]
		return &fnode{kBool, false, func(a *alert.Alert) (fval, bool) {
			x, ok1 := args[0].eval(a)
			y, ok2 := args[1].eval(a)
			return fval{b: f(x.s, y.s)}, ok1 && ok2
		}}
	case "coalesce":
		// The table's coalesce skips nulls and empty strings; with string
		// arguments, the first non-empty one. None: an error, left to HCL.
		if len(e.Args) == 0 {
			return nil
		}
		args := make([]*fnode, len(e.Args))
		for i, x := range e.Args {
			if args[i] = c.expr(x); args[i] == nil || args[i].kind != kString {
				return nil
			}
		}
		return &fnode{kString, false, func(a *alert.Alert) (fval, bool) {
			for _, arg := range args {
				v, ok := arg.eval(a)
				if !ok {
					return fval{}, false
				}
				if v.s != "" {
					return v, true
				}
			}
			return fval{}, false
		}}
	case "join":
		args := c.args(e, kString, kList)
		if args == nil {
			return nil
		}
		return &fnode{kString, false, func(a *alert.Alert) (fval, bool) {
			sep, ok1 := args[0].eval(a)
			l, ok2 := args[1].eval(a)
			if !ok1 || !ok2 {
				return fval{}, false
			}
			return fval{s: strings.Join(l.l, sep.s)}, true
		}}
	case "contains":
		return c.contains(e)
	case "length":
		return c.length(e)
	case "lookup":
		return c.lookup(e)
	case "can":
		return c.can(e)
	case "try", "env", "file":
		// try and can take expressions, not values; env and file read the
		// environment and return sensitive values.
		return nil
	case "regex":
		re, subject := c.regexArgs(e, false)
		if re == nil {
			return nil
		}
		return &fnode{kString, false, func(a *alert.Alert) (fval, bool) {
			s, ok := subject.eval(a)
			if !ok {
				return fval{}, false
			}
			loc := re.FindStringIndex(s.s)
			if loc == nil {
				return fval{}, false // HCL reports "did not match"
			}
			return str(s.s[loc[0]:loc[1]])
		}}
	}
	return c.genericCall(e)
}

// genericCall compiles a call of any other function of the table whose
// arguments compile to exactly the parameter types (so HCL's argument
// conversion is a no-op) and whose result is a string, number, bool or list
// of strings. The compiled node calls the very same cty function, without
// HCL's expression machinery and without building the alert object.
func (c compiler) genericCall(e *hclsyntax.FunctionCallExpr) *fnode {
	fn, ok := c.funcs[e.Name]
	if !ok {
		return nil
	}
	params, varParam := fn.Params(), fn.VarParam()
	if len(e.Args) < len(params) || (len(e.Args) > len(params) && varParam == nil) {
		return nil
	}
	args := make([]*fnode, len(e.Args))
	probe := make([]cty.Value, len(e.Args)) // for the return type
	lit := true
	for i, x := range e.Args {
		p := varParam
		if i < len(params) {
			p = &params[i]
		}
		args[i] = c.expr(x)
		if args[i] == nil || !conforms(args[i].kind, p.Type) {
			return nil
		}
		probe[i] = cty.UnknownVal(ctyType(args[i].kind))
		if args[i].lit {
			v, _ := args[i].eval(nil)
			probe[i] = toCty(args[i].kind, v)
		}
		lit = lit && args[i].lit
	}
	ret, err := fn.ReturnTypeForValues(probe)
	if err != nil {
		return nil
	}
	var k kind
	switch {
	case ret == cty.String:
		k = kString
	case ret == cty.Number:
		k = kNumber
	case ret == cty.Bool:
		k = kBool
	case ret.Equals(cty.List(cty.String)):
		k = kList
	default:
		return nil
	}
	return &fnode{k, lit, func(a *alert.Alert) (fval, bool) {
		vals := make([]cty.Value, len(args))
		for i, arg := range args {
			v, ok := arg.eval(a)
			if !ok {
				return fval{}, false
			}
			vals[i] = toCty(arg.kind, v)
		}
		out, err := fn.Call(vals)
		if err != nil || !out.IsWhollyKnown() || out.IsNull() || out.IsMarked() || !out.Type().Equals(ret) {
			return fval{}, false
		}
		return fromCty(k, out)
	}}
}

func conforms(k kind, ty cty.Type) bool {
	return ty == cty.DynamicPseudoType || ty.Equals(ctyType(k))
}

func ctyType(k kind) cty.Type {
	switch k {
	case kString:
		return cty.String
	case kNumber:
		return cty.Number
	case kBool:
		return cty.Bool
	}
	return cty.List(cty.String)
}

func toCty(k kind, v fval) cty.Value {
	switch k {
	case kString:
		return cty.StringVal(v.s)
	case kNumber:
		return cty.NumberFloatVal(v.n)
	case kBool:
		return cty.BoolVal(v.b)
	}
	if len(v.l) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	elems := make([]cty.Value, len(v.l))
	for i, s := range v.l {
		elems[i] = cty.StringVal(s)
	}
	return cty.ListVal(elems)
}

func fromCty(k kind, v cty.Value) (fval, bool) {
	switch k {
	case kString:
		return str(v.AsString())
	case kNumber:
		f, acc := v.AsBigFloat().Float64()
		return fval{n: f}, acc == big.Exact
	case kBool:
		return fval{b: v.True()}, true
	}
	l := make([]string, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if ev.IsNull() || !isASCII(ev.AsString()) {
			return fval{}, false
		}
		l = append(l, ev.AsString())
	}
	return fval{l: l}, true
}

// regexArgs compiles regex(LITERAL, string) / regexall(LITERAL, string).
// For a string result, the pattern must have no capture groups.
func (c compiler) regexArgs(e *hclsyntax.FunctionCallExpr, anyGroups bool) (*regexp.Regexp, *fnode) {
	if len(e.Args) != 2 {
		return nil, nil
	}
	p := c.expr(e.Args[0])
	s := c.expr(e.Args[1])
	if p == nil || s == nil || p.kind != kString || s.kind != kString || !p.lit {
		return nil, nil
	}
	pv, _ := p.eval(nil) // a literal: it does not read the alert
	// Patterns the stdlib rejects (bad syntax, named and unnamed groups
	// mixed) are left to HCL, which reports them.
	if _, err := stdlib.RegexFunc.ReturnTypeForValues([]cty.Value{cty.StringVal(pv.s), cty.UnknownVal(cty.String)}); err != nil {
		return nil, nil
	}
	re, err := regexp.Compile(pv.s)
	if err != nil || (!anyGroups && re.NumSubexp() > 0) {
		return nil, nil
	}
	return re, s
}

// compileCan handles can(regex(LITERAL, s)) (a match test) and can(x) for
// any compiled x other than regex: true when x succeeds.
func (c compiler) can(e *hclsyntax.FunctionCallExpr) *fnode {
	if len(e.Args) != 1 {
		return nil
	}
	if call, ok := e.Args[0].(*hclsyntax.FunctionCallExpr); ok && call.Name == "regex" && !call.ExpandFinal {
		re, subject := c.regexArgs(call, true)
		if re == nil {
			return nil
		}
		return &fnode{kBool, false, func(a *alert.Alert) (fval, bool) {
			s, ok := subject.eval(a)
			if !ok {
				return fval{}, false
			}
			return fval{b: re.MatchString(s.s)}, true
		}}
	}
	return nil
}

func (c compiler) contains(e *hclsyntax.FunctionCallExpr) *fnode {
	if len(e.Args) != 2 {
		return nil
	}
	val := c.expr(e.Args[1])
	if val == nil || val.kind != kString {
		return nil
	}
	var list func(a *alert.Alert) ([]string, bool)
	if tup, ok := e.Args[0].(*hclsyntax.TupleConsExpr); ok {
		elems := make([]*fnode, len(tup.Exprs))
		allLit := true
		for i, x := range tup.Exprs {
			elems[i] = c.expr(x)
			if elems[i] == nil || elems[i].kind != kString {
				return nil
			}
			allLit = allLit && elems[i].lit
		}
		list = func(a *alert.Alert) ([]string, bool) {
			out := make([]string, len(elems))
			for i, el := range elems {
				v, ok := el.eval(a)
				if !ok {
					return nil, false
				}
				out[i] = v.s
			}
			return out, true
		}
		if allLit {
			fixed, _ := list(nil)
			list = func(*alert.Alert) ([]string, bool) { return fixed, true }
		}
	} else {
		l := c.expr(e.Args[0])
		if l == nil || l.kind != kList {
			return nil
		}
		list = func(a *alert.Alert) ([]string, bool) {
			v, ok := l.eval(a)
			return v.l, ok
		}
	}
	return &fnode{kBool, false, func(a *alert.Alert) (fval, bool) {
		l, ok1 := list(a)
		v, ok2 := val.eval(a)
		if !ok1 || !ok2 {
			return fval{}, false
		}
		for _, s := range l {
			if s == v.s {
				return fval{b: true}, true
			}
		}
		return fval{b: false}, true
	}}
}

// compileLength handles length(list) and length(regexall(LITERAL, s)).
// (go-cty's length does not take strings; strlen does.)
func (c compiler) length(e *hclsyntax.FunctionCallExpr) *fnode {
	if len(e.Args) != 1 {
		return nil
	}
	if call, ok := e.Args[0].(*hclsyntax.FunctionCallExpr); ok && call.Name == "regexall" && !call.ExpandFinal {
		re, subject := c.regexArgs(call, true)
		if re == nil {
			return nil
		}
		return &fnode{kNumber, false, func(a *alert.Alert) (fval, bool) {
			s, ok := subject.eval(a)
			if !ok {
				return fval{}, false
			}
			return fval{n: float64(len(re.FindAllStringIndex(s.s, -1)))}, true
		}}
	}
	x := c.expr(e.Args[0])
	switch {
	case x == nil:
		return nil
	case x.kind == kList:
		return &fnode{kNumber, false, func(a *alert.Alert) (fval, bool) {
			v, ok := x.eval(a)
			return fval{n: float64(len(v.l))}, ok
		}}
	}
	return nil
}

// compileLookup handles lookup(alert.custom, KEY, DEFAULT).
func (c compiler) lookup(e *hclsyntax.FunctionCallExpr) *fnode {
	if len(e.Args) != 3 {
		return nil
	}
	m, ok := e.Args[0].(*hclsyntax.ScopeTraversalExpr)
	if !ok || len(m.Traversal) != 2 || m.Traversal.RootName() != "alert" {
		return nil
	}
	if name, ok := stepName(m.Traversal[1]); !ok || name != "custom" {
		return nil
	}
	key, def := c.expr(e.Args[1]), c.expr(e.Args[2])
	if key == nil || def == nil || key.kind != kString || def.kind != kString {
		return nil
	}
	return &fnode{kString, false, func(a *alert.Alert) (fval, bool) {
		k, ok1 := key.eval(a)
		d, ok2 := def.eval(a)
		if !ok1 || !ok2 {
			return fval{}, false
		}
		for ck := range a.Custom {
			if !isASCII(ck) {
				return fval{}, false // cty normalizes map keys
			}
		}
		if v, ok := a.Custom[k.s]; ok {
			return str(v)
		}
		return d, true
	}}
}
