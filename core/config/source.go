package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/itsmbridge/itsmbridge/core/auth"
)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

var sourceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "path", Required: true},
		{Name: "allowed_subscriptions"},
		{Name: "rate_limit"},
		{Name: "burst"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "azure_ad"}},
}

var azureADSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "tenants", Required: true},
		{Name: "audiences", Required: true},
		{Name: "allowed_app_ids"},
		{Name: "required_roles"},
		{Name: "authority"},
		{Name: "clock_skew"},
	},
}

func (d *decoder) decodeSources(cfg *Config, blocks hcl.Blocks) {
	seenName := map[string]hcl.Range{}
	seenPath := map[string]hcl.Range{}
	for _, b := range blocks {
		if b.Type != "source" {
			continue
		}
		typ, name := b.Labels[0], b.Labels[1]
		if typ != SourceAzureMonitor {
			d.errorf(b.LabelRanges[0], "Unknown source type",
				"The only source type is %q; got %q.", SourceAzureMonitor, typ)
			continue
		}
		if !d.identifier(b, 1, "source name") || d.duplicate(seenName, fmt.Sprintf("%q", name), "source", b) {
			continue
		}
		s := &Source{Type: typ, Name: name, DeclRange: b.DefRange}
		content, diags := b.Body.Content(sourceSchema)
		d.add(diags...)
		a := content.Attributes
		if attr := d.str(a, "path", &s.Path); attr != nil && s.Path != "" {
			switch {
			case !strings.HasPrefix(s.Path, "/"):
				d.errorf(attr.Expr.Range(), "Invalid path", "A source path must start with \"/\"; got %q.", s.Path)
			default:
				if prev, dup := seenPath[s.Path]; dup {
					d.errorf(attr.Expr.Range(), "Duplicate source path", "The path %q is already used by the source at %s.", s.Path, prev)
				}
				seenPath[s.Path] = b.DefRange
			}
		}
		if attr := d.strList(a, "allowed_subscriptions", &s.AllowedSubscriptions); attr != nil {
			for i, sub := range s.AllowedSubscriptions {
				if !guidRE.MatchString(sub) {
					d.errorf(attr.Expr.Range(), "Invalid subscription id",
						"allowed_subscriptions must hold subscription ids (GUIDs); %q is not one.", sub)
				}
				s.AllowedSubscriptions[i] = strings.ToLower(sub)
			}
		}
		d.number(a, "rate_limit", &s.RateLimit)
		d.intAttr(a, "burst", 1, 1_000_000, &s.Burst)
		if s.Burst == 0 && s.RateLimit > 0 {
			s.Burst = max(1, int(s.RateLimit+0.999))
		}

		ad := d.singleBlock(content.Blocks, "azure_ad")
		if ad == nil {
			d.errorf(b.DefRange, "Missing azure_ad block",
				"A source needs an azure_ad block with the tenants and audiences whose tokens it accepts.")
		} else {
			s.Auth = d.decodeAzureAD(ad)
		}
		cfg.Sources = append(cfg.Sources, s)
	}
}

func (d *decoder) decodeAzureAD(b *hcl.Block) auth.Config {
	var c auth.Config
	content, diags := b.Body.Content(azureADSchema)
	d.add(diags...)
	a := content.Attributes
	guids := func(name string, dst *[]string) {
		attr := d.strList(a, name, dst)
		if attr == nil {
			return
		}
		if len(*dst) == 0 && a[name] != nil && (name == "tenants") {
			d.errorf(attr.Expr.Range(), "Empty list", "%s must name at least one tenant id.", name)
		}
		for _, v := range *dst {
			if !guidRE.MatchString(v) {
				d.errorf(attr.Expr.Range(), "Invalid id",
					"%s must hold GUIDs (tokens carry ids, not domain names); %q is not one.", name, v)
			}
		}
	}
	guids("tenants", &c.Tenants)
	if attr := d.strList(a, "audiences", &c.Audiences); attr != nil && len(c.Audiences) == 0 {
		d.errorf(attr.Expr.Range(), "Empty list", "audiences must name at least one accepted audience, such as \"api://itsmbridge\".")
	}
	guids("allowed_app_ids", &c.AllowedAppIDs)
	d.strList(a, "required_roles", &c.RequiredRoles)
	if attr := d.str(a, "authority", &c.Authority); attr != nil && c.Authority != "" {
		u, err := url.Parse(c.Authority)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			d.errorf(attr.Expr.Range(), "Invalid authority", "authority must be an http(s) URL such as %q; got %q.", auth.DefaultAuthority, c.Authority)
		}
		c.Authority = strings.TrimRight(c.Authority, "/")
	}
	if attr := d.duration(a, "clock_skew", &c.ClockSkew); attr != nil && c.ClockSkew > 5*time.Minute {
		d.errorf(attr.Expr.Range(), "Invalid clock_skew", "clock_skew must be at most 5m.")
	}
	return c.WithDefaults()
}
