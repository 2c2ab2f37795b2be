package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// topConfig is the repository's config.hcl, the one `make demo` runs.
const topConfig = "../../config.hcl"

// parseDerived parses a derived file and returns its top-level blocks and
// attributes.
func parseDerived(t *testing.T, path string) *hclsyntax.Body {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("derived config does not parse: %v\n%s", diags, src)
	}
	return f.Body.(*hclsyntax.Body)
}

func lineOf(t *testing.T, path, needle string) int {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(src), "\n") {
		if strings.Contains(l, needle) {
			return i + 1
		}
	}
	t.Fatalf("%s: no line contains %q", path, needle)
	return 0
}

func TestDeriveConfigFromTopLevelConfig(t *testing.T) {
	out := t.TempDir()
	dc, err := deriveConfig(topConfig, out, deriveOptions{
		Replace:   map[string]string{defaultServiceNowAddr: "127.0.0.1:40001", defaultEntraAddr: "127.0.0.1:40000", defaultJiraAddr: defaultJiraAddr},
		PluginDir: "/opt/bin/plugins",
		StorePath: filepath.Join(out, "db.sqlite"),
		Listen:    "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	if dc.Path != filepath.Join(out, "config.hcl") {
		t.Fatalf("Path %s", dc.Path)
	}
	want := demoConfig{
		Path: dc.Path, Listen: "127.0.0.1:0", Admin: "127.0.0.1:9090", SourceName: "azure", SourcePath: "/webhooks/azure",
		Tenant: defaultTenant, Audience: defaultAudience, Plugins: []string{"cherwell", "jira", "servicenow"},
	}
	if !reflect.DeepEqual(*dc, want) {
		t.Fatalf("demoConfig\n got %+v\nwant %+v", *dc, want)
	}
	body := parseDerived(t, dc.Path)
	var stores []string
	var listen, admin string
	for _, b := range body.Blocks {
		switch b.Type {
		case "store":
			stores = append(stores, b.Labels[0])
			if v, _ := literalString(b.Body, "path"); v != filepath.Join(out, "db.sqlite") {
				t.Errorf("store path %q", v)
			}
		case "server":
			listen, _ = literalString(b.Body, "listen")
			admin, _ = literalString(b.Body, "admin_listen")
		}
	}
	if !reflect.DeepEqual(stores, []string{"sqlite"}) {
		t.Errorf("store blocks %v, want one sqlite", stores)
	}
	if listen != "127.0.0.1:0" || admin != "127.0.0.1:9090" {
		t.Errorf("server listen %q admin %q", listen, admin)
	}
	if v, _ := literalString(body, "plugin_dir"); v != "/opt/bin/plugins" {
		t.Errorf("plugin_dir %q", v)
	}
	text, _ := os.ReadFile(dc.Path)
	for _, s := range []string{`authority  = "http://127.0.0.1:40000"`, `instance_url = "http://127.0.0.1:40001"`, `url       = "http://127.0.0.1:18402"`} {
		if !strings.Contains(string(text), s) {
			t.Errorf("derived config lacks %s", s)
		}
	}
	if strings.Contains(string(text), "18401") || strings.Contains(string(text), "18400") {
		t.Errorf("derived config still names a replaced address")
	}
	// Diagnostics of the copy must point at the original's lines.
	for _, needle := range []string{`route "default"`, `backend "jira" "demo"`, `rate_limit = 200`} {
		if a, b := lineOf(t, topConfig, needle), lineOf(t, dc.Path, needle); a != b {
			t.Errorf("%s: line %d in config.hcl, %d in the copy", needle, a, b)
		}
	}
	if len(dc.Warnings) != 0 {
		t.Errorf("warnings %v (config.hcl mentions file() only in comments)", dc.Warnings)
	}
}

func TestDeriveConfigDirectory(t *testing.T) {
	out := t.TempDir()
	dc, err := deriveConfig("../configs/split", out, deriveOptions{
		PluginDir: "/p", StorePath: "/s.db", Listen: "127.0.0.1:1", Admin: "127.0.0.1:2",
	})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dc.Path, "*.hcl"))
	src, _ := filepath.Glob("../configs/split/*.hcl")
	if len(files) != len(src) || len(files) < 2 {
		t.Fatalf("derived files %v from %v", files, src)
	}
	first := parseDerived(t, files[0])
	var kinds []string
	for _, b := range first.Blocks {
		kinds = append(kinds, b.Type+" "+strings.Join(b.Labels, " "))
		if b.Type == "server" {
			if l, _ := literalString(b.Body, "listen"); l != "127.0.0.1:1" {
				t.Errorf("listen %q", l)
			}
		}
	}
	if !strings.Contains(strings.Join(kinds, ","), "store sqlite") || strings.Contains(strings.Join(kinds, ","), "postgres") {
		t.Errorf("blocks of the first file: %v", kinds)
	}
	if dc.Tenant != "" || dc.SourcePath != "/webhooks/azure/prod" || !reflect.DeepEqual(dc.Plugins, []string{"jira", "servicenow"}) {
		t.Errorf("demoConfig %+v", *dc)
	}
}

func TestDeriveConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hcl")
	_ = os.WriteFile(bad, []byte("server {\n  listen = \n}\n"), 0o600)
	withFile := filepath.Join(dir, "file.hcl")
	_ = os.WriteFile(withFile, []byte("backend \"jira\" \"x\" {\n  config { api_token = file(\"token\") }\n}\n"), 0o600)
	cases := []struct {
		name, src, want string
	}{
		{"missing", filepath.Join(dir, "nope.hcl"), "no such file"},
		{"syntax error", bad, "bad.hcl:2"},
		{"empty directory", t.TempDir(), "no *.hcl files"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := deriveConfig(c.src, t.TempDir(), deriveOptions{PluginDir: "/p", StorePath: "/s"})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
	dc, err := deriveConfig(withFile, t.TempDir(), deriveOptions{PluginDir: "/p", StorePath: "/s"})
	if err != nil {
		t.Fatal(err)
	}
	if len(dc.Warnings) != 1 || !strings.Contains(dc.Warnings[0], "file()") {
		t.Fatalf("warnings %v, want one about file()", dc.Warnings)
	}
}

func TestHCLString(t *testing.T) {
	cases := map[string]string{
		"/tmp/a b/c.db":  `"/tmp/a b/c.db"`,
		`C:\x"y`:         `"C:\\x\"y"`,
		"${not} %{this}": `"$${not} %%{this}"`,
	}
	for in, want := range cases {
		if got := hclString(in); got != want {
			t.Errorf("hclString(%q) = %s, want %s", in, got, want)
		}
		// And HCL reads it back as the same string.
		expr, diags := hclsyntax.ParseExpression([]byte(hclString(in)), "x", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("%q: %v", in, diags)
		}
		if v, diags := expr.Value(nil); diags.HasErrors() || v.AsString() != in {
			t.Errorf("%q reads back as %#v (%v)", in, v, diags)
		}
	}
}
