package dispatch

import (
	"encoding/json"
	"time"
)

// Options is the route policy stored with each delivery (store.Delivery.Options).
type Options struct {
	// Resolve resolves the ticket when the alert resolves.
	Resolve bool `json:"resolve"`
	// ReopenWithin: a fire within this time of the ticket's resolve reopens
	// it; later fires open a new ticket. Zero never reopens.
	ReopenWithin Duration `json:"reopen_within"`
	// OnRepeat is "comment" or "ignore": what a fire does to an open ticket.
	OnRepeat string `json:"on_repeat"`
	// BindCIs binds the alert's configuration items after create.
	BindCIs bool `json:"bind_cis"`
	// CreateMissingCIs lets the plugin create CIs the CMDB lacks.
	CreateMissingCIs bool `json:"create_missing_cis"`
}

// Duration marshals as a Go duration string.
type Duration time.Duration

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}
