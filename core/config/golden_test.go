package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .golden files in testdata")

// noEnv is a LookupEnv with an empty environment, so tests never depend on
// the machine's variables.
func noEnv(string) (string, bool) { return "", false }

// mapEnv is a LookupEnv backed by a map.
func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// renderDiags loads path and renders its diagnostics as `validate` prints them.
func renderDiags(t *testing.T, path string, opts Options) string {
	t.Helper()
	cfg, diags := Load(path, opts)
	var b bytes.Buffer
	if err := cfg.WriteDiagnostics(&b, diags, 0); err != nil {
		t.Fatalf("write diagnostics: %v", err)
	}
	return b.String()
}

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("read golden (run go test -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("diagnostics differ from %s\n--- got\n%s\n--- want\n%s", golden, got, want)
	}
}

// TestBrokenConfigs loads every testdata/broken/*.hcl and compares the
// rendered diagnostics (file:line:col, summary, detail, snippet) with its
// .golden file. Each broken file must produce at least one error.
func TestBrokenConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/broken/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no broken configs: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".hcl"), func(t *testing.T) {
			_, diags := Load(f, Options{LookupEnv: noEnv})
			if !diags.HasErrors() {
				t.Fatalf("%s loaded without errors", f)
			}
			checkGolden(t, strings.TrimSuffix(f, ".hcl")+".golden", renderDiags(t, f, Options{LookupEnv: noEnv}))
		})
	}
}

// TestWarningConfigs: configs that load, with warnings worth a look.
func TestWarningConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/warnings/*.hcl")
	if len(files) == 0 {
		t.Fatal("no warning configs")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".hcl"), func(t *testing.T) {
			_, diags := Load(f, Options{LookupEnv: noEnv})
			if diags.HasErrors() || len(diags) == 0 {
				t.Fatalf("%s: want warnings only, got %v", f, diags)
			}
			checkGolden(t, strings.TrimSuffix(f, ".hcl")+".golden", renderDiags(t, f, Options{LookupEnv: noEnv}))
		})
	}
}
