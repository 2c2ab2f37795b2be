package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// fakePluginHost stands in for the pluginhost-backed provider: it serves a
// schema and runs "offline checks" that echo values back, as a careless
// plugin might.
type fakePluginHost struct{ released bool }

func (f *fakePluginHost) PluginSchema(_ context.Context, typ string) (sdk.Schema, error) {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "instance_url", Type: "string", Required: true},
		{Name: "username", Type: "string", Required: true},
		{Name: "password", Type: "string", Required: true, Sensitive: true},
		{Name: "token", Type: "string"},
	}}, nil
}

func (f *fakePluginHost) ValidateBackendConfig(_ context.Context, b *config.Backend) (sdk.Diagnostics, error) {
	var c struct {
		Password string `json:"password"`
		Token    string `json:"token"`
	}
	if err := b.Config.Decode(&c); err != nil {
		return nil, err
	}
	return sdk.Diagnostics{
		{Severity: sdk.SeverityWarning, Summary: "Weak password", Detail: "the password " + c.Password + " is short", AttributePath: []string{"password"}},
		{Severity: sdk.SeverityWarning, Summary: "Token", Detail: "token " + c.Token + " looks odd", AttributePath: []string{"token"}},
	}, nil
}

func withFakePluginHost(t *testing.T, f *fakePluginHost) {
	t.Helper()
	old := validateSchemas
	if f == nil {
		validateSchemas = nil
	} else {
		validateSchemas = func(context.Context, *config.Config, hclog.Logger) (config.SchemaProvider, func(), error) {
			return f, func() { f.released = true }, nil
		}
	}
	t.Cleanup(func() { validateSchemas = old })
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestValidateShippedConfig(t *testing.T) {
	withFakePluginHost(t, nil)
	code, out, errOut := runCLI("validate", "-config", "../../../config.hcl")
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "valid (1 source, 3 backends, 5 routes)") || !strings.Contains(out, "note: plugin configs not checked") {
		t.Errorf("stdout:\n%s", out)
	}
}

func TestValidateBroken(t *testing.T) {
	withFakePluginHost(t, nil)
	code, out, errOut := runCLI("validate", "-config", "../../config/testdata/broken/unknown_backend_ref.hcl")
	if code != exitFailed || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{
		"unknown_backend_ref.hcl:6:12: Error: Reference to undeclared backend",
		"   6:   to    = [backend.servicenow.prd, backend.jira.operations]",
		"Did you mean backend.servicenow.prod?",
		"unknown_backend_ref.hcl:6:36: Error:",
		"2 error(s)",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if code, _, errOut := runCLI("validate", "-config", "testdata/nope.hcl"); code != exitFailed || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: exit %d, %s", code, errOut)
	}
	if code, _, _ := runCLI("validate", "stray"); code != exitFailed {
		t.Errorf("stray argument: exit %d", code)
	}
}

// TestValidateNeverPrintsSecrets: env() values, literal values of sensitive
// plugin attributes, admin_token and the DSN never appear in validate's
// output: not in the dump, not in diagnostics (even those that quote a
// value), not in plugin diagnostics that echo them back.
func TestValidateNeverPrintsSecrets(t *testing.T) {
	t.Setenv("ITSMBRIDGE_TEST_ADMIN_TOKEN", "adm1n-t0ken-value")
	t.Setenv("ITSMBRIDGE_TEST_API_TOKEN", "api-t0ken-value")
	secrets := []string{"adm1n-t0ken-value", "api-t0ken-value", "snow-literal-pw", "pg-literal-pw"}
	check := func(t *testing.T, out string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("output contains secret %q:\n%s", s, out)
			}
		}
	}

	t.Run("valid with dump and plugin checks", func(t *testing.T) {
		host := &fakePluginHost{}
		withFakePluginHost(t, host)
		code, out, errOut := runCLI("validate", "-config", "testdata/validate/secrets.hcl", "-dump")
		if code != exitOK {
			t.Fatalf("exit %d:\n%s%s", code, out, errOut)
		}
		check(t, out+errOut)
		if !host.released {
			t.Error("plugin host not released")
		}
		// The plugin's warnings are shown, mapped to the attributes.
		if !strings.Contains(errOut, "secrets.hcl:22:20: Warning: Weak password") || !strings.Contains(errOut, "the password (sensitive) is short") {
			t.Errorf("plugin diagnostics:\n%s", errOut)
		}
		var dump config.Dump
		if err := json.Unmarshal([]byte(strings.SplitN(out, "\ntestdata/", 2)[0]), &dump); err != nil {
			t.Fatalf("dump is not JSON: %v\n%s", err, out)
		}
		if dump.Server.AdminToken != config.Redacted || dump.Store.DSN != config.Redacted {
			t.Errorf("dump: %+v %+v", dump.Server, dump.Store)
		}
		cfgDump := dump.Backends[0].Config.(map[string]any)
		if cfgDump["password"] != config.Redacted || cfgDump["token"] != config.Redacted || cfgDump["username"] != "bridge" {
			t.Errorf("backend config dump: %v", cfgDump)
		}
	})

	t.Run("broken, diagnostics quoting values", func(t *testing.T) {
		withFakePluginHost(t, &fakePluginHost{})
		code, out, errOut := runCLI("validate", "-config", "testdata/validate/secrets_broken.hcl")
		if code != exitFailed {
			t.Fatalf("exit %d:\n%s%s", code, out, errOut)
		}
		check(t, out+errOut)
		// tonumber() quotes its argument; the quote is redacted.
		if !strings.Contains(errOut, `cannot convert "(sensitive)" to number`) {
			t.Errorf("expected a redacted conversion error:\n%s", errOut)
		}
	})
}
