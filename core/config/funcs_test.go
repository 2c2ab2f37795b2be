package config

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

func evalExpr(t *testing.T, ctx *hcl.EvalContext, src string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", src, diags.Error())
	}
	return expr.Value(ctx)
}

// TestFunctions evaluates every function of the table at least once; a
// function added to the table without a case here fails the test.
func TestFunctions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token.txt"), []byte("file-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := newSecretSet()
	funcs := functions(funcEnv{lookupEnv: mapEnv(map[string]string{"SET": "env-secret", "EMPTY": ""}), baseDir: dir, secrets: secrets})
	ctx := &hcl.EvalContext{Functions: funcs, Variables: map[string]cty.Value{"s": cty.StringVal("web-01.prod")}}

	tests := []struct{ fn, expr, want string }{
		{"chomp", `chomp("a\n")`, `"a"`},
		{"endswith", `endswith(s, ".prod")`, `true`},
		{"format", `format("%s/%03d", "a", 7)`, `"a/007"`},
		{"formatlist", `formatlist("x-%s", ["a", "b"])`, `["x-a","x-b"]`},
		{"indent", `indent(2, "a\nb")`, `"a\n  b"`},
		{"join", `join(",", ["a", "b"])`, `"a,b"`},
		{"lower", `lower("AbC")`, `"abc"`},
		{"regex", `regex("^([a-z]+)-(\\d+)", s)`, `["web","01"]`},
		{"regexall", `length(regexall("[0-9]", s))`, `2`},
		{"regex_replace", `regex_replace(s, "[0-9]+", "N")`, `"web-N.prod"`},
		{"replace", `replace(s, ".prod", "")`, `"web-01"`},
		{"split", `split(".", s)`, `["web-01","prod"]`},
		{"startswith", `startswith(s, "web-")`, `true`},
		{"strcontains", `strcontains(s, "01")`, `true`},
		{"strlen", `strlen(s)`, `11`},
		{"strrev", `strrev("abc")`, `"cba"`},
		{"substr", `substr(s, 0, 3)`, `"web"`},
		{"title", `title("hello world")`, `"Hello World"`},
		{"trim", `trim("--a--", "-")`, `"a"`},
		{"trimprefix", `trimprefix(s, "web-")`, `"01.prod"`},
		{"trimspace", `trimspace("  a ")`, `"a"`},
		{"trimsuffix", `trimsuffix(s, ".prod")`, `"web-01"`},
		{"upper", `upper("a")`, `"A"`},
		{"chunklist", `chunklist([1, 2, 3], 2)`, `[[1,2],[3]]`},
		{"coalesce", `coalesce("", "b")`, `"b"`},
		{"coalescelist", `coalescelist([], ["a"])`, `["a"]`},
		{"compact", `compact(["a", "", "b"])`, `["a","b"]`},
		{"concat", `concat(["a"], ["b"])`, `["a","b"]`},
		{"contains", `contains(["Sev0", "Sev1"], "Sev1")`, `true`},
		{"distinct", `distinct(["a", "a", "b"])`, `["a","b"]`},
		{"element", `element(["a", "b"], 3)`, `"b"`},
		{"flatten", `flatten([["a"], ["b", ["c"]]])`, `["a","b","c"]`},
		{"index", `index(["a", "b"], 1)`, `"b"`}, // go-cty's index: the element at a key
		{"coalesce", `coalesce(null, "", "c")`, `"c"`},
		{"keys", `keys({ b = 1, a = 2 })`, `["a","b"]`},
		{"length", `length([1, 2])`, `2`},
		{"lookup", `lookup({ a = "x" }, "b", "dflt")`, `"dflt"`},
		{"merge", `merge({ a = 1 }, { b = 2 })`, `{"a":1,"b":2}`},
		{"range", `range(3)`, `[0,1,2]`},
		{"reverse", `reverse([1, 2])`, `[2,1]`},
		{"setintersection", `setintersection(["a", "b"], ["b"])`, `["b"]`},
		{"setproduct", `length(setproduct(["a", "b"], ["c"]))`, `2`},
		{"setsubtract", `setsubtract(["a", "b"], ["b"])`, `["a"]`},
		{"setunion", `setunion(["a"], ["b"])`, `["a","b"]`},
		{"slice", `slice(["a", "b", "c"], 1, 3)`, `["b","c"]`},
		{"sort", `sort(["b", "a"])`, `["a","b"]`},
		{"values", `values({ a = 1, b = 2 })`, `[1,2]`},
		{"zipmap", `zipmap(["a"], [1])`, `{"a":1}`},
		{"abs", `abs(-2)`, `2`},
		{"ceil", `ceil(1.2)`, `2`},
		{"floor", `floor(1.8)`, `1`},
		{"log", `log(8, 2)`, `3`},
		{"max", `max(1, 4, 2)`, `4`},
		{"min", `min(3, 1)`, `1`},
		{"parseint", `parseint("ff", 16)`, `255`},
		{"pow", `pow(2, 3)`, `8`},
		{"signum", `signum(-5)`, `-1`},
		{"csvdecode", `csvdecode("a,b\n1,2")[0].b`, `"2"`},
		{"jsondecode", `jsondecode("{\"a\":[1]}").a[0]`, `1`},
		{"jsonencode", `jsonencode({ a = "b" })`, `"{\"a\":\"b\"}"`},
		{"formatdate", `formatdate("YYYY-MM-DD hh:mm", "2024-05-01T13:04:05Z")`, `"2024-05-01 13:04"`},
		{"timeadd", `timeadd("2024-05-01T13:00:00Z", "90m")`, `"2024-05-01T14:30:00Z"`},
		{"tobool", `tobool("true")`, `true`},
		{"tolist", `tolist(["a"])`, `["a"]`},
		{"tomap", `tomap({ a = "b" })`, `{"a":"b"}`},
		{"tonumber", `tonumber("4")`, `4`},
		{"toset", `length(toset(["a", "a"]))`, `1`},
		{"tostring", `tostring(4)`, `"4"`},
		{"can", `can(regex("^db-", s))`, `false`},
		{"try", `try(regex("^db-", s), "none")`, `"none"`},
		{"env", `env("SET")`, `"env-secret"`},
		{"env", `env("UNSET", "fallback")`, `"fallback"`},
		{"env", `env("EMPTY", "fallback")`, `""`},
		{"file", `trimspace(file("token.txt"))`, `"file-secret"`},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.fn] = true
		t.Run(tt.fn, func(t *testing.T) {
			v, diags := evalExpr(t, ctx, tt.expr)
			if diags.HasErrors() {
				t.Fatalf("%s: %s", tt.expr, diags.Error())
			}
			v, _ = v.UnmarkDeep()
			got := jsonOf(t, v)
			if got != tt.want {
				t.Errorf("%s = %s, want %s", tt.expr, got, tt.want)
			}
		})
	}
	var missing []string
	for name := range funcs {
		if !covered[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("functions without a test case: %v", missing)
	}

	for _, s := range []string{"env-secret", "file-secret\n", "file-secret"} {
		if !strings.Contains(strings.Join(secrets.list(), "\x00"), s) {
			t.Errorf("%q not recorded as a secret", s)
		}
	}
	if strings.Contains(strings.Join(secrets.list(), "\x00"), "fallback") {
		t.Error("an env() default (a literal of the file) was recorded as a secret")
	}
}

func jsonOf(t *testing.T, v cty.Value) string {
	t.Helper()
	js, err := ctyJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestFunctionErrors: the error cases users will meet.
func TestFunctionErrors(t *testing.T) {
	funcs := functions(funcEnv{lookupEnv: noEnv, baseDir: t.TempDir(), secrets: newSecretSet()})
	ctx := &hcl.EvalContext{Functions: funcs}
	tests := []struct{ expr, want string }{
		{`env("NOPE")`, `the environment variable NOPE is not set; set it, or give a default: env("NOPE", "...")`},
		{`env("")`, `the variable name must not be empty`},
		{`env("A", "b", "c")`, `env takes a name and at most one default, got 3 arguments`},
		{`file("missing.txt")`, `cannot read file: open `},
		{`regex("[", "x")`, `invalid regexp pattern: missing closing ]`},
		{`regexall("(?P<a>x)(y)", "x")`, `cannot mix both named and unnamed capture groups`},
		{`regex("a", "b")`, `pattern did not match any part of the given string`},
		{`regex_replace("a", "(", "b")`, `missing closing )`},
	}
	for _, tt := range tests {
		_, diags := evalExpr(t, ctx, tt.expr)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.expr, diags, tt.want)
		}
	}
}

// TestRegexMatchesStdlib: the cached regex functions return exactly what
// go-cty's stdlib returns, for every kind of pattern.
func TestRegexMatchesStdlib(t *testing.T) {
	patterns := []string{`^web`, `([a-z]+)-(\d+)`, `(?P<name>[a-z]+)-(?P<num>\d+)`, `(a)|(w)`, `x*`, `(?i)WEB`}
	inputs := []string{"web-01.prod", "nothing", ""}
	for _, p := range patterns {
		for _, in := range inputs {
			args := []cty.Value{cty.StringVal(p), cty.StringVal(in)}
			want, wantErr := stdlib.RegexFunc.Call(args)
			got, gotErr := regexFunc.Call(args)
			if (wantErr != nil) != (gotErr != nil) || (wantErr == nil && !got.RawEquals(want)) {
				t.Errorf("regex(%q, %q) = %#v, %v; stdlib %#v, %v", p, in, got, gotErr, want, wantErr)
			}
			wantAll, _ := stdlib.RegexAllFunc.Call(args)
			gotAll, _ := regexAllFunc.Call(args)
			if !gotAll.RawEquals(wantAll) {
				t.Errorf("regexall(%q, %q) = %#v; stdlib %#v", p, in, gotAll, wantAll)
			}
			rargs := []cty.Value{cty.StringVal(in), cty.StringVal(p), cty.StringVal("<$1>")}
			wantR, _ := stdlib.RegexReplaceFunc.Call(rargs)
			gotR, _ := regexReplaceFunc.Call(rargs)
			if !gotR.RawEquals(wantR) {
				t.Errorf("regex_replace(%q, %q) = %#v; stdlib %#v", in, p, gotR, wantR)
			}
		}
	}
}

// TestSensitiveMarkPropagates: a value derived from env() stays marked
// through templates and functions.
func TestSensitiveMarkPropagates(t *testing.T) {
	funcs := functions(funcEnv{lookupEnv: mapEnv(map[string]string{"T": "tok"}), secrets: newSecretSet()})
	ctx := &hcl.EvalContext{Functions: funcs}
	for _, src := range []string{`"Bearer ${env("T")}"`, `upper(env("T"))`, `{ a = env("T") }`, `[lower(env("T"))]`} {
		v, diags := evalExpr(t, ctx, src)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		if !v.ContainsMarked() {
			t.Errorf("%s lost the sensitive mark", src)
		}
	}
}
