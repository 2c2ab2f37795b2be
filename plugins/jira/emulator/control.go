package emulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Ticket is a read-only view of an issue for tests and the control surface.
type Ticket struct {
	ID             string                     `json:"id"`
	Key            string                     `json:"key"`
	Project        string                     `json:"project"`
	IssueType      string                     `json:"issue_type"`
	RequestTypeID  string                     `json:"request_type_id,omitempty"`
	Summary        string                     `json:"summary"`
	Description    string                     `json:"description"`
	Status         string                     `json:"status"`
	StatusCategory string                     `json:"status_category"`
	Resolution     string                     `json:"resolution,omitempty"`
	Priority       string                     `json:"priority,omitempty"`
	Labels         []string                   `json:"labels"`
	Fields         map[string]json.RawMessage `json:"fields,omitempty"`
	Properties     map[string]json.RawMessage `json:"properties,omitempty"`
	Comments       []TicketComment            `json:"comments,omitempty"`
}

// TicketComment is a comment in plain text.
type TicketComment struct {
	Text   string `json:"text"`
	Public bool   `json:"public"`
}

func (e *Emulator) ticket(is *issue) Ticket {
	st := e.statuses[is.StatusID]
	t := Ticket{
		ID: strconv.Itoa(is.ID), Key: is.Key, Project: e.projects[is.ProjectID].Key, IssueType: e.issueTypes[is.IssueTypeID].Name,
		RequestTypeID: is.RequestTypeID, Summary: is.Summary, Description: adfText(is.Description),
		Status: st.Name, StatusCategory: st.Category.Key, Labels: append([]string{}, is.Labels...),
		Fields: map[string]json.RawMessage{}, Properties: map[string]json.RawMessage{},
	}
	if r, ok := e.resolutionByID(is.ResolutionID); ok {
		t.Resolution = r.Name
	}
	if p, ok := e.priorityByID(is.PriorityID); ok {
		t.Priority = p.Name
	}
	for k, v := range is.Custom {
		t.Fields[k] = v
	}
	for k, v := range is.Properties {
		t.Properties[k] = v
	}
	for _, c := range is.Comments {
		t.Comments = append(t.Comments, TicketComment{Text: adfText(c.Body), Public: c.Public})
	}
	return t
}

// carries reports whether is carries correlation key k: as a label, as the
// value of a text custom field, or as a string anywhere in an issue property.
func carries(is *issue, k string) bool {
	if slices.Contains(is.Labels, k) {
		return true
	}
	for _, v := range is.Custom {
		var s string
		if json.Unmarshal(v, &s) == nil && s == k {
			return true
		}
	}
	for _, v := range is.Properties {
		if slices.Contains(propertyLeaves(v), k) {
			return true
		}
	}
	return false
}

// propertyLeaves lists every string leaf of a JSON value.
func propertyLeaves(raw json.RawMessage) []string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case []any:
			for _, el := range x {
				walk(el)
			}
		case map[string]any:
			for _, el := range x {
				walk(el)
			}
		}
	}
	walk(v)
	return out
}

// Tickets lists the issues carrying correlation key k (all issues when k is
// empty), oldest first, read from the database (no search lag).
func (e *Emulator) Tickets(k string) []Ticket {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Ticket
	for _, is := range e.sortedIssues() {
		if k == "" || carries(is, k) {
			out = append(out, e.ticket(is))
		}
	}
	return out
}

// CountTickets counts the issues carrying correlation key k.
func (e *Emulator) CountTickets(k string) int { return len(e.Tickets(k)) }

// Ticket returns the issue with the given key or id.
func (e *Emulator) Ticket(idOrKey string) (Ticket, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	is := e.lookupIssue(idOrKey)
	if is == nil {
		return Ticket{}, false
	}
	return e.ticket(is), true
}

// Reset drops all issues, objects, properties, faults and calls and reseeds.
// The search lag is kept.
func (e *Emulator) Reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
	e.calls = nil
	e.seed()
}

// InjectFault adds a fault; faults are tried in the order added.
func (e *Emulator) InjectFault(f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, &f)
}

// ClearFaults removes every fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// Calls returns a copy of the call log, oldest first.
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Call(nil), e.calls...)
}

// ClearCalls empties the call log.
func (e *Emulator) ClearCalls() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = nil
}

// SetSearchLag changes the search lag for writes from now on.
func (e *Emulator) SetSearchLag(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.searchLag = d
}

// FlushIndex makes every write visible to search at once (as if the lag had
// passed), so tests need not sleep.
func (e *Emulator) FlushIndex() {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	for id, snaps := range e.index {
		last := snaps[len(snaps)-1]
		last.At = now
		e.index[id] = []snapshot{last}
	}
}

// control serves /_emulator/.
func (e *Emulator) control(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path {
	case "POST /_emulator/reset":
		e.Reset()
		w.WriteHeader(http.StatusNoContent)
	case "POST /_emulator/faults":
		var f Fault
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil || f.Status < 0 || f.Rate < 0 || f.Rate > 1 {
			http.Error(w, `{"error":"body must be {status, count|rate (0..1), retry_after_seconds, latency_ms, path_prefix}"}`, http.StatusBadRequest)
			return
		}
		e.InjectFault(f)
		w.WriteHeader(http.StatusNoContent)
	case "DELETE /_emulator/faults":
		e.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	case "GET /_emulator/calls":
		writeJSON(w, http.StatusOK, map[string]any{"calls": nonNil(e.Calls())})
	case "DELETE /_emulator/calls":
		e.ClearCalls()
		w.WriteHeader(http.StatusNoContent)
	case "POST /_emulator/seed":
		var req struct {
			Objects []CI `json:"objects"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, `{"error":"body must be {\"objects\":[{name, resource_id, resource_type, subscription, resource_group}]}"}`, http.StatusBadRequest)
			return
		}
		var out []map[string]string
		for _, ci := range req.Objects {
			if ci.Name == "" {
				http.Error(w, `{"error":"every object needs a name"}`, http.StatusBadRequest)
				return
			}
			id, key := e.SeedCI(ci)
			out = append(out, map[string]string{"id": id, "key": key})
		}
		writeJSON(w, http.StatusOK, map[string]any{"objects": nonNil(out)})
	case "GET /_emulator/tickets":
		k := r.URL.Query().Get("correlation")
		ts := e.Tickets(k)
		writeJSON(w, http.StatusOK, map[string]any{"correlation": k, "count": len(ts), "tickets": nonNil(ts)})
	case "POST /_emulator/search-lag":
		var req struct {
			MS int `json:"ms"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.MS < 0 {
			http.Error(w, `{"error":"body must be {\"ms\": n}"}`, http.StatusBadRequest)
			return
		}
		e.SetSearchLag(time.Duration(req.MS) * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	case "POST /_emulator/flush-index":
		e.FlushIndex()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, `{"error":"unknown control endpoint; see package emulator docs"}`, http.StatusNotFound)
	}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
