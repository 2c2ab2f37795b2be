package config

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// minimumSchemas declares the minimum configs the vendor issues promise
// (url/credentials/project), as the real plugins will at least accept.
type minimumSchemas struct{}

func (minimumSchemas) PluginSchema(_ context.Context, typ string) (sdk.Schema, error) {
	str := func(name string, sensitive bool) sdk.Attribute {
		return sdk.Attribute{Name: name, Type: "string", Required: true, Sensitive: sensitive}
	}
	switch typ {
	case "servicenow":
		return sdk.Schema{Attributes: []sdk.Attribute{str("instance_url", false), str("username", false), str("password", true)}}, nil
	case "jira":
		return sdk.Schema{Attributes: []sdk.Attribute{str("url", false), str("username", false), str("api_token", true), str("project", false)}}, nil
	case "cherwell":
		return sdk.Schema{Attributes: []sdk.Attribute{str("url", false), str("client_id", false), str("username", false), str("password", true)}}, nil
	}
	return sdk.Schema{}, nil
}

// anyEnv sets every environment variable, as an operator would.
func anyEnv(name string) (string, bool) {
	if strings.Contains(name, "TENANT") {
		return "72f988bf-86f1-41af-91ab-2d7cd011db47", true
	}
	return "value-of-" + name, true
}

// TestShippedConfigsAreClean: the top-level config.hcl and every example load
// without a single diagnostic, with and without plugin schemas.
func TestShippedConfigsAreClean(t *testing.T) {
	paths := []string{"../../config.hcl", "../../examples/configs/split"}
	files, _ := filepath.Glob("../../examples/configs/*.hcl")
	if len(files) < 6 {
		t.Fatalf("expected at least 6 example configs, found %v", files)
	}
	paths = append(paths, files...)
	for _, p := range paths {
		for _, schemas := range []SchemaProvider{nil, minimumSchemas{}} {
			name := filepath.Base(p)
			if schemas != nil {
				name += "/with-schemas"
			}
			t.Run(name, func(t *testing.T) {
				cfg, diags := Load(p, Options{LookupEnv: anyEnv, Schemas: schemas})
				if len(diags) > 0 {
					var b strings.Builder
					_ = cfg.WriteDiagnostics(&b, diags, 0)
					t.Fatalf("%s has diagnostics:\n%s", p, b.String())
				}
				if len(cfg.Routes) == 0 || len(cfg.Backends) == 0 || len(cfg.Sources) == 0 {
					t.Errorf("%s: %d routes, %d backends, %d sources", p, len(cfg.Routes), len(cfg.Backends), len(cfg.Sources))
				}
			})
		}
	}
}

// TestTopLevelConfigSandbox: config.hcl works with the sandbox without any
// environment variable set, and has the sandbox's addresses.
func TestTopLevelConfigSandbox(t *testing.T) {
	cfg, diags := Load("../../config.hcl", Options{LookupEnv: noEnv, Schemas: minimumSchemas{}})
	if len(diags) > 0 {
		t.Fatalf("diagnostics with an empty environment: %s", diags.Error())
	}
	src := cfg.Sources[0]
	if src.Auth.Authority != "http://127.0.0.1:18400" || src.Auth.Tenants[0] != "00000000-0000-0000-0000-00000000a2e1" || src.Auth.Audiences[0] != "api://itsmbridge" {
		t.Errorf("source auth = %+v", src.Auth)
	}
	if cfg.Server.Listen != "127.0.0.1:8080" || cfg.Server.AdminListen != "127.0.0.1:9090" {
		t.Errorf("server = %+v", cfg.Server)
	}
	if cfg.Store.Kind != StoreSQLite || !strings.HasSuffix(cfg.Store.Path, filepath.Join("data", "itsmbridge.db")) {
		t.Errorf("store = %+v", cfg.Store)
	}
	if !strings.HasSuffix(cfg.PluginDir, filepath.Join("bin", "plugins")) {
		t.Errorf("plugin_dir = %s", cfg.PluginDir)
	}
	want := map[string]string{"servicenow": "http://127.0.0.1:18401", "jira": "http://127.0.0.1:18402", "cherwell": "http://127.0.0.1:18403/CherwellAPI"}
	for _, b := range cfg.Backends {
		attr := "url"
		if b.Type == "servicenow" {
			attr = "instance_url"
		}
		url := b.Value.GetAttr(attr)
		if url.AsString() != want[b.Type] {
			t.Errorf("%s url = %s", b.Ref(), url.AsString())
		}
	}
}

// TestDirectoryOrder: a directory loads its *.hcl files by name, and routes
// keep that order.
func TestDirectoryOrder(t *testing.T) {
	cfg, diags := Load("../../examples/configs/split", Options{LookupEnv: anyEnv})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var names []string
	for _, r := range cfg.Routes {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "critical,default" {
		t.Errorf("route order = %v", names)
	}
	if cfg.Store.Kind != StorePostgres || cfg.Store.DSN != "value-of-ITSMBRIDGE_PG_DSN" {
		t.Errorf("store = %+v", cfg.Store)
	}
	if d := cfg.Dump(); d.Store.DSN != Redacted || d.Server.AdminToken != Redacted {
		t.Errorf("dump leaks: %+v %+v", d.Store, d.Server)
	}
}
