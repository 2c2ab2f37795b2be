package config

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// fakeSchemas is a SchemaProvider serving fixed schemas, as the plugin host
// would after launching each plugin. It counts calls per type.
type fakeSchemas struct {
	calls map[string]int
}

var snowSchema = sdk.Schema{
	Attributes: []sdk.Attribute{
		{Name: "instance_url", Type: "string", Required: true, Description: "base URL"},
		{Name: "username", Type: "string", Required: true},
		{Name: "password", Type: "string", Required: true, Sensitive: true},
		{Name: "table", Type: "string", Default: `"incident"`},
		{Name: "timeout_seconds", Type: "number", Default: `30`},
		{Name: "severity_map", Type: "map(string)"},
		{Name: "old_field", Type: "string", Deprecated: "use table instead"},
	},
	Blocks: []sdk.Block{{
		Name: "oauth",
		Nested: sdk.Schema{Attributes: []sdk.Attribute{
			{Name: "client_id", Type: "string", Required: true},
			{Name: "client_secret", Type: "string", Sensitive: true},
		}},
	}},
	TicketFields: []sdk.Attribute{
		{Name: "assignment_group", Type: "string"},
		{Name: "category", Type: "string"},
		{Name: "urgency", Type: "number"},
		{Name: "u_*", Type: "string"},
		{Name: "u_count_*", Type: "number"},
	},
}

var strictSchema = sdk.Schema{
	TicketFields: []sdk.Attribute{{Name: "issue_type", Type: "string", Required: true}},
}

func (f *fakeSchemas) PluginSchema(_ context.Context, typ string) (sdk.Schema, error) {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[typ]++
	switch typ {
	case "servicenow":
		return snowSchema, nil
	case "strict":
		return strictSchema, nil
	case "jira", "cherwell":
		return sdk.Schema{Attributes: []sdk.Attribute{{Name: "url", Type: "string"}, {Name: "password", Type: "string", Sensitive: true}}}, nil
	}
	return sdk.Schema{}, fmt.Errorf("no plugin itsmbridge-plugin-%s in bin/plugins", typ)
}

// TestPluginConfigDiagnostics: config blocks decoded against a plugin's schema
// give exact host-side diagnostics (golden files in testdata/plugin).
func TestPluginConfigDiagnostics(t *testing.T) {
	files, _ := filepath.Glob("testdata/plugin/*.hcl")
	if len(files) == 0 {
		t.Fatal("no plugin configs")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".hcl"), func(t *testing.T) {
			opts := Options{Schemas: &fakeSchemas{}, LookupEnv: mapEnv(map[string]string{"SNOW_PASSWORD": "s3cret-from-env"})}
			got := renderDiags(t, f, opts)
			if got == "" {
				t.Fatalf("%s: no diagnostics", f)
			}
			if strings.Contains(got, "s3cret-from-env") || strings.Contains(got, "hunter2-literal") {
				t.Errorf("a secret leaked into diagnostics:\n%s", got)
			}
			checkGolden(t, strings.TrimSuffix(f, ".hcl")+".golden", got)
		})
	}
}

const goodPluginConfig = `
backend "servicenow" "prod" {
  config {
    instance_url = "https://acme.service-now.com"
    username     = "bridge"
    password     = env("SNOW_PASSWORD")
    severity_map = { "0" = "1", "1" = "2" }
    oauth {
      client_id     = "abc"
      client_secret = "literal-client-secret"
    }
  }
}

backend "servicenow" "dev" {
  config {
    instance_url = "https://dev.service-now.com"
    username     = "bridge"
    password     = "dev-password"
  }
}

route "all" {
  match = true
  to    = [backend.servicenow.prod, backend.servicenow.dev]
  ticket {
    fields = { assignment_group = "Cloud Ops", urgency = 2, u_environment = "prod", u_count_hosts = 3 }
  }
}

source "azure_monitor" "prod" {
  path = "/webhooks/azure/prod"
  azure_ad {
    tenants   = ["00000000-0000-0000-0000-00000000a2e1"]
    audiences = ["api://itsmbridge"]
  }
}
`

func writeConfig(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.hcl")
	if err := writeFile(p, src); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPluginConfigDecoded(t *testing.T) {
	fs := &fakeSchemas{}
	cfg, diags := Load(writeConfig(t, goodPluginConfig), Options{
		Schemas:   fs,
		LookupEnv: mapEnv(map[string]string{"SNOW_PASSWORD": "s3cret-from-env"}),
	})
	if diags.HasErrors() || len(diags) > 0 {
		t.Fatalf("diagnostics: %s", diags.Error())
	}
	if fs.calls["servicenow"] != 1 {
		t.Errorf("schema fetched %d times for two servicenow backends, want once", fs.calls["servicenow"])
	}
	be := cfg.Backend(BackendRef{Type: "servicenow", Name: "prod"})
	if !be.Decoded {
		t.Fatal("backend not decoded")
	}
	// The plugin gets the value through msgpack; decode it as a plugin would.
	var got struct {
		InstanceURL    string            `json:"instance_url"`
		Password       string            `json:"password"`
		Table          string            `json:"table"`
		TimeoutSeconds int               `json:"timeout_seconds"`
		SeverityMap    map[string]string `json:"severity_map"`
		OAuth          struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		} `json:"oauth"`
	}
	if err := be.Config.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.InstanceURL != "https://acme.service-now.com" || got.Password != "s3cret-from-env" ||
		got.Table != "incident" || got.TimeoutSeconds != 30 || got.SeverityMap["1"] != "2" ||
		got.OAuth.ClientID != "abc" || got.OAuth.ClientSecret != "literal-client-secret" {
		t.Errorf("decoded config = %+v", got)
	}

	// Sensitive: env() values and the attributes the plugin marks sensitive.
	secrets := strings.Join(cfg.Secrets(), "\n")
	for _, s := range []string{"s3cret-from-env", "literal-client-secret", "dev-password"} {
		if !strings.Contains(secrets, s) {
			t.Errorf("secret %q not in Secrets()", s)
		}
	}
	dump := fmt.Sprintf("%+v", cfg.Dump())
	for _, s := range []string{"s3cret-from-env", "literal-client-secret", "dev-password"} {
		if strings.Contains(dump, s) {
			t.Errorf("dump leaks %q: %s", s, dump)
		}
	}
	if !strings.Contains(dump, "acme.service-now.com") {
		t.Errorf("dump lacks non-secret values: %s", dump)
	}

	// Ticket fields are known to the plugin, by name or by family (u_*):
	// accepted.
	var names []string
	for _, f := range cfg.Routes[0].Ticket.Fields {
		names = append(names, f.Name)
	}
	if got, want := strings.Join(names, ","), "assignment_group,urgency,u_environment,u_count_hosts"; got != want {
		t.Errorf("fields = %s, want %s", got, want)
	}
}

// TestDiagnosticsFor: a plugin diagnostic with an attribute path lands on
// that attribute's range; an unknown path falls back to the config block.
func TestDiagnosticsFor(t *testing.T) {
	path := writeConfig(t, goodPluginConfig)
	cfg, diags := Load(path, Options{Schemas: &fakeSchemas{}, LookupEnv: mapEnv(map[string]string{"SNOW_PASSWORD": "s3cret-from-env"})})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	be := cfg.Backend(BackendRef{Type: "servicenow", Name: "prod"})
	tests := []struct {
		path       []string
		line, col  int
		endCol     int
		wantDetail string
	}{
		{[]string{"instance_url"}, 4, 20, 50, "(in backend.servicenow.prod, attribute instance_url)"},
		{[]string{"oauth", "client_id"}, 9, 23, 28, "attribute oauth.client_id"},
		{[]string{"oauth"}, 8, 5, 10, "attribute oauth"},
		{[]string{"severity_map", "0"}, 7, 20, 44, ""},
		{[]string{"nope"}, 3, 3, 9, ""},
		{nil, 3, 3, 9, "(in backend.servicenow.prod)"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.path, "."), func(t *testing.T) {
			hd := be.DiagnosticsFor(sdk.Diagnostics{sdk.ErrorDiag("Bad value", "password s3cret-from-env rejected", tt.path...)})
			if len(hd) != 1 {
				t.Fatalf("got %d diagnostics", len(hd))
			}
			d := hd[0]
			if d.Severity != hcl.DiagError || d.Summary != "Bad value" {
				t.Errorf("diag = %+v", d)
			}
			if d.Subject.Filename != path || d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col || d.Subject.End.Column != tt.endCol {
				t.Errorf("subject = %s, want line %d col %d-%d", d.Subject, tt.line, tt.col, tt.endCol)
			}
			if strings.Contains(d.Detail, "s3cret-from-env") || !strings.Contains(d.Detail, Redacted) {
				t.Errorf("detail not redacted: %q", d.Detail)
			}
			if !strings.Contains(d.Detail, tt.wantDetail) {
				t.Errorf("detail %q lacks %q", d.Detail, tt.wantDetail)
			}
		})
	}
	warn := be.DiagnosticsFor(sdk.Diagnostics{{Severity: sdk.SeverityWarning, Summary: "w"}})
	if warn[0].Severity != hcl.DiagWarning {
		t.Errorf("warning mapped to %v", warn[0].Severity)
	}
}

// TestNoProviderKeepsBody: without a schema provider the config body is kept,
// not decoded, but env() inside it is still checked and its values are secrets.
func TestNoProviderKeepsBody(t *testing.T) {
	cfg, diags := Load(writeConfig(t, goodPluginConfig), Options{LookupEnv: mapEnv(map[string]string{"SNOW_PASSWORD": "s3cret-from-env"})})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	be := cfg.Backends[0]
	if be.Decoded || be.Body == nil {
		t.Fatalf("decoded=%v body=%v", be.Decoded, be.Body)
	}
	if !strings.Contains(strings.Join(cfg.Secrets(), "\n"), "s3cret-from-env") {
		t.Error("env value in an undecoded config is not a secret")
	}
	if len(be.SensitivePaths) != 1 || !be.SensitivePaths[0].Equals(cty.GetAttrPath("password")) {
		t.Errorf("sensitive paths = %#v", be.SensitivePaths)
	}

	_, diags = Load(writeConfig(t, goodPluginConfig), Options{LookupEnv: noEnv})
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "SNOW_PASSWORD is not set") {
		t.Errorf("unset env in an undecoded config: %v", diags)
	}
}
