package auth

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// AzNSAppID is the app id of Microsoft's first-party "AzNS AAD Webhook"
// application, which obtains the tokens Azure Monitor action groups send.
const AzNSAppID = "461e8683-5575-4561-ac7f-899cc907d62a"

// RoleSecureWebhook is the app role an action group's token must carry.
const RoleSecureWebhook = "ActionGroupsSecureWebhook"

// DefaultAuthority is the public-cloud Entra ID authority.
const DefaultAuthority = "https://login.microsoftonline.com"

// Config is the `azure_ad` block of a source (DESIGN §4), already decoded by
// core/config. Zero values take the documented defaults (see WithDefaults).
type Config struct {
	Tenants       []string      // allowed tenant ids (GUIDs)
	Audiences     []string      // accepted `aud` values
	AllowedAppIDs []string      // accepted appid/azp; default [AzNSAppID]
	RequiredRoles []string      // roles the token must carry; default [RoleSecureWebhook]
	Authority     string        // default DefaultAuthority
	ClockSkew     time.Duration // tolerance on exp/nbf; default 5m, at most 5m
}

// WithDefaults returns c with defaults applied.
func (c Config) WithDefaults() Config {
	if len(c.AllowedAppIDs) == 0 {
		c.AllowedAppIDs = []string{AzNSAppID}
	}
	if len(c.RequiredRoles) == 0 {
		c.RequiredRoles = []string{RoleSecureWebhook}
	}
	if c.Authority == "" {
		c.Authority = DefaultAuthority
	}
	if c.ClockSkew <= 0 || c.ClockSkew > 5*time.Minute {
		c.ClockSkew = 5 * time.Minute
	}
	return c
}

// Validate reports every problem in c (after WithDefaults), joined; nil when c
// is usable. Messages name the HCL attribute so core/config can attach them
// to it.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	if len(c.Tenants) == 0 {
		errs = append(errs, errors.New("tenants: at least one tenant id is required"))
	}
	for _, t := range c.Tenants {
		if !isGUID(t) {
			errs = append(errs, fmt.Errorf("tenants: %q is not a tenant id (a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47)", t))
		}
	}
	if len(c.Audiences) == 0 {
		errs = append(errs, errors.New("audiences: at least one audience is required (the App ID URI and/or the client id of the app registration)"))
	}
	for _, a := range c.Audiences {
		if strings.TrimSpace(a) == "" {
			errs = append(errs, errors.New("audiences: empty audience"))
		}
	}
	for _, id := range c.AllowedAppIDs {
		if !isGUID(id) {
			errs = append(errs, fmt.Errorf("allowed_app_ids: %q is not an application id (GUID)", id))
		}
	}
	for _, r := range c.RequiredRoles {
		if strings.TrimSpace(r) == "" {
			errs = append(errs, errors.New("required_roles: empty role"))
		}
	}
	if _, err := normalizeAuthority(c.Authority); err != nil {
		errs = append(errs, fmt.Errorf("authority: %w", err))
	}
	return errors.Join(errs...)
}

// normalizeAuthority checks an authority URL and returns it without a
// trailing slash. Plain http is allowed only on loopback (sandbox, tests).
func normalizeAuthority(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %w", s, err)
	}
	if u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("%q must be a plain absolute URL such as %s", s, DefaultAuthority)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("%q: plain http is allowed only on loopback", s)
		}
	default:
		return "", fmt.Errorf("%q: scheme must be https", s)
	}
	return strings.TrimRight(s, "/"), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isGUID reports whether s looks like 8-4-4-4-12 hex digits.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
