package store

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Validate checks what every implementation requires of an IngestRecord.
func (r IngestRecord) Validate() error {
	if r.Alert.DedupKey == "" {
		return fmt.Errorf("%w: alert has no dedup_key", ErrInvalid)
	}
	for i, d := range r.Deliveries {
		if err := d.validate(); err != nil {
			return fmt.Errorf("delivery %d: %w", i, err)
		}
	}
	return nil
}

func (d NewDelivery) validate() error {
	switch {
	case d.Backend.Type == "" || d.Backend.Name == "":
		return fmt.Errorf("%w: backend type and name are required", ErrInvalid)
	case d.TicketKey == "":
		return fmt.Errorf("%w: ticket key is required", ErrInvalid)
	case d.Event != EventFired && d.Event != EventResolved:
		return fmt.Errorf("%w: event %q is neither %q nor %q", ErrInvalid, d.Event, EventFired, EventResolved)
	}
	for name, raw := range map[string]json.RawMessage{"ticket": d.Ticket, "options": d.Options} {
		if len(raw) > 0 && !json.Valid(raw) {
			return fmt.Errorf("%w: %s is not valid JSON", ErrInvalid, name)
		}
	}
	return nil
}

// Validate checks a ticket before it is written.
func (t Ticket) Validate() error {
	switch {
	case t.Backend.Type == "" || t.Backend.Name == "":
		return fmt.Errorf("%w: ticket backend type and name are required", ErrInvalid)
	case t.Key == "":
		return fmt.Errorf("%w: ticket key is required", ErrInvalid)
	case t.Generation < 1:
		return fmt.Errorf("%w: ticket generation %d, want ≥ 1", ErrInvalid, t.Generation)
	case t.State != TicketOpen && t.State != TicketResolved:
		return fmt.Errorf("%w: ticket state %q is neither %q nor %q", ErrInvalid, t.State, TicketOpen, TicketResolved)
	}
	for _, b := range t.CIBindings {
		if b.Item == "" {
			return fmt.Errorf("%w: CI binding without item", ErrInvalid)
		}
	}
	return nil
}

// Resolve returns the effective limit and the id listings continue below
// (0 for the first page). Implementations page by descending id.
func (p PageRequest) Resolve() (limit int, before int64, err error) {
	limit = p.Limit
	switch {
	case limit <= 0:
		limit = DefaultPageLimit
	case limit > MaxPageLimit:
		limit = MaxPageLimit
	}
	if p.Cursor == "" {
		return limit, 0, nil
	}
	before, err = strconv.ParseInt(p.Cursor, 10, 64)
	if err != nil || before <= 0 {
		return 0, 0, fmt.Errorf("%w: bad page cursor %q", ErrInvalid, p.Cursor)
	}
	return limit, before, nil
}

// NextCursor returns Page.Next for a page of limit items whose last (lowest)
// id is lastID: empty when the page was not full.
func NextCursor(n, limit int, lastID int64) string {
	if n < limit {
		return ""
	}
	return strconv.FormatInt(lastID, 10)
}

// Valid reports whether e is EventFired or EventResolved.
func (e Event) Valid() bool { return e == EventFired || e == EventResolved }
