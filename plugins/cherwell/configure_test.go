package main

import (
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/cherwell/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
)

func TestConfigureDiagnostics(t *testing.T) {
	e := newTestEnv(t, envOpts{noCheck: true})
	tests := []struct {
		name    string
		config  string // full config; "" means base + extra
		extra   string
		path    string
		summary string
		detail  string
	}{
		{name: "wrong password", config: strings.Replace(e.baseConfig(), testPassword, "nope-nope", 1), path: "password", summary: "CSM rejected the login", detail: "invalid_grant"},
		{name: "unknown client", config: strings.Replace(e.baseConfig(), testClientID, "other-client", 1), path: "client_id", detail: "Client other-client is not registered"},
		{name: "disabled auth mode", extra: `auth_mode = "LDAP"`, path: "password", detail: "LDAP"},
		{name: "bad auth mode", extra: `auth_mode = "Kerberos"`, path: "auth_mode"},
		{name: "API not at url", config: strings.Replace(e.baseConfig(), "/CherwellAPI", "/Other", 1), path: "url", summary: "CSM REST API not found"},
		{name: "not a url", config: strings.Replace(e.baseConfig(), e.srv.URL, "nope", 1), path: "url", summary: "Invalid URL"},
		{name: "unknown business object", extra: `business_object = "Ticket"`, path: "business_object", detail: `no business object named "Ticket"`},
		{name: "unknown correlation field", extra: `correlation_field = "ExternalRef"`, path: "correlation_field", detail: `no field "ExternalRef"`},
		{name: "unknown resolved status", extra: `resolved_status = "Done"`, path: "resolved_status", detail: "New, Assigned"},
		{name: "unknown reopened status", extra: `reopened_status = "Again"`, path: "reopened_status"},
		{name: "unknown closed status", extra: `closed_statuses = ["Gone"]`, path: "closed_statuses"},
		{name: "reopened equals resolved", extra: `reopened_status = "Resolved"`, path: "reopened_status"},
		{name: "severity field", extra: `severity_map = { "0" = { Criticality = "1" } }`, path: "severity_map", detail: "Criticality"},
		{name: "severity key", extra: `severity_map = { "7" = { Priority = "1" } }`, path: "severity_map"},
		{name: "extra field", extra: `fields = { Nope = "x" }`, path: "fields"},
		{name: "journal relationship", extra: `journal_relationship = "Incident Owns Notes"`, path: "journal_relationship", detail: "Incident Owns Journals"},
		{name: "journal object", extra: `journal_object = "Journal - Memo"`, path: "journal_object"},
		{name: "ci relationship", extra: `ci_relationship = "Incident Has CIs"`, path: "ci_relationship"},
		{name: "ci type", extra: `ci_object_types = ["Config - Server", "Config - Mainframe"]`, path: "ci_object_types", detail: "Config - Mainframe"},
		{name: "no ci types", extra: `ci_object_types = []`, path: "ci_object_types"},
		{name: "ci create type", extra: `ci_create_type = "Config - Computer2"`, path: "ci_create_type"},
		{name: "resource id field", extra: `ci_resource_id_field = "ArmID"`, path: "ci_resource_id_field"},
		{name: "ci name field", extra: `ci_name_field = "Label"`, path: "ci_name_field"},
		{name: "close template", extra: `close_description = "{{.rule"`, path: "close_description"},
		{name: "timeout", extra: `timeout = "soon"`, path: "timeout"},
		{name: "empty username", config: strings.Replace(e.baseConfig(), testUser, "", 1), path: "username"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.config
			if src == "" {
				src = e.baseConfig() + tc.extra + "\n"
			}
			d := e.p.Configure(ctx(t), &sdk.ConfigureRequest{Config: e.config(src)})
			if !d.HasErrors() {
				t.Fatal("accepted")
			}
			var hit *sdk.Diagnostic
			for i := range d {
				if d[i].Severity == sdk.SeverityError && slices.Equal(d[i].AttributePath, []string{tc.path}) {
					hit = &d[i]
				}
			}
			if hit == nil {
				t.Fatalf("no error on %s: %s", tc.path, d.Error())
			}
			if !strings.Contains(hit.Summary, tc.summary) || !strings.Contains(hit.Detail, tc.detail) {
				t.Errorf("diagnostic %q / %q lacks %q / %q", hit.Summary, hit.Detail, tc.summary, tc.detail)
			}
			if strings.Contains(d.Error(), testPassword) {
				t.Errorf("password in diagnostics: %s", d.Error())
			}
		})
	}
	if e.p.state.Load() != nil {
		t.Error("a failed Configure installed a configuration")
	}
}

func TestConfigureUnreachable(t *testing.T) {
	srv := httptest.NewServer(emulator.New(emulator.Options{}))
	url := srv.URL
	srv.Close()
	p := New()
	e := &testEnv{t: t, p: p}
	cfg := e.config(`url = "` + url + `/CherwellAPI"` + "\nclient_id = \"sandbox\"\nusername = \"sandbox\"\npassword = \"sandbox\"\n")
	d := p.Configure(ctx(t), &sdk.ConfigureRequest{Config: cfg})
	if !d.HasErrors() || !slices.Equal(d[len(d)-1].AttributePath, []string{"url"}) || d[len(d)-1].Summary != "CSM is unreachable" {
		t.Errorf("diags = %+v", d)
	}
}

// TestMinimalConfig: url, client_id, username and password against the
// emulator's defaults are enough; everything else is defaulted.
func TestMinimalConfig(t *testing.T) {
	emu := emulator.New(emulator.Options{})
	srv := httptest.NewServer(validator(t).Wrap(emu, emulator.BasePath+"/", func(err error) { t.Errorf("contract: %v", err) }))
	defer srv.Close()
	p := New()
	e := &testEnv{t: t, p: p}
	cfg := e.config(`url = "` + srv.URL + `/CherwellAPI"` + "\nclient_id = \"sandbox\"\nusername = \"sandbox\"\npassword = \"sandbox\"\n")
	if d := p.ValidateConfig(ctx(t), cfg); d.HasErrors() {
		t.Fatalf("ValidateConfig: %s", d.Error())
	}
	if d := p.Configure(ctx(t), &sdk.ConfigureRequest{Config: cfg}); d.HasErrors() {
		t.Fatalf("Configure: %s", d.Error())
	}
	m := p.state.Load().meta
	if strings.Join(m.openStates, ",") != "New,Assigned,In Progress,Pending,Reopened" || len(m.ciTypes) != 2 || m.ciCreate.Display != "Config - Server" {
		t.Errorf("meta: open %v, ci types %d, create %s", m.openStates, len(m.ciTypes), m.ciCreate.Display)
	}
	if m.ciRecID == nil || m.ciName == nil {
		t.Error("ConfigItemRecID / ConfigItemDisplayName not discovered")
	}
	// An empty or all-null config does not panic and is rejected.
	ty, _ := p.Schema().ImpliedType()
	if d := p.Configure(ctx(t), &sdk.ConfigureRequest{Config: sdk.Config{Type: ty}}); !d.HasErrors() {
		t.Error("empty config accepted")
	}
}

func TestValidateConfigIsOffline(t *testing.T) {
	p := New()
	e := &testEnv{t: t, p: p}
	// Nothing listens on port 1; ValidateConfig must not care.
	cfg := e.config("url = \"http://127.0.0.1:1/CherwellAPI\"\nclient_id = \"a\"\nusername = \"b\"\npassword = \"c\"\nci_create_type = \"Config - Computer\"\n")
	if d := p.ValidateConfig(ctx(t), cfg); d.HasErrors() {
		t.Errorf("ValidateConfig: %s", d.Error())
	}
	warn := e.config("url = \"http://127.0.0.1:1/api\"\nclient_id = \"a\"\nusername = \"b\"\npassword = \"c\"\n")
	d := p.ValidateConfig(ctx(t), warn)
	if d.HasErrors() || len(d) != 1 || d[0].Severity != sdk.SeverityWarning {
		t.Errorf("url without /CherwellAPI: %+v", d)
	}
}

func TestSchemaDescribesEverything(t *testing.T) {
	s := New().Schema()
	if _, err := s.ImpliedType(); err != nil {
		t.Fatal(err)
	}
	sensitive := map[string]bool{}
	for _, a := range s.Attributes {
		if a.Description == "" {
			t.Errorf("%s has no description", a.Name)
		}
		sensitive[a.Name] = a.Sensitive
		if a.Required && a.Default != "" {
			t.Errorf("%s is required and has a default", a.Name)
		}
	}
	if !sensitive["password"] || !sensitive["client_secret"] {
		t.Error("credentials are not sensitive")
	}
	var required []string
	for _, a := range s.Attributes {
		if a.Required {
			required = append(required, a.Name)
		}
	}
	if strings.Join(required, ",") != "url,client_id,username,password" {
		t.Errorf("required = %v", required)
	}
	if got := sdk.Capabilities(New()); len(got) != 8 {
		t.Errorf("capabilities = %v", got)
	}
}
