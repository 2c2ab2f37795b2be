package config

import (
	"context"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/itsmbridge/itsmbridge/core/auth"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// Defaults of optional attributes.
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultAdminListen     = "127.0.0.1:9090"
	DefaultMaxBodyBytes    = 1 << 20
	DefaultReadTimeout     = 10 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultIdleTimeout     = 60 * time.Second
	DefaultShutdownTimeout = 30 * time.Second
	DefaultSQLitePath      = "data/itsmbridge.db"
	DefaultPluginDir       = "bin/plugins"
	DefaultMaxConcurrency  = 4
	DefaultMaxAge          = 24 * time.Hour
	DefaultBackendTimeout  = 30 * time.Second
	DefaultReopenWithin    = 24 * time.Hour
	DefaultRetention       = 30 * 24 * time.Hour
)

// Store kinds.
const (
	StoreSQLite   = "sqlite"
	StorePostgres = "postgres"
)

// Source types.
const SourceAzureMonitor = "azure_monitor"

// on_repeat values.
const (
	OnRepeatComment = "comment"
	OnRepeatIgnore  = "ignore"
)

// SchemaProvider returns the config schema a plugin declares. The host
// implements it by launching the plugin (core/pluginhost); tests use fakes.
type SchemaProvider interface {
	PluginSchema(ctx context.Context, backendType string) (sdk.Schema, error)
}

// Options tunes Load.
type Options struct {
	// Schemas, when set, decodes every backend's `config` block against the
	// schema its plugin declares and checks route ticket fields against the
	// plugin's ticket schema. When nil, `config` bodies are kept undecoded
	// (their expressions are still evaluated, to find unset env vars and
	// collect secrets).
	Schemas SchemaProvider
	// Context bounds calls to Schemas; default context.Background().
	Context context.Context
	// LookupEnv reads environment variables for env(); default os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Config is a loaded configuration. Everything in it has been checked; the
// zero values of optional settings have been replaced by their defaults.
type Config struct {
	// Dir is the directory of the configuration; relative paths in it
	// (store path, plugin_dir, file()) are resolved against Dir.
	Dir string
	// Files are the parsed files by name, for diagnostic snippets.
	Files map[string]*hcl.File

	Server    Server
	Store     Store
	PluginDir string // absolute or relative to the working directory; default <Dir>/bin/plugins
	Sources   []*Source
	Backends  []*Backend // declaration order
	Routes    []*Route   // declaration order = evaluation order

	funcs   map[string]function.Function
	secrets *secretSet
}

// Server is the `server` block.
type Server struct {
	Listen          string        // alert ingress; default 127.0.0.1:8080
	AdminListen     string        // health, metrics, admin API; default 127.0.0.1:9090
	AdminToken      string        // secret; required when AdminListen is not loopback
	MaxBodyBytes    int64         // request body limit; default 1 MiB
	ReadTimeout     time.Duration // default 10s
	WriteTimeout    time.Duration // default 10s
	IdleTimeout     time.Duration // default 60s
	ShutdownTimeout time.Duration // drain time on SIGTERM; default 30s
	// TLS makes the ingress serve HTTPS; AdminTLS the admin listener.
	// nil: plain HTTP (behind a TLS-terminating proxy, or on loopback).
	TLS, AdminTLS *TLS
}

// TLS is a `tls` or `admin_tls` block of the server block.
type TLS struct {
	// CertFile and KeyFile are PEM files (the certificate chain, the
	// private key), resolved against Config.Dir. A renewed pair written in
	// their place is picked up without a restart (core/certfile).
	CertFile, KeyFile string
	// MinVersion is tls.VersionTLS12 (default) or tls.VersionTLS13.
	MinVersion uint16
}

// Store is the `store` block.
type Store struct {
	Kind string // StoreSQLite (default) or StorePostgres
	// Path is the SQLite database file, resolved against Config.Dir;
	// default data/itsmbridge.db.
	Path string
	// DSN is the PostgreSQL connection string (secret).
	DSN string
	// MaxOpenConns bounds the connection pool (0 = driver default).
	MaxOpenConns int
	// Retention: finished history older than this is deleted (see
	// store.Purger); 0 keeps everything. Default DefaultRetention. It is at
	// least every route's reopen_within, so a resolved ticket is remembered
	// for its whole reopen window.
	Retention time.Duration
	// RetentionRange locates the retention attribute (zero when absent).
	RetentionRange hcl.Range
}

// Source is a `source "azure_monitor" NAME` block: one ingress endpoint.
type Source struct {
	Type string // SourceAzureMonitor
	Name string
	Path string // URL path, e.g. /webhooks/azure/prod
	Auth auth.Config
	// AllowedSubscriptions, when not empty, accepts only alerts whose
	// alertId is under one of these subscriptions (lower-case GUIDs).
	AllowedSubscriptions []string
	// RateLimit is the accepted requests per second (0 = unlimited) and
	// Burst the bucket size (default: RateLimit rounded up, at least 1).
	RateLimit float64
	Burst     int

	DeclRange hcl.Range
}

// BackendRef names a backend: `backend.<Type>.<Name>` in HCL.
type BackendRef struct {
	Type string `json:"type"` // plugin name, e.g. "servicenow"
	Name string `json:"name"` // instance name
}

// String renders the reference as written in HCL.
func (r BackendRef) String() string { return "backend." + r.Type + "." + r.Name }

// Backend is a `backend TYPE NAME` block: one configured plugin instance.
type Backend struct {
	Type string // plugin name → <plugin_dir>/itsmbridge-plugin-<Type>
	Name string
	// SHA256 optionally pins the plugin binary (lower-case hex).
	SHA256 string
	// MaxConcurrency bounds in-flight calls to this backend; default 4.
	MaxConcurrency int
	// RateLimit is calls per second to this backend (0 = unlimited).
	RateLimit float64
	// MaxAge is how long a retryable delivery is retried before it goes to
	// the dead-letter queue; default 24h.
	MaxAge time.Duration
	// Timeout bounds each plugin call; default 30s.
	Timeout time.Duration

	// Body is the raw `config` block body (nil when the block is absent).
	Body hcl.Body
	// Decoded is true when Body was decoded against the plugin's schema
	// (Options.Schemas was set); then Schema, Value and Config are set.
	Decoded bool
	Schema  sdk.Schema
	// Value is the decoded config, unmarked, conforming to Schema.ImpliedType().
	Value cty.Value
	// Config is Value encoded for the plugin.
	Config sdk.Config
	// SensitivePaths are the attributes to redact: those the plugin marks
	// sensitive and those whose value came from env() or file().
	SensitivePaths []cty.Path

	DeclRange hcl.Range
	cfgRange  hcl.Range // the config block's header, or DeclRange
	redact    func(string) string
}

// Ref returns the backend's reference.
func (b *Backend) Ref() BackendRef { return BackendRef{Type: b.Type, Name: b.Name} }

// Route is a `route NAME` block.
type Route struct {
	Name string
	// Match selects alerts; it evaluates to a bool against `alert`.
	Match hcl.Expression
	// To lists the backends that receive a ticket, in order.
	To []BackendRef
	// Continue keeps evaluating later routes after this one matched.
	Continue bool
	// GroupBy evaluates to a list whose values, hashed with the backend,
	// form the ticket key; nil means [alert.id].
	GroupBy hcl.Expression
	Ticket  TicketTemplate
	// Lifecycle and CMDB are copied into every delivery.
	Lifecycle Lifecycle
	CMDB      CMDB

	DeclRange hcl.Range
}

// TicketTemplate is a route's `ticket` block; nil expressions take defaults.
type TicketTemplate struct {
	Title       hcl.Expression // string; default "[SevN] <rule> on <resource>"
	Description hcl.Expression // string; default: description, alert id, link, targets, fired time
	Severity    hcl.Expression // number 0–4; default alert.severity
	Fields      []TicketField  // vendor fields, in source order
}

// TicketField is one entry of `ticket { fields = { name = value } }`.
type TicketField struct {
	Name  string
	Value hcl.Expression // evaluates to a string, number or bool
	Range hcl.Range      // the key's range
}

// Lifecycle is a route's `lifecycle` block.
type Lifecycle struct {
	// Resolve resolves the ticket when the alert resolves; default true.
	Resolve bool `json:"resolve"`
	// ReopenWithin: a fire within this window after a resolve reopens the
	// ticket; later fires open a new ticket. 0 never reopens. Default 24h.
	ReopenWithin time.Duration `json:"reopen_within"`
	// OnRepeat is what a fire does while the ticket is open:
	// OnRepeatComment (default) or OnRepeatIgnore.
	OnRepeat string `json:"on_repeat"`
}

// CMDB is a route's `cmdb` block. Without the block nothing is bound.
type CMDB struct {
	// Bind binds the alert's configuration items to the incident; default
	// true inside a cmdb block.
	Bind bool `json:"bind"`
	// CreateMissing creates CIs the CMDB lacks; default false.
	CreateMissing bool `json:"create_missing"`
}

// Functions returns the function table of expressions (shared and read-only).
func (c *Config) Functions() map[string]function.Function { return c.funcs }

// EvalContext returns an evaluation context for route expressions with
// `alert` bound to alertValue (see AlertValue).
func (c *Config) EvalContext(alertValue cty.Value) *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{"alert": alertValue},
		Functions: c.funcs,
	}
}

// Backend returns the backend ref names, or nil.
func (c *Config) Backend(ref BackendRef) *Backend {
	for _, b := range c.Backends {
		if b.Type == ref.Type && b.Name == ref.Name {
			return b
		}
	}
	return nil
}

// Source returns the source named name, or nil.
func (c *Config) Source(name string) *Source {
	for _, s := range c.Sources {
		if s.Name == name {
			return s
		}
	}
	return nil
}
