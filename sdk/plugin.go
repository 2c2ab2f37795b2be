package sdk

import "context"

// Plugin is the contract every ITSM backend implements. Create and Resolve are
// mandatory; everything else is an optional capability interface (Reopener,
// Commenter, CIBinder, Finder, HealthChecker, ConfigValidator). The SDK derives
// the capabilities a plugin advertises from the interfaces its type implements,
// so declared and real capabilities cannot drift.
//
// Methods are called concurrently. Every error returned by an operation should
// be classified with Retryable or Permanent; an unclassified error is treated as
// permanent by the host.
type Plugin interface {
	// Info describes the plugin. It must be cheap and have no side effects.
	Info() Info
	// Schema declares the plugin's `config` block and the vendor fields a
	// route's `ticket { fields = {...} }` may set.
	Schema() Schema
	// Configure receives the decoded config block. Bad credentials or an
	// unreachable instance are reported as error diagnostics.
	Configure(ctx context.Context, req *ConfigureRequest) Diagnostics
	// Create opens an incident. It must be idempotent on req.TicketKey: the key
	// is stored in the vendor's correlation field and looked up before
	// creating. The lookup finds open incidents only: once an incident of
	// the key is resolved or closed, Create opens a new one (a key's history
	// may have been purged by the host's retention, so the key can come back).
	Create(ctx context.Context, req *CreateRequest) (*TicketRef, error)
	// Resolve resolves the incident. Resolving an already resolved or closed
	// incident succeeds and changes nothing; an unknown incident is Permanent.
	Resolve(ctx context.Context, req *ResolveRequest) error
}

// Reopener reopens a resolved incident (capability "reopen").
type Reopener interface {
	Reopen(ctx context.Context, req *ReopenRequest) error
}

// Commenter adds a work note or comment (capability "comment").
type Commenter interface {
	Comment(ctx context.Context, req *CommentRequest) error
}

// CIBinder binds a configuration item to an incident (capability "bind_ci").
type CIBinder interface {
	BindCI(ctx context.Context, req *BindCIRequest) (*CIRef, error)
}

// Finder looks an incident up by its correlation (ticket) key (capability "find").
type Finder interface {
	// Find returns (nil, nil) when no incident carries the key.
	Find(ctx context.Context, req *FindRequest) (*TicketRef, error)
}

// HealthChecker reports whether the backend is usable (capability "health").
type HealthChecker interface {
	Health(ctx context.Context) error
}

// ConfigValidator runs offline semantic checks of a config (used by
// `itsmbridge validate`); it must not contact the vendor.
type ConfigValidator interface {
	ValidateConfig(ctx context.Context, cfg Config) Diagnostics
}

// Capability names as advertised in Info.
const (
	CapCreate   = "create"
	CapResolve  = "resolve"
	CapReopen   = "reopen"
	CapComment  = "comment"
	CapBindCI   = "bind_ci"
	CapFind     = "find"
	CapHealth   = "health"
	CapValidate = "validate"
)

// Capabilities derives the capability list of p from the interfaces it implements.
func Capabilities(p Plugin) []string {
	caps := []string{CapCreate, CapResolve}
	if _, ok := p.(Reopener); ok {
		caps = append(caps, CapReopen)
	}
	if _, ok := p.(Commenter); ok {
		caps = append(caps, CapComment)
	}
	if _, ok := p.(CIBinder); ok {
		caps = append(caps, CapBindCI)
	}
	if _, ok := p.(Finder); ok {
		caps = append(caps, CapFind)
	}
	if _, ok := p.(HealthChecker); ok {
		caps = append(caps, CapHealth)
	}
	if _, ok := p.(ConfigValidator); ok {
		caps = append(caps, CapValidate)
	}
	return caps
}

// Info describes a plugin.
type Info struct {
	Name    string // e.g. "servicenow"; must equal the backend type label
	Version string // the plugin's own semver
}

// ConfigureRequest carries the decoded `config` block.
type ConfigureRequest struct {
	Config Config
	// Backend is the backend's instance name (the second HCL label), for logs.
	Backend string
}

// Ticket is what a route rendered for one delivery.
type Ticket struct {
	Title       string
	Description string
	Severity    int
	// Fields are vendor fields from the route's `ticket { fields = {...} }`,
	// checked against Schema.TicketFields at load time. Values are strings;
	// the plugin converts them to the vendor's types.
	Fields map[string]string
}

// TicketRef identifies an incident in the vendor system.
type TicketRef struct {
	ID     string // vendor primary key (sys_id, issue key, busObRecId)
	Number string // human number (INC0010001, OPS-12, 10234)
	URL    string // link a human can open
	State  string // vendor state when known, informational
}

// CreateRequest asks for an incident for TicketKey.
type CreateRequest struct {
	TicketKey string
	Alert     Alert
	Ticket    Ticket
}

// ResolveRequest asks to resolve Ref.
type ResolveRequest struct {
	Ref       TicketRef
	TicketKey string
	Alert     Alert
}

// ReopenRequest asks to reopen Ref.
type ReopenRequest struct {
	Ref       TicketRef
	TicketKey string
	Alert     Alert
}

// CommentRequest asks to add Text to Ref.
type CommentRequest struct {
	Ref       TicketRef
	TicketKey string
	Alert     Alert
	Text      string
}

// ConfigurationItem is one CI of an alert (an Azure resource).
type ConfigurationItem struct {
	ResourceID    string // lower-cased ARM id, empty when only a name is known
	Name          string
	ResourceType  string // e.g. "microsoft.compute/virtualmachines"
	Subscription  string
	ResourceGroup string
}

// BindCIRequest asks to find (or create) Item in the CMDB and link it to Ref.
type BindCIRequest struct {
	Ref           TicketRef
	TicketKey     string
	Item          ConfigurationItem
	CreateMissing bool
	// Primary is true for the first CI of an alert: vendors with a single
	// CI field on the incident set it from the primary item.
	Primary bool
}

// CIRef identifies a CMDB item.
type CIRef struct {
	ID      string
	Name    string
	Class   string
	Created bool // true when BindCI created the item
}

// FindRequest looks for the incident carrying TicketKey.
type FindRequest struct {
	TicketKey string
}
