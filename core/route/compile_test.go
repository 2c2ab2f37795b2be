package route

import (
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/config"
)

// compiledCorpus lists match expressions and whether the fast path must
// compile them (false: it must leave them to HCL).
var compiledCorpus = []struct {
	src      string
	compiled bool
}{
	{`alert.severity <= 1`, true},
	{`alert.severity < 1 || alert.severity > 3`, true},
	{`alert.severity >= 2 && alert.severity != 4`, true},
	{`alert.severity == 1`, true},
	{`-alert.severity < -1`, true},
	{`!(alert.severity == 1)`, true},
	{`alert.rule == "cpu-high"`, true},
	{`alert["rule"] != "cpu-high"`, true},
	{`alert.status == "fired" && alert.service == "Platform"`, true},
	{`"${alert.resource_group}/${alert.resource_name}" == "rg/vm1"`, true},
	{`lower(alert.resource_group) == "test-rg"`, true},
	{`upper(alert.signal) == "METRIC"`, true},
	{`startswith(alert.subscription, "1111")`, true},
	{`endswith(alert.resource_name, "1")`, true},
	{`strcontains(lower(alert.rule), "cpu")`, true},
	{`contains(["Platform", "Log Alerts V2"], alert.service)`, true},
	{`contains([], alert.service)`, true},
	{`contains(["x", alert.rule], "cpu-high")`, true},
	{`contains(alert.targets, "/subscriptions/11111111-1111-1111-1111-111111111111/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1")`, true},
	{`contains(alert.configuration_items, "vm1")`, true},
	{`length(alert.targets) > 0`, true},
	{`length(alert.configuration_items) == 1`, true},
	{`length(regexall("[0-9]", alert.resource_name)) >= 1`, true},
	{`length(regexall("(a)(b)?", alert.rule)) > 0`, true},
	{`can(regex("^vm[0-9]+$", alert.resource_name))`, true},
	{`can(regex("(?i)^CPU", alert.rule))`, true},
	{`can(regex("(?P<a>x)(y)", alert.rule))`, false}, // the stdlib rejects the pattern: HCL decides
	{`regex("^[a-z]+", alert.rule) == "cpu"`, true},
	{`alert.custom.team == "payments"`, true},
	{`alert.custom["team"] == "payments"`, true},
	{`alert.custom.nope == "x"`, true}, // missing key: error, left to HCL at run time
	{`lookup(alert.custom, "team", "none") == "payments"`, true},
	{`lookup(alert.custom, "nope", "none") == "none"`, true},
	{`alert.severity <= 1 && alert.custom.nope == "x"`, true},
	{`alert.severity > 1 && alert.custom.nope == "x"`, true},
	{`alert.custom.nope == "x" && alert.severity > 1`, true},
	{`alert.severity > 1 || alert.custom.nope == "x"`, true},
	{`true`, true},
	{`!false && true`, true},
	{`alert.severity <= 1.5`, true},
	{`alert.severity <= 0.1`, false}, // not exact in float64
	{`alert.severity == "1"`, false},
	{`alert.context.flag == "yes"`, false},
	{`try(alert.custom.nope, "") == ""`, false},
	{`alert.targets[0] == "x"`, false},
	{`env("X") == "y"`, false},
	{`alert.rule == (alert.severity > 1 ? "a" : "b")`, false},
	{`length(alert.rule) > 1`, false},
}

// corpusAlerts include the awkward cases: non-ASCII strings (cty normalizes
// them), CRLF, empty collections, missing custom keys.
func corpusAlerts(t *testing.T) []*alert.Alert {
	a := testAlert()
	b := testAlert()
	b.Rule, b.ResourceName, b.ResourceGroup = "Überwachung", "vm-\u0065\u0301", "RG-É"
	b.Custom = map[string]string{"team": "caf\u0065\u0301", "e\u0301": "x"}
	c := testAlert()
	c.Severity, c.SeverityName, c.Targets, c.ConfigurationItems, c.Custom = 0, "Sev0", []string{}, []string{}, map[string]string{}
	d := testAlert()
	d.Rule, d.Description, d.Severity = "line\r\nbreak", "x\r\ny", 4
	out := []*alert.Alert{a, b, c, d}
	files, _ := filepath.Glob("testdata/samples/*.json")
	for _, f := range files {
		out = append(out, sample(t, filepath.Base(f)))
	}
	return out
}

// TestCompiledMatchesHCL: wherever the fast path gives a result, HCL gives
// the same one without error.
func TestCompiledMatchesHCL(t *testing.T) {
	cfg := configFrom(t, header, nil)
	alerts := corpusAlerts(t)
	decided := 0
	for _, tt := range compiledCorpus {
		expr, diags := hclsyntax.ParseExpression([]byte(tt.src), "match.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", tt.src, diags.Error())
		}
		fast := compiler{funcs: cfg.Functions()}.match(expr)
		if (fast != nil) != tt.compiled {
			t.Errorf("%s: compiled = %v, want %v", tt.src, fast != nil, tt.compiled)
			continue
		}
		if fast == nil {
			continue
		}
		for i, a := range alerts {
			got, ok := fast.eval(a)
			want, diags := expr.Value(cfg.EvalContext(config.AlertValue(a, true)))
			if !ok {
				continue // left to HCL
			}
			decided++
			if diags.HasErrors() {
				t.Errorf("%s on alert %d: fast path says %v, HCL fails: %s", tt.src, i, got.b, diags.Error())
				continue
			}
			if !want.IsKnown() || want.IsNull() || want.True() != got.b {
				t.Errorf("%s on alert %d: fast path %v, HCL %#v", tt.src, i, got.b, want)
			}
		}
	}
	if decided < 300 {
		t.Errorf("the fast path decided only %d cases", decided)
	}
}

// TestFastPathFallsBack: alerts the fast path cannot decide still route
// exactly as HCL does, including errors.
func TestFastPathFallsBack(t *testing.T) {
	cfg := configFrom(t, header+`
route "team" {
  match    = alert.custom.team == "payments"
  to       = [backend.jira.ops]
  continue = true
}
route "accent" {
  match = lower(alert.rule) == "überwachung"
  to    = [backend.jira.ops]
}
`, nil)
	r, _ := New(cfg, nil)
	if r.fast[0].match == nil || r.fast[1].match != nil {
		t.Fatalf("compiled: %v %v", r.fast[0].match != nil, r.fast[1].match != nil)
	}
	a := testAlert()
	a.Custom = map[string]string{}
	a.Rule = "Überwachung"
	_, rs := r.Route(a)
	if rs[0].Outcome != Errored || rs[1].Outcome != Matched {
		t.Errorf("results = %+v", rs)
	}
}

// textCorpus lists expressions rendered as text (ticket fields, titles,
// group_by elements) and whether they must compile.
var textCorpus = []struct {
	src      string
	compiled bool
}{
	{`"[${alert.severity_name}] ${alert.rule} on ${alert.resource_name}"`, true},
	{`"sev ${alert.severity} ${alert.severity <= 1}"`, true},
	{`alert.severity`, true},
	{`alert.severity == 1`, true},
	{`"${alert.severity}"`, true},
	{`coalesce(alert.resource_name, alert.subscription)`, true},
	{`coalesce(alert.resolved_at, alert.link)`, true},
	{`join(", ", alert.targets)`, true},
	{`join(", ", alert.configuration_items)`, true},
	{`formatdate("YYYY-MM-DD'T'hh", alert.fired_at)`, true},
	{`trimspace(" ${alert.rule} ")`, true},
	{`replace(alert.rule, "-", "_")`, true},
	{`format("%s/%d", alert.rule, alert.severity)`, true},
	{`substr(alert.rule, 0, 3)`, true},
	{`title(alert.signal)`, true},
	{`min(alert.severity, 3)`, true},
	{`max(alert.severity, 2) * 2`, false},
	{`lookup(alert.custom, "team", "ops")`, true},
	{`upper(alert.custom.team)`, true},
	{`jsonencode(alert.targets)`, true},
	{`split("/", alert.id)`, false}, // a list: not text
	{`element(alert.targets, 0)`, true},
	{`tostring(alert.severity)`, true},
	{`env("HOME")`, false},
	{`try(alert.context.x, "none")`, false},
	{`"%{if alert.severity <= 1}urgent%{endif}"`, false},
	{`alert.severity / 3`, false},
}

// TestCompiledTextMatchesHCL: compiled renderings equal what HCL renders.
func TestCompiledTextMatchesHCL(t *testing.T) {
	cfg := configFrom(t, header, nil)
	c := compiler{funcs: cfg.Functions()}
	alerts := corpusAlerts(t)
	decided := 0
	for _, tt := range textCorpus {
		expr, diags := hclsyntax.ParseExpression([]byte(tt.src), "text.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", tt.src, diags.Error())
		}
		fast := c.text(expr)
		if (fast != nil) != tt.compiled {
			t.Errorf("%s: compiled = %v, want %v", tt.src, fast != nil, tt.compiled)
			continue
		}
		if fast == nil {
			continue
		}
		for i, a := range alerts {
			got, ok := fast.eval(a)
			if !ok {
				continue
			}
			decided++
			want, _, err := evalString(expr, nil, &evalState{r: &Router{cfg: cfg, needContext: true}, a: a})
			if err != nil {
				t.Errorf("%s on alert %d: fast path %q, HCL fails: %v", tt.src, i, got.s, err)
			} else if want != got.s {
				t.Errorf("%s on alert %d: fast path %q, HCL %q", tt.src, i, got.s, want)
			}
			// As a group_by element, the text must equal groupValueText.
			if g := groupText(c.expr(expr.(hclsyntax.Expression))); g != nil {
				gv, gok := g.eval(a)
				hv, diags := expr.Value(cfg.EvalContext(config.AlertValue(a, true)))
				if gok && !diags.HasErrors() {
					if ht, _ := groupValueText(unmark(hv)); ht != gv.s {
						t.Errorf("%s on alert %d as group value: fast %q, HCL %q", tt.src, i, gv.s, ht)
					}
				}
			}
		}
	}
	if decided < 200 {
		t.Errorf("the fast path decided only %d cases", decided)
	}
}
