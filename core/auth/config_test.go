package auth

import (
	"strings"
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{ClockSkew: time.Hour}.WithDefaults()
	if c.Authority != DefaultAuthority || c.ClockSkew != 5*time.Minute ||
		len(c.AllowedAppIDs) != 1 || c.AllowedAppIDs[0] != AzNSAppID ||
		len(c.RequiredRoles) != 1 || c.RequiredRoles[0] != RoleSecureWebhook {
		t.Fatalf("defaults: %+v", c)
	}
	if c := (Config{ClockSkew: time.Minute}).WithDefaults(); c.ClockSkew != time.Minute {
		t.Fatalf("skew %s overridden", c.ClockSkew)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Tenants: []string{tenantA}, Audiences: []string{audURI}}
	cases := []struct {
		name    string
		mod     func(*Config)
		wantErr string // substring; "" = valid
	}{
		{"minimal", func(*Config) {}, ""},
		{"sandbox authority on loopback", func(c *Config) { c.Authority = "http://127.0.0.1:8081/" }, ""},
		{"localhost", func(c *Config) { c.Authority = "http://localhost:8081" }, ""},
		{"sovereign cloud", func(c *Config) { c.Authority = "https://login.chinacloudapi.cn" }, ""},
		{"no tenant", func(c *Config) { c.Tenants = nil }, "tenants: at least one"},
		{"tenant by name", func(c *Config) { c.Tenants = []string{"contoso.onmicrosoft.com"} }, "not a tenant id"},
		{"common", func(c *Config) { c.Tenants = []string{"common"} }, "not a tenant id"},
		{"no audience", func(c *Config) { c.Audiences = nil }, "audiences: at least one"},
		{"blank audience", func(c *Config) { c.Audiences = []string{" "} }, "empty audience"},
		{"bad app id", func(c *Config) { c.AllowedAppIDs = []string{"azns"} }, "allowed_app_ids"},
		{"blank role", func(c *Config) { c.RequiredRoles = []string{""} }, "required_roles"},
		{"http off loopback", func(c *Config) { c.Authority = "http://login.example.com" }, "only on loopback"},
		{"not a URL", func(c *Config) { c.Authority = "login.microsoftonline.com" }, "authority"},
		{"query in authority", func(c *Config) { c.Authority = "https://login.microsoftonline.com/?x=1" }, "authority"},
		{"ftp", func(c *Config) { c.Authority = "ftp://login.microsoftonline.com" }, "scheme"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate = %v, want %q", err, tc.wantErr)
			}
			v, nerr := NewVerifier(c)
			if (nerr == nil) != (tc.wantErr == "") {
				t.Fatalf("NewVerifier error %v", nerr)
			}
			if v != nil {
				v.Close()
			}
		})
	}
}

func TestConfigValidateReportsAll(t *testing.T) {
	err := Config{}.Validate()
	if err == nil || !strings.Contains(err.Error(), "tenants") || !strings.Contains(err.Error(), "audiences") {
		t.Fatalf("Validate() = %v, want both tenants and audiences reported", err)
	}
}
