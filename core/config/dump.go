package config

import (
	"math/big"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Dump is a JSON-ready view of a Config with every secret replaced by
// "(sensitive)". Expressions are shown as written in the file (so env("X")
// appears, never its value). Used by `itsmbridge validate -dump` and the
// admin console.
type Dump struct {
	Server    DumpServer    `json:"server"`
	Store     DumpStore     `json:"store"`
	PluginDir string        `json:"plugin_dir"`
	Sources   []DumpSource  `json:"sources"`
	Backends  []DumpBackend `json:"backends"`
	Routes    []DumpRoute   `json:"routes"`
}

// DumpServer is the server block in a Dump.
type DumpServer struct {
	Listen          string `json:"listen"`
	AdminListen     string `json:"admin_listen"`
	AdminToken      string `json:"admin_token,omitempty"`
	MaxBodyBytes    int64  `json:"max_body_bytes"`
	ReadTimeout     string `json:"read_timeout"`
	WriteTimeout    string `json:"write_timeout"`
	IdleTimeout     string `json:"idle_timeout"`
	ShutdownTimeout string `json:"shutdown_timeout"`
}

// DumpStore is the store block in a Dump.
type DumpStore struct {
	Kind         string `json:"kind"`
	Path         string `json:"path,omitempty"`
	DSN          string `json:"dsn,omitempty"`
	MaxOpenConns int    `json:"max_open_conns,omitempty"`
	Retention    string `json:"retention"`
}

// DumpSource is a source block in a Dump.
type DumpSource struct {
	Type                 string   `json:"type"`
	Name                 string   `json:"name"`
	Path                 string   `json:"path"`
	Tenants              []string `json:"tenants"`
	Audiences            []string `json:"audiences"`
	AllowedAppIDs        []string `json:"allowed_app_ids"`
	RequiredRoles        []string `json:"required_roles"`
	Authority            string   `json:"authority"`
	ClockSkew            string   `json:"clock_skew"`
	AllowedSubscriptions []string `json:"allowed_subscriptions"`
	RateLimit            float64  `json:"rate_limit,omitempty"`
	Burst                int      `json:"burst,omitempty"`
}

// DumpBackend is a backend block in a Dump. Config is the decoded config with
// sensitive attributes redacted, or the source text when not decoded.
type DumpBackend struct {
	Type           string  `json:"type"`
	Name           string  `json:"name"`
	SHA256         string  `json:"sha256,omitempty"`
	MaxConcurrency int     `json:"max_concurrency"`
	RateLimit      float64 `json:"rate_limit,omitempty"`
	MaxAge         string  `json:"max_age"`
	Timeout        string  `json:"timeout"`
	Config         any     `json:"config,omitempty"`
}

// DumpRoute is a route block in a Dump.
type DumpRoute struct {
	Name      string            `json:"name"`
	Match     string            `json:"match"`
	To        []string          `json:"to"`
	Continue  bool              `json:"continue"`
	GroupBy   string            `json:"group_by,omitempty"`
	Title     string            `json:"title,omitempty"`
	Desc      string            `json:"description,omitempty"`
	Severity  string            `json:"severity,omitempty"`
	Fields    map[string]string `json:"fields,omitempty"`
	Resolve   bool              `json:"resolve"`
	Reopen    string            `json:"reopen_within"`
	OnRepeat  string            `json:"on_repeat"`
	CMDBBind  bool              `json:"cmdb_bind"`
	CMDBCreat bool              `json:"cmdb_create_missing"`
}

// Dump returns the redacted view of c.
func (c *Config) Dump() Dump {
	r := c.Redact
	secret := func(s string) string {
		if s == "" {
			return ""
		}
		return Redacted
	}
	rl := func(ss []string) []string {
		out := make([]string, len(ss))
		for i, s := range ss {
			out[i] = r(s)
		}
		return out
	}
	d := Dump{
		Server: DumpServer{
			Listen: r(c.Server.Listen), AdminListen: r(c.Server.AdminListen), AdminToken: secret(c.Server.AdminToken),
			MaxBodyBytes: c.Server.MaxBodyBytes, ReadTimeout: c.Server.ReadTimeout.String(), WriteTimeout: c.Server.WriteTimeout.String(),
			IdleTimeout: c.Server.IdleTimeout.String(), ShutdownTimeout: c.Server.ShutdownTimeout.String(),
		},
		Store:     DumpStore{Kind: c.Store.Kind, Path: r(c.Store.Path), DSN: secret(c.Store.DSN), MaxOpenConns: c.Store.MaxOpenConns, Retention: c.Store.Retention.String()},
		PluginDir: r(c.PluginDir),
		Sources:   []DumpSource{},
		Backends:  []DumpBackend{},
		Routes:    []DumpRoute{},
	}
	for _, s := range c.Sources {
		d.Sources = append(d.Sources, DumpSource{
			Type: s.Type, Name: s.Name, Path: r(s.Path),
			Tenants: rl(s.Auth.Tenants), Audiences: rl(s.Auth.Audiences), AllowedAppIDs: rl(s.Auth.AllowedAppIDs),
			RequiredRoles: rl(s.Auth.RequiredRoles), Authority: r(s.Auth.Authority), ClockSkew: s.Auth.ClockSkew.String(),
			AllowedSubscriptions: rl(s.AllowedSubscriptions), RateLimit: s.RateLimit, Burst: s.Burst,
		})
	}
	for _, b := range c.Backends {
		db := DumpBackend{
			Type: b.Type, Name: b.Name, SHA256: b.SHA256, MaxConcurrency: b.MaxConcurrency, RateLimit: b.RateLimit,
			MaxAge: b.MaxAge.String(), Timeout: b.Timeout.String(),
		}
		switch {
		case b.Decoded:
			db.Config = redactedGo(b.Value, nil, b.SensitivePaths, r)
		case b.Body != nil:
			db.Config = r(c.bodyText(b.cfgRange, b.Body))
		}
		d.Backends = append(d.Backends, db)
	}
	for _, rt := range c.Routes {
		dr := DumpRoute{
			Name: rt.Name, Match: r(c.exprText(rt.Match)), Continue: rt.Continue, GroupBy: r(c.exprText(rt.GroupBy)),
			Title: r(c.exprText(rt.Ticket.Title)), Desc: r(c.exprText(rt.Ticket.Description)), Severity: r(c.exprText(rt.Ticket.Severity)),
			Resolve: rt.Lifecycle.Resolve, Reopen: rt.Lifecycle.ReopenWithin.String(), OnRepeat: rt.Lifecycle.OnRepeat,
			CMDBBind: rt.CMDB.Bind, CMDBCreat: rt.CMDB.CreateMissing,
		}
		for _, to := range rt.To {
			dr.To = append(dr.To, to.String())
		}
		if len(rt.Ticket.Fields) > 0 {
			dr.Fields = map[string]string{}
			for _, f := range rt.Ticket.Fields {
				dr.Fields[f.Name] = r(c.exprText(f.Value))
			}
		}
		d.Routes = append(d.Routes, dr)
	}
	return d
}

// exprText returns the source text of e, or "".
func (c *Config) exprText(e hcl.Expression) string {
	if e == nil {
		return ""
	}
	rng := e.Range()
	f := c.Files[rng.Filename]
	if f == nil || rng.End.Byte > len(f.Bytes) {
		return ""
	}
	return string(rng.SliceBytes(f.Bytes))
}

// bodyText returns the text of an undecoded body: from its config block's
// header to the end of the body.
func (c *Config) bodyText(header hcl.Range, body hcl.Body) string {
	type ranged interface{ Range() hcl.Range }
	rb, ok := body.(ranged)
	if !ok {
		return ""
	}
	full := hcl.RangeBetween(header, rb.Range())
	f := c.Files[full.Filename]
	if f == nil || full.End.Byte > len(f.Bytes) {
		return ""
	}
	return string(full.SliceBytes(f.Bytes))
}

// redactedGo converts v into plain Go values for JSON, replacing values at
// sensitive paths (and secrets in any string) with "(sensitive)".
func redactedGo(v cty.Value, path cty.Path, sensitive []cty.Path, r func(string) string) any {
	for _, p := range sensitive {
		if p.Equals(path) {
			if v.IsNull() {
				return nil
			}
			return Redacted
		}
	}
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return r(v.AsString())
	case ty == cty.Bool:
		return v.True()
	case ty == cty.Number:
		f, acc := v.AsBigFloat().Float64()
		if acc == big.Exact {
			return f
		}
		return v.AsBigFloat().String()
	case ty.IsObjectType() || ty.IsMapType():
		out := map[string]any{}
		keys := []string{}
		for k := range v.AsValueMap() { // sorted for a stable dump
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m := v.AsValueMap()
		for _, k := range keys {
			step := path.Copy().GetAttr(k)
			if ty.IsMapType() {
				step = path.Copy().Index(cty.StringVal(k))
			}
			out[k] = redactedGo(m[k], step, sensitive, r)
		}
		return out
	case v.CanIterateElements():
		var out []any
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			_, ev := it.Element()
			out = append(out, redactedGo(ev, path.Copy().IndexInt(i), sensitive, r))
		}
		return out
	}
	return nil
}
