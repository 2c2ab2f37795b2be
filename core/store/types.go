package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// BackendID names one configured backend: `backend "<Type>" "<Name>"`.
type BackendID struct {
	Type string // plugin name, e.g. "servicenow"
	Name string // instance name, e.g. "prod"
}

// String returns "type.name", the form used in logs, metrics and the CLI.
func (b BackendID) String() string { return b.Type + "." + b.Name }

// IsZero reports whether b is unset (used as "any backend" in filters).
func (b BackendID) IsZero() bool { return b.Type == "" && b.Name == "" }

// ParseBackendID parses "type.name" as printed by BackendID.String.
func ParseBackendID(s string) (BackendID, error) {
	t, n, ok := strings.Cut(s, ".")
	if !ok || t == "" || n == "" {
		return BackendID{}, fmt.Errorf("%w: backend %q: want TYPE.NAME, e.g. servicenow.prod", ErrInvalid, s)
	}
	return BackendID{Type: t, Name: n}, nil
}

// Event is what happened to the alert a delivery carries.
type Event string

// Events, equal to the alert statuses.
const (
	EventFired    Event = alert.StatusFired
	EventResolved Event = alert.StatusResolved
)

// IngestRecord is one received, normalized and routed alert.
type IngestRecord struct {
	// Source is the name of the `source` block that received the alert.
	Source string
	// Alert is the normalized alert. Alert.DedupKey is required: it is what
	// makes a later record a duplicate.
	Alert alert.Alert
	// Raw is the payload exactly as received.
	Raw []byte
	// ReceivedAt defaults to the store's clock when zero.
	ReceivedAt time.Time
	// Deliveries are the routed operations, one per (route, backend). None
	// means the alert matched no route: it is stored as unrouted and counted.
	Deliveries []NewDelivery
}

// NewDelivery is one pending operation created by Ingest.
type NewDelivery struct {
	Route     string    // name of the route that matched
	Backend   BackendID // required
	TicketKey string    // required: the route's group_by key; ordering is per (Backend, TicketKey)
	Event     Event     // EventFired or EventResolved
	// Ticket is the rendered ticket (JSON) and Options the route's lifecycle
	// and cmdb options (JSON); both are opaque to the store and returned as
	// given. Empty means JSON null.
	Ticket  json.RawMessage
	Options json.RawMessage
}

// IngestResult reports what Ingest did.
type IngestResult struct {
	// AlertID is the stored alert's id: the new one, or for a duplicate the
	// one stored first (0 in the rare case the first copy's id could not be
	// read back).
	AlertID int64
	// Duplicate is true when the dedup key was already stored; then nothing
	// was written and Deliveries is empty.
	Duplicate bool
	// Deliveries are the ids of the created deliveries, in the order given.
	Deliveries []int64
}

// DeliveryState is the state of a delivery.
type DeliveryState string

// Delivery states. Pending and Leased together are "unfinished": only an
// unfinished delivery blocks the later deliveries of its ticket key.
const (
	// StatePending: waiting for its next attempt (or due now), not leased.
	// A delivery whose lease expired is reported as pending again.
	StatePending DeliveryState = "pending"
	// StateLeased: claimed by a worker whose lease has not expired.
	StateLeased DeliveryState = "leased"
	// StateDone: completed; Outcome says what was done.
	StateDone DeliveryState = "done"
	// StateDead: dead-lettered; waits for an operator's replay or drop.
	StateDead DeliveryState = "dead"
)

// Valid reports whether s is one of the defined states.
func (s DeliveryState) Valid() bool {
	switch s {
	case StatePending, StateLeased, StateDone, StateDead:
		return true
	}
	return false
}

// Delivery is one operation for one backend and ticket key.
type Delivery struct {
	ID        int64
	AlertID   int64
	Route     string
	Backend   BackendID
	TicketKey string
	Event     Event
	Ticket    json.RawMessage // rendered ticket, as given to Ingest
	Options   json.RawMessage // lifecycle/cmdb options, as given to Ingest
	// Alert is the normalized alert JSON. Claim fills it so a worker needs no
	// second read; listings leave it nil.
	Alert json.RawMessage

	State    DeliveryState
	Attempts int // attempts finished so far (Retry, Complete, DeadLetter count one each; Release does not)
	// NextAttemptAt is when the delivery is due (pending) or was last due.
	NextAttemptAt time.Time
	// EnqueuedAt is when the delivery last became pending from outside the
	// queue: at ingest, or at its last ReplayDeadLetter. A dispatcher measures
	// a delivery's maximum age from here, so a replay gets a fresh budget.
	EnqueuedAt time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time // done or dead-lettered; zero otherwise

	// LeaseOwner and LeaseExpiresAt describe the current or last lease
	// (empty/zero when never claimed or released).
	LeaseOwner     string
	LeaseExpiresAt time.Time

	LastError  string // error of the last failed attempt
	DeadReason string // why it was dead-lettered (StateDead)
	Outcome    string // Outcome.Action recorded by Complete (StateDone)
}

// Outcome is what a completed delivery did.
type Outcome struct {
	// Action is recorded on the delivery for operators, e.g. "created",
	// "commented", "resolved", "reopened", "ignored", "recorded".
	Action string
	// Ticket, when set, is upserted exactly as by PutTicket in the same
	// transaction that completes the delivery: the ticket state and the
	// delivery's completion are never out of step.
	Ticket *Ticket
}

// TicketState is the bridge's view of a ticket.
type TicketState string

// Ticket states.
const (
	TicketOpen     TicketState = "open"
	TicketResolved TicketState = "resolved"
)

// Ticket is the ticket a backend holds for one ticket key and generation.
// A ticket key's first ticket is generation 1; when a fire arrives after the
// reopen window of a resolved ticket the dispatcher creates a new ticket with
// the next generation. GetTicket returns the highest generation.
type Ticket struct {
	// ID is assigned by the store (stable per backend, key and generation).
	ID         int64
	Backend    BackendID
	Key        string
	Generation int // ≥ 1
	Ref        sdk.TicketRef
	State      TicketState
	// CreatedAt defaults to now on first write and is kept on later writes.
	CreatedAt time.Time
	// ResolvedAt is when the ticket was last resolved (zero if never).
	ResolvedAt time.Time
	// UpdatedAt is set by the store on every write.
	UpdatedAt time.Time
	// Reopens counts how often this generation was reopened.
	Reopens int
	// LastDeliveryID is the delivery that last changed the ticket. A
	// retried delivery that finds its own id here knows its main operation
	// already happened (e.g. create done, CMDB binding still to do).
	LastDeliveryID int64
	// CIBindings are the configuration items bound to the ticket, ordered by
	// item. PutTicket adds or replaces the bindings it is given (by Item) and
	// never removes any.
	CIBindings []CIBinding
}

// CIBinding is one configuration item linked to a ticket.
type CIBinding struct {
	Item    string    // the alert's configuration item (e.g. a lower-cased ARM id)
	Ref     sdk.CIRef // what the CMDB returned
	BoundAt time.Time // defaults to now
}

// QuarantineRecord is a payload that is valid JSON but of no known schema.
type QuarantineRecord struct {
	Source     string
	Raw        []byte
	Reason     string    // why no parser accepted it
	ReceivedAt time.Time // defaults to now
}

// QuarantineItem is a stored QuarantineRecord.
type QuarantineItem struct {
	ID         int64
	Source     string
	Reason     string
	ReceivedAt time.Time
	Raw        []byte // nil in listings; set by GetQuarantine
	Size       int    // len(Raw)
}

// AlertRecord is a stored alert.
type AlertRecord struct {
	ID           int64
	DedupKey     string
	AlertID      string // the alert's own id (alert.Alert.ID), shared by its fired and resolved records
	Source       string
	Schema       string
	Status       string
	Severity     int
	Rule         string
	Subscription string
	ResourceName string
	ReceivedAt   time.Time
	// Deliveries is how many deliveries ingest created; 0 means unrouted.
	Deliveries int
	// Normalized (alert JSON) and Raw (as received) are set by GetAlert and
	// nil in listings.
	Normalized json.RawMessage
	Raw        []byte
}

// Unrouted reports whether the alert matched no route.
func (a AlertRecord) Unrouted() bool { return a.Deliveries == 0 }

// PageRequest asks for one page of a listing. Listings return newest first.
type PageRequest struct {
	// Limit defaults to DefaultPageLimit and is capped at MaxPageLimit.
	Limit int
	// Cursor is Page.Next of the previous page; empty for the first page.
	Cursor string
}

// Paging limits.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 1000
)

// Page is one page of a listing.
type Page[T any] struct {
	Items []T
	// Next is the cursor of the following page; empty on the last page.
	Next string
}

// AlertFilter selects alerts; zero fields match everything.
type AlertFilter struct {
	Source       string
	Status       string // "fired" or "resolved"
	Severity     []int  // any of
	Rule         string
	Subscription string
	AlertID      string    // the alert's own id: its fired and resolved records
	Since        time.Time // received at or after
	Until        time.Time // received before
	Unrouted     bool      // only alerts that matched no route
}

// DeliveryFilter selects deliveries; zero fields match everything.
type DeliveryFilter struct {
	State     DeliveryState
	Backend   BackendID
	AlertID   int64
	TicketKey string
	Route     string
}

// TicketFilter selects tickets (every generation); zero fields match everything.
type TicketFilter struct {
	Backend BackendID
	Key     string
	State   TicketState
}

// QuarantineFilter selects quarantined payloads.
type QuarantineFilter struct {
	Source string
}

// Stats summarises the store for metrics and the admin API.
type Stats struct {
	Alerts      int64 // stored alerts
	Unrouted    int64 // alerts that matched no route
	Quarantined int64 // payloads in quarantine
	// Deliveries by state (Pending excludes Leased).
	Pending, Leased, Done, Dead int64
	// Backends lists every backend with unfinished or dead deliveries,
	// configured or not, ordered by type and name.
	Backends []BackendStats
}

// BackendStats is the queue of one backend.
type BackendStats struct {
	Backend BackendID
	Pending int64 // unfinished and not leased
	Leased  int64 // in flight
	Dead    int64 // dead letters
	// OldestEnqueuedAt is the EnqueuedAt of the oldest unfinished delivery
	// (zero when none): queue age = now - OldestEnqueuedAt.
	OldestEnqueuedAt time.Time
}

// Depth is the backend's queue depth: unfinished deliveries.
func (b BackendStats) Depth() int64 { return b.Pending + b.Leased }
