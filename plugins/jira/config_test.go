package main

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/jira/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest"
)

func TestValidateConfig(t *testing.T) {
	const ok = "url = \"https://acme.atlassian.net\"\nusername = \"bot@acme.com\"\napi_token = \"tok\"\nproject = \"OPS\"\n"
	tests := []struct {
		name string
		src  string
		path []string // nil: valid
	}{
		{"minimal", ok, nil},
		{"bearer", "url = \"https://jira.acme.com\"\nbearer_token = \"pat\"\nproject = \"OPS\"", nil},
		{"bad url", strings.Replace(ok, "https://acme.atlassian.net", "acme", 1), []string{"url"}},
		{"ftp url", strings.Replace(ok, "https://", "ftp://", 1), []string{"url"}},
		{"no username", "url = \"https://a\"\napi_token = \"t\"\nproject = \"OPS\"", []string{"username"}},
		{"no token", "url = \"https://a\"\nusername = \"u\"\nproject = \"OPS\"", []string{"api_token"}},
		{"both credentials", ok + "bearer_token = \"pat\"", []string{"bearer_token"}},
		{"lower-case project", strings.Replace(ok, `"OPS"`, `"ops"`, 1), []string{"project"}},
		{"bad mode", ok + `mode = "portal"`, []string{"mode"}},
		{"bad correlation", ok + "correlation {\n type = \"summary\"\n}", []string{"correlation", "type"}},
		{"field correlation without field", ok + "correlation {\n type = \"field\"\n}", []string{"correlation", "field"}},
		{"property with space", ok + "correlation {\n property = \"a b\"\n}", []string{"correlation", "property"}},
		{"bad severity key", ok + `priority_map = { urgent = "High" }`, []string{"priority_map"}},
		{"Sev keys", ok + `priority_map = { Sev0 = "Highest" }`, nil},
		{"bad timeout", ok + `timeout = "soon"`, []string{"timeout"}},
		{"bad search_lag", ok + `search_lag = "-1s"`, []string{"search_lag"}},
		{"bad assets url", ok + "assets {\n api_url = \"nope\"\n}", []string{"assets", "api_url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New()
			cfg, err := plugintest.DecodeConfig(p.Schema(), tt.src)
			if err != nil {
				t.Fatal(err)
			}
			d := p.ValidateConfig(context.Background(), cfg)
			if tt.path == nil {
				if d.HasErrors() {
					t.Fatalf("unexpected errors: %s", d.Error())
				}
				return
			}
			found := false
			for _, x := range d {
				found = found || (x.Severity == sdk.SeverityError && slices.Equal(x.AttributePath, tt.path))
			}
			if !found {
				t.Fatalf("diagnostics %q lack an error on %v", d.Error(), tt.path)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := defaultConfig()
	if c.priorityFor(0) != "Highest" || c.priorityFor(4) != "Lowest" || c.priorityFor(9) != "" {
		t.Errorf("default priority map %v", c.PriorityMap)
	}
	c.PriorityMap = map[string]string{"Sev2": "Medium"}
	if c.priorityFor(2) != "Medium" {
		t.Error("Sev2 key not honoured")
	}
	for _, tt := range []struct{ url, api, want string }{
		{"https://acme.atlassian.net", "", "https://api.atlassian.com"},
		{"http://127.0.0.1:18402/", "", "http://127.0.0.1:18402"},
		{"https://acme.atlassian.net", "https://proxy/", "https://proxy"},
	} {
		c := defaultConfig()
		c.URL, c.Assets.APIURL = tt.url, tt.api
		if got := c.assetsAPIURL(); got != tt.want {
			t.Errorf("assetsAPIURL(%s, %s) = %s, want %s", tt.url, tt.api, got, tt.want)
		}
	}
	// Every attribute is described; secrets are sensitive.
	var walk func(s sdk.Schema)
	walk = func(s sdk.Schema) {
		for _, a := range s.Attributes {
			if a.Description == "" {
				t.Errorf("%s has no description", a.Name)
			}
			if strings.HasSuffix(a.Name, "token") && !a.Sensitive {
				t.Errorf("%s must be sensitive", a.Name)
			}
		}
		for _, b := range s.Blocks {
			walk(b.Nested)
		}
	}
	walk(schema())
}

func TestConfigureAgainstSite(t *testing.T) {
	f := newServer(t, emulator.Options{})
	tests := []struct {
		name   string
		extra  string
		path   []string // nil: must configure
		check  func(t *testing.T, st *state)
		isWarn bool
	}{
		{name: "minimal demo config", check: func(t *testing.T, st *state) {
			if st.mode != modeServiceDesk || st.serviceDeskID != emulator.SeedServiceDeskID || st.requestTypeID != emulator.SeedRequestTypeID ||
				st.issueTypeID != "10002" || st.assets == nil || st.assets.fieldID != emulator.SeedAssetsField || st.accountID != emulator.DefaultAccountID {
				t.Errorf("state %+v assets %+v", st, st.assets)
			}
		}},
		{name: "issue mode", extra: `mode = "issue"`, check: func(t *testing.T, st *state) {
			if st.mode != modeIssue || st.issueTypeID != "10002" {
				t.Errorf("mode %s issue type %s", st.mode, st.issueTypeID)
			}
		}},
		{name: "software project defaults to issue mode", extra: fmtProject("DEV") + `issue_type = "Task"`, check: func(t *testing.T, st *state) {
			if st.mode != modeIssue || st.issueTypeID != "10004" {
				t.Errorf("mode %s issue type %s", st.mode, st.issueTypeID)
			}
		}},
		{name: "named request type", extra: `request_type = "get it help"`, check: func(t *testing.T, st *state) {
			if st.requestTypeID != "12" || st.rtFields["labels"] {
				t.Errorf("request type %s fields %v", st.requestTypeID, st.rtFields)
			}
		}},
		{name: "field correlation", extra: "correlation {\n type = \"field\"\n field = \"Alert correlation\"\n}", check: func(t *testing.T, st *state) {
			if st.corrField.ID != emulator.SeedCorrelationField || st.corrField.Schema.CustomID != 10050 {
				t.Errorf("correlation field %+v", st.corrField)
			}
		}},
		{name: "field correlation by cf[N]", extra: "correlation {\n type = \"field\"\n field = \"cf[10050]\"\n}"},
		{name: "wrong token", extra: "url = \"" + f.srv.URL + "\"\nusername = \"sandbox\"\napi_token = \"wrong\"\nproject = \"OPS\"", path: []string{"api_token"}},
		{name: "wrong bearer", extra: "url = \"" + f.srv.URL + "\"\nbearer_token = \"wrong\"\nproject = \"OPS\"", path: []string{"bearer_token"}},
		{name: "bearer", extra: "url = \"" + f.srv.URL + "\"\nbearer_token = \"sandbox\"\nproject = \"OPS\""},
		{name: "email login", extra: "url = \"" + f.srv.URL + "\"\nusername = \"sandbox@example.com\"\napi_token = \"sandbox\"\nproject = \"OPS\""},
		{name: "unknown project", extra: fmtProject("NOPE"), path: []string{"project"}},
		{name: "servicedesk on a software project", extra: fmtProject("DEV") + `mode = "servicedesk"`, path: []string{"mode"}},
		{name: "unknown request type", extra: `request_type = "Order a pizza"`, path: []string{"request_type"}},
		{name: "unknown issue type", extra: "mode = \"issue\"\nissue_type = \"Epic\"", path: []string{"issue_type"}},
		{name: "unknown priority", extra: `priority_map = { "0" = "Blocker" }`, path: []string{"priority_map"}},
		{name: "correlation field not text", extra: "correlation {\n type = \"field\"\n field = \"Impact\"\n}", path: []string{"correlation", "field"}},
		{name: "unknown correlation field", extra: "correlation {\n type = \"field\"\n field = \"Nope\"\n}", path: []string{"correlation", "field"}},
		{name: "unknown extra field", extra: `fields = { Colour = "red" }`, path: []string{"fields"}},
		{name: "explicit bad object type", extra: "assets {\n object_type = \"Servers\"\n}", path: []string{"assets", "object_type"}},
		{name: "explicit bad assets field", extra: "assets {\n field = \"Impact\"\n}", path: []string{"assets", "field"}},
		{name: "unreachable", extra: "url = \"http://127.0.0.1:1\"\nusername = \"sandbox\"\napi_token = \"sandbox\"\nproject = \"OPS\"\ntimeout = \"2s\"", path: []string{"url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New()
			d := f.configure(p, tt.extra)
			if tt.path == nil {
				if d.HasErrors() {
					t.Fatalf("Configure: %s", d.Error())
				}
				if tt.check != nil {
					tt.check(t, p.st)
				}
				return
			}
			if !d.HasErrors() {
				t.Fatalf("accepted; want an error on %v", tt.path)
			}
			found := false
			for _, x := range d {
				found = found || (x.Severity == sdk.SeverityError && slices.Equal(x.AttributePath, tt.path))
			}
			if !found {
				t.Errorf("errors %q lack path %v", d.Error(), tt.path)
			}
			if strings.Contains(d.Error(), "wrong") && tt.name == "wrong token" {
				t.Errorf("diagnostics leak the token: %s", d.Error())
			}
		})
	}
	// Operations before Configure are permanent errors.
	if _, err := New().Create(context.Background(), createReq("k")); err == nil || sdk.IsRetryable(err) {
		t.Errorf("Create before Configure: %v", err)
	}
}

func fmtProject(key string) string { return "project = \"" + key + "\"\n" }
