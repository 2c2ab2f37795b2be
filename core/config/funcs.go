package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// sensitiveMark marks cty values that came from env() or file(). Marks
// propagate through operators, templates and function calls, so anything
// derived from a secret stays marked and is redacted when dumped.
type sensitiveMark struct{}

// Sensitive is the cty mark carried by values read with env() or file().
var Sensitive = sensitiveMark{}

// funcEnv is what the env and file functions need from the loader.
type funcEnv struct {
	lookupEnv func(string) (string, bool)
	baseDir   string
	secrets   *secretSet
}

// functions returns the function table of every expression in the config:
// go-cty's stdlib (strings, collections, regular expressions, encoding,
// date/time, numbers, sets), try and can, env and file.
func functions(fe funcEnv) map[string]function.Function {
	return map[string]function.Function{
		// Strings.
		"chomp":         stdlib.ChompFunc,
		"endswith":      endsWithFunc,
		"format":        stdlib.FormatFunc,
		"formatlist":    stdlib.FormatListFunc,
		"indent":        stdlib.IndentFunc,
		"join":          stdlib.JoinFunc,
		"lower":         stdlib.LowerFunc,
		"regex":         regexFunc,
		"regexall":      regexAllFunc,
		"regex_replace": regexReplaceFunc,
		"replace":       stdlib.ReplaceFunc,
		"split":         stdlib.SplitFunc,
		"startswith":    startsWithFunc,
		"strcontains":   strContainsFunc,
		"strlen":        stdlib.StrlenFunc,
		"strrev":        stdlib.ReverseFunc,
		"substr":        stdlib.SubstrFunc,
		"title":         stdlib.TitleFunc,
		"trim":          stdlib.TrimFunc,
		"trimprefix":    stdlib.TrimPrefixFunc,
		"trimspace":     stdlib.TrimSpaceFunc,
		"trimsuffix":    stdlib.TrimSuffixFunc,
		"upper":         stdlib.UpperFunc,

		// Collections.
		"chunklist":       stdlib.ChunklistFunc,
		"coalesce":        coalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"index":           stdlib.IndexFunc,
		"keys":            stdlib.KeysFunc,
		"length":          stdlib.LengthFunc,
		"lookup":          stdlib.LookupFunc,
		"merge":           stdlib.MergeFunc,
		"range":           stdlib.RangeFunc,
		"reverse":         stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"setsubtract":     stdlib.SetSubtractFunc,
		"setunion":        stdlib.SetUnionFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"values":          stdlib.ValuesFunc,
		"zipmap":          stdlib.ZipmapFunc,

		// Numbers.
		"abs":      stdlib.AbsoluteFunc,
		"ceil":     stdlib.CeilFunc,
		"floor":    stdlib.FloorFunc,
		"log":      stdlib.LogFunc,
		"max":      stdlib.MaxFunc,
		"min":      stdlib.MinFunc,
		"parseint": stdlib.ParseIntFunc,
		"pow":      stdlib.PowFunc,
		"signum":   stdlib.SignumFunc,

		// Encoding.
		"csvdecode":  stdlib.CSVDecodeFunc,
		"jsondecode": stdlib.JSONDecodeFunc,
		"jsonencode": stdlib.JSONEncodeFunc,

		// Date and time (RFC 3339 timestamps, like alert.fired_at).
		"formatdate": stdlib.FormatDateFunc,
		"timeadd":    stdlib.TimeAddFunc,

		// Type conversions.
		"tobool":   stdlib.MakeToFunc(cty.Bool),
		"tolist":   stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":    stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber": stdlib.MakeToFunc(cty.Number),
		"toset":    stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring": stdlib.MakeToFunc(cty.String),

		// Error handling.
		"can": tryfunc.CanFunc,
		"try": tryfunc.TryFunc,

		// Secrets.
		"env":  envFunc(fe),
		"file": fileFunc(fe),
	}
}

// envFunc is env("NAME") or env("NAME", "default"): the value of an
// environment variable, marked sensitive (the default, a literal of the
// file, is not). An unset variable without a default
// is an error, so a missing secret is caught by `validate`, not at 3 a.m.
func envFunc(fe funcEnv) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable (sensitive), or the default when it is unset.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		VarParam:    &function.Parameter{Name: "default", Type: cty.String},
		Type: func(args []cty.Value) (cty.Type, error) {
			if len(args) > 2 {
				return cty.NilType, fmt.Errorf("env takes a name and at most one default, got %d arguments", len(args))
			}
			return cty.String, nil
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			if name == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the variable name must not be empty")
			}
			v, ok := fe.lookupEnv(name)
			if !ok {
				if len(args) < 2 || args[1].IsNull() {
					return cty.NilVal, fmt.Errorf("the environment variable %s is not set; set it, or give a default: env(%q, \"...\")", name, name)
				}
				// The default is a literal of the config file, not a
				// secret (an attribute the plugin marks sensitive still is).
				return args[1], nil
			}
			fe.secrets.add(v)
			return cty.StringVal(v).Mark(Sensitive), nil
		},
	})
}

// fileFunc is file("path"): the content of a file (relative paths are relative
// to the configuration's directory), marked sensitive. The content is returned
// as is; wrap it in trimspace() to drop a trailing newline.
func fileFunc(fe funcEnv) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the content of a file (sensitive); relative paths are relative to the configuration's directory.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if p == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the path must not be empty")
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(fe.baseDir, p)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				// The OS error names the path, never the content.
				return cty.NilVal, fmt.Errorf("cannot read file: %w", err)
			}
			s := string(b)
			fe.secrets.add(s)
			fe.secrets.add(strings.TrimSpace(s))
			return cty.StringVal(s).Mark(Sensitive), nil
		},
	})
}

// coalesceFunc is stdlib's coalesce, except that empty strings are skipped
// like nulls (as in Terraform): absent alert attributes are "" rather than
// null, so coalesce(alert.resource_name, alert.subscription) must skip "".
var coalesceFunc = function.New(&function.Spec{
	Description: "Returns the first of its arguments that is neither null nor an empty string.",
	VarParam:    &function.Parameter{Name: "vals", Type: cty.DynamicPseudoType, AllowNull: true, AllowUnknown: true, AllowDynamicType: true},
	Type: func(args []cty.Value) (cty.Type, error) {
		return stdlib.CoalesceFunc.ReturnTypeForValues(emptyToNull(args))
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		return stdlib.CoalesceFunc.Call(emptyToNull(args))
	},
})

func emptyToNull(args []cty.Value) []cty.Value {
	out := make([]cty.Value, len(args))
	for i, a := range args {
		if a.Type() == cty.String && a.IsKnown() && !a.IsNull() && a.AsString() == "" {
			a = cty.NullVal(cty.String)
		}
		out[i] = a
	}
	return out
}

// String predicates that go-cty's stdlib lacks; route matches use them a lot
// and they are much cheaper than a regular expression.
var (
	startsWithFunc  = stringPredicate("startswith", "prefix", strings.HasPrefix)
	endsWithFunc    = stringPredicate("endswith", "suffix", strings.HasSuffix)
	strContainsFunc = stringPredicate("strcontains", "substr", strings.Contains)
)

func stringPredicate(name, second string, f func(s, x string) bool) function.Function {
	return function.New(&function.Spec{
		Description: name + " reports whether the string has the given " + second + ".",
		Params: []function.Parameter{
			{Name: "string", Type: cty.String},
			{Name: second, Type: cty.String},
		},
		Type: function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(f(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

// The regex functions below keep the exact semantics of go-cty's stdlib
// regex, regexall and regex_replace (the stdlib even computes the result
// type), but cache compiled patterns: the stdlib compiles the pattern twice
// per call, which alone would cost more than routing an alert through a
// hundred routes.

type compiledRegex struct {
	re  *regexp.Regexp
	ty  cty.Type // the type stdlib's regex returns for this pattern
	err error
}

// maxCachedPatterns bounds the cache; patterns are nearly always literals from
// the config, so the bound only matters for patterns built from alert data.
const maxCachedPatterns = 4096

var regexCache = struct {
	sync.RWMutex
	m map[string]*compiledRegex
}{m: map[string]*compiledRegex{}}

func compileRegex(pattern string) *compiledRegex {
	regexCache.RLock()
	c, ok := regexCache.m[pattern]
	regexCache.RUnlock()
	if ok {
		return c
	}
	c = &compiledRegex{}
	c.ty, c.err = stdlib.RegexFunc.ReturnTypeForValues([]cty.Value{cty.StringVal(pattern), cty.UnknownVal(cty.String)})
	if c.err == nil {
		c.re, c.err = regexp.Compile(pattern)
	}
	if c.err != nil {
		c.err = function.NewArgError(0, unwrapArgError(c.err))
	}
	regexCache.Lock()
	if len(regexCache.m) < maxCachedPatterns {
		regexCache.m[pattern] = c
	}
	regexCache.Unlock()
	return c
}

func unwrapArgError(err error) error {
	if ae, ok := err.(function.ArgError); ok {
		return errors.New(ae.Error())
	}
	return err
}

var regexFunc = function.New(&function.Spec{
	Description: stdlib.RegexFunc.Description(),
	Params: []function.Parameter{
		{Name: "pattern", Type: cty.String},
		{Name: "string", Type: cty.String},
	},
	Type: func(args []cty.Value) (cty.Type, error) {
		if !args[0].IsKnown() {
			return cty.DynamicPseudoType, nil
		}
		c := compileRegex(args[0].AsString())
		return c.ty, c.err
	},
	Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
		if retType == cty.DynamicPseudoType {
			return cty.DynamicVal, nil
		}
		c := compileRegex(args[0].AsString())
		str := args[1].AsString()
		idx := c.re.FindStringSubmatchIndex(str)
		if idx == nil {
			return cty.NilVal, fmt.Errorf("pattern did not match any part of the given string")
		}
		return regexResult(c.re, str, idx, retType), nil
	},
})

var regexAllFunc = function.New(&function.Spec{
	Description: stdlib.RegexAllFunc.Description(),
	Params: []function.Parameter{
		{Name: "pattern", Type: cty.String},
		{Name: "string", Type: cty.String},
	},
	Type: func(args []cty.Value) (cty.Type, error) {
		if !args[0].IsKnown() {
			return cty.List(cty.DynamicPseudoType), nil
		}
		c := compileRegex(args[0].AsString())
		if c.err != nil {
			return cty.NilType, c.err
		}
		return cty.List(c.ty), nil
	},
	Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
		ety := retType.ElementType()
		if ety == cty.DynamicPseudoType {
			return cty.DynamicVal, nil
		}
		c := compileRegex(args[0].AsString())
		str := args[1].AsString()
		all := c.re.FindAllStringSubmatchIndex(str, -1)
		if len(all) == 0 {
			return cty.ListValEmpty(ety), nil
		}
		elems := make([]cty.Value, len(all))
		for i, idx := range all {
			elems[i] = regexResult(c.re, str, idx, ety)
		}
		return cty.ListVal(elems), nil
	},
})

var regexReplaceFunc = function.New(&function.Spec{
	Description: stdlib.RegexReplaceFunc.Description(),
	Params: []function.Parameter{
		{Name: "str", Type: cty.String},
		{Name: "pattern", Type: cty.String},
		{Name: "replace", Type: cty.String},
	},
	Type: func(args []cty.Value) (cty.Type, error) {
		if args[1].IsKnown() {
			if c := compileRegex(args[1].AsString()); c.err != nil {
				return cty.NilType, function.NewArgError(1, unwrapArgError(c.err))
			}
		}
		return cty.String, nil
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		c := compileRegex(args[1].AsString())
		return cty.StringVal(c.re.ReplaceAllString(args[0].AsString(), args[2].AsString())), nil
	},
})

// regexResult builds the value stdlib's regex returns for one match: the
// whole match, a tuple of unnamed groups or an object of named groups.
func regexResult(re *regexp.Regexp, str string, idx []int, ty cty.Type) cty.Value {
	group := func(i int) cty.Value {
		start, end := idx[i*2], idx[i*2+1]
		if start < 0 || end < 0 {
			return cty.NullVal(cty.String)
		}
		return cty.StringVal(str[start:end])
	}
	switch {
	case ty.IsTupleType():
		vals := make([]cty.Value, ty.Length())
		for i := range vals {
			vals[i] = group(i + 1)
		}
		return cty.TupleVal(vals)
	case ty.IsObjectType():
		names := re.SubexpNames()
		vals := make(map[string]cty.Value, len(names)-1)
		for i := 1; i < len(names); i++ {
			vals[names[i]] = group(i)
		}
		return cty.ObjectVal(vals)
	default:
		return group(0)
	}
}
