package main

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/plugins/servicenow/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest"
)

func TestValidateConfig(t *testing.T) {
	base := "instance_url = \"https://acme.service-now.com\"\nusername = \"u\"\npassword = \"p\"\n"
	tests := []struct {
		name string
		src  string
		path []string // nil: valid
	}{
		{"minimum", base, nil},
		{"oauth client credentials", "instance_url = \"https://a.service-now.com\"\noauth {\n client_id = \"c\"\n client_secret = \"s\"\n grant_type = \"client_credentials\"\n}", nil},
		{"empty url", "instance_url = \"\"\nusername = \"u\"\npassword = \"p\"", []string{"instance_url"}},
		{"bad url", "instance_url = \"acme\"\nusername = \"u\"\npassword = \"p\"", []string{"instance_url"}},
		{"url with credentials", "instance_url = \"https://u:p@acme.service-now.com\"\nusername = \"u\"\npassword = \"p\"", []string{"instance_url"}},
		{"no password", "instance_url = \"https://a.service-now.com\"\nusername = \"u\"", []string{"password"}},
		{"oauth password grant without user", "instance_url = \"https://a.service-now.com\"\noauth {\n client_id = \"c\"\n client_secret = \"s\"\n}", []string{"oauth", "grant_type"}},
		{"oauth bad grant", base + "oauth {\n client_id = \"c\"\n client_secret = \"s\"\n grant_type = \"implicit\"\n}", []string{"oauth", "grant_type"}},
		{"oauth empty secret", base + "oauth {\n client_id = \"c\"\n client_secret = \"\"\n}", []string{"oauth", "client_secret"}},
		{"bad table", base + "table = \"Incident Table\"", []string{"table"}},
		{"bad severity key", base + "severity_map = { Sev9 = { impact = \"1\", urgency = \"1\" } }", []string{"severity_map"}},
		{"bad severity level", base + "severity_map = { \"2\" = { impact = \"4\", urgency = \"1\" } }", []string{"severity_map"}},
		{"close code not in list", base + "close_code = \"Solved (Permanently)\"", []string{"close_code"}},
		{"legacy close code with legacy list", base + "close_code = \"Solved (Permanently)\"\nclose_codes = [\"Solved (Permanently)\"]", nil},
		{"bad template", base + "close_notes = \"{{.rule\"", []string{"close_notes"}},
		{"priority in fields", base + "fields = { priority = \"1\" }", []string{"fields"}},
		{"correlation in fields", base + "fields = { correlation_id = \"x\" }", []string{"fields"}},
		{"bad comment field", base + "comment_field = \"notes\"", []string{"comment_field"}},
		{"bad timeout", base + "timeout = \"soon\"", []string{"timeout"}},
		{"empty classes", base + "ci_lookup {\n classes = []\n}", []string{"ci_lookup", "classes"}},
	}
	p := New()
	for _, tt := range tests {
		cfg, err := plugintest.DecodeConfig(p.Schema(), tt.src)
		if err != nil {
			t.Fatalf("%s: decode: %v", tt.name, err)
		}
		d := p.ValidateConfig(ctx(t), cfg)
		if tt.path == nil {
			if d.HasErrors() {
				t.Errorf("%s: unexpected errors: %s", tt.name, d.Error())
			}
			continue
		}
		found := false
		for _, x := range d {
			if x.Severity == sdk.SeverityError && slices.Equal(x.AttributePath, tt.path) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: want an error on %v, got %q", tt.name, tt.path, d.Error())
		}
	}
}

func TestDefaultsAreNotShared(t *testing.T) {
	p := New()
	cfg, err := plugintest.DecodeConfig(p.Schema(), `instance_url = "https://a"`)
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := decodeConfig(cfg)
	c1.SeverityMap["Sev0"] = severityLevels{"3", "3"}
	c1.CloseCodes[0] = "mutated"
	c2, _ := decodeConfig(cfg)
	if c2.SeverityMap["Sev0"].Impact != "1" || c2.CloseCodes[0] == "mutated" {
		t.Fatal("decoded configs share default maps or slices")
	}
}

func TestConfigureAgainstInstance(t *testing.T) {
	emu := emulator.New(emulator.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	dead := httptest.NewServer(nil)
	deadURL := dead.URL
	dead.Close()
	login := "username = \"sandbox\"\npassword = \"sandbox\"\n"
	tests := []struct {
		name string
		src  string
		path []string
		text string
	}{
		{"wrong password", "instance_url = \"" + srv.URL + "\"\nusername = \"sandbox\"\npassword = \"wrong-pass\"", []string{"password"}, "rejected the credentials"},
		{"unreachable", "instance_url = \"" + deadURL + "\"\n" + login, []string{"instance_url"}, "cannot reach"},
		{"unknown table", "instance_url = \"" + srv.URL + "\"\n" + login + "table = \"incidents\"", []string{"table"}, "Invalid table incidents"},
		{"unknown group", "instance_url = \"" + srv.URL + "\"\n" + login + "assignment_group = \"Nobody\"", []string{"assignment_group"}, "Nobody"},
		{"unknown caller", "instance_url = \"" + srv.URL + "\"\n" + login + "caller_id = \"ghost\"", []string{"caller_id"}, "ghost"},
		{"bad oauth secret", "instance_url = \"" + srv.URL + "\"\n" + login + "oauth {\n client_id = \"sandbox\"\n client_secret = \"nope-secret\"\n}", []string{"oauth"}, "access_denied"},
	}
	for _, tt := range tests {
		p := NewWithLogger(hclog.NewNullLogger())
		d := configureHCL(t, p, tt.src)
		if !d.HasErrors() {
			t.Errorf("%s: accepted", tt.name)
			continue
		}
		ok := false
		for _, x := range d {
			if slices.Equal(x.AttributePath, tt.path) && strings.Contains(x.Summary+x.Detail, tt.text) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("%s: want error on %v mentioning %q, got %q", tt.name, tt.path, tt.text, d.Error())
		}
		if strings.Contains(d.Error(), "wrong-pass") || strings.Contains(d.Error(), "nope-secret") {
			t.Errorf("%s: diagnostics leak the secret: %s", tt.name, d.Error())
		}
	}
}

// TestCorrelationFieldTrap: a typo in correlation_field makes ServiceNow
// ignore the dedup condition and return unrelated incidents. Configure
// catches it when the table has rows; Create catches it always.
func TestCorrelationFieldTrap(t *testing.T) {
	emu := emulator.New(emulator.Options{})
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	src := "instance_url = \"" + srv.URL + "\"\nusername = \"sandbox\"\npassword = \"sandbox\"\ncorrelation_field = \"correlation_idd\"\n"
	p := NewWithLogger(hclog.NewNullLogger())
	if d := configureHCL(t, p, src); d.HasErrors() {
		t.Fatalf("empty table: %s", d.Error())
	}
	emu.SeedRecord("incident", map[string]string{"short_description": "someone else's", "state": "1"})
	_, err := p.Create(ctx(t), createReq("trap"))
	wantKind(t, "create with unknown correlation field", err, sdk.KindPermanent)
	if !strings.Contains(err.Error(), "correlation_idd") {
		t.Errorf("error %q does not name the field", err)
	}
	if n := len(emu.Records("incident", "")); n != 1 {
		t.Errorf("%d incidents; the plugin must neither reuse the foreign one nor create", n)
	}
	d := configureHCL(t, NewWithLogger(hclog.NewNullLogger()), src)
	if !d.HasErrors() || d[0].AttributePath[0] != "correlation_field" {
		t.Errorf("Configure with rows: %v", d)
	}
}
