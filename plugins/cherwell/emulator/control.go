package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
)

// Fault makes matching vendor requests fail (or slow down).
type Fault struct {
	// Status is the HTTP status to answer with; 0 only adds latency.
	Status int `json:"status"`
	// Count is how many requests fail before the fault disappears; 0 with
	// Rate 0 means every request until the faults are cleared.
	Count int `json:"count,omitempty"`
	// Rate (0..1) is the probability a matching request fails.
	Rate float64 `json:"rate,omitempty"`
	// RetryAfterSeconds, when > 0, is sent as Retry-After.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
	// LatencyMS delays matching requests.
	LatencyMS int `json:"latency_ms,omitempty"`
	// PathPrefix restricts the fault to paths starting with it (e.g.
	// "/CherwellAPI/api/V1/savebusinessobject"); empty matches every vendor path.
	PathPrefix string `json:"path_prefix,omitempty"`
	// Body replaces the default error body (sent as JSON), e.g. a 200 with
	// {"hasError":true,...} to mimic CSM's errors under HTTP 200.
	Body string `json:"body,omitempty"`
}

type faultState struct {
	Fault
	left int // remaining count; -1 unlimited
}

// InjectFault adds f; faults are matched in the order they were added.
func (e *Emulator) InjectFault(f Fault) {
	left := f.Count
	if left <= 0 {
		left = -1
	}
	e.mu.Lock()
	e.faults = append(e.faults, &faultState{Fault: f, left: left})
	e.nFaults.Store(int32(len(e.faults)))
	e.mu.Unlock()
}

// ClearFaults removes every fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	e.faults = nil
	e.nFaults.Store(0)
	e.mu.Unlock()
}

// matchFault returns the fault that applies to path, consuming one count.
func (e *Emulator) matchFault(path string) *Fault {
	if e.nFaults.Load() == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, f := range e.faults {
		if f.PathPrefix != "" && !strings.HasPrefix(path, f.PathPrefix) {
			continue
		}
		if f.Rate > 0 && rand.Float64() >= f.Rate {
			continue
		}
		out := f.Fault
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				e.faults = append(e.faults[:i:i], e.faults[i+1:]...)
				e.nFaults.Store(int32(len(e.faults)))
			}
		}
		return &out
	}
	return nil
}

func writeFault(w http.ResponseWriter, f *Fault) {
	if f.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfterSeconds))
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
		return
	}
	msg := "An error has occurred."
	switch {
	case f.Status == http.StatusUnauthorized:
		msg = "Authorization has been denied for this request."
	case f.Status == http.StatusTooManyRequests:
		msg = "Too many requests."
	case f.Status < 500:
		msg = "The request is invalid."
	}
	writeJSON(w, f.Status, apiMessage{Message: msg})
}

// SeedCI describes a configuration item to create directly.
type SeedCI struct {
	// Type is the CI business object, by name or display name
	// (e.g. "ConfigServer" or "Config - Server").
	Type string `json:"type"`
	// Name goes to FriendlyName.
	Name string `json:"name"`
	// ResourceID goes to AzureResourceID.
	ResourceID string `json:"resource_id,omitempty"`
	// Fields sets further fields by name.
	Fields map[string]string `json:"fields,omitempty"`
}

// SeededCI identifies a seeded configuration item.
type SeededCI struct {
	RecID   string `json:"rec_id"`
	BusObID string `json:"bus_ob_id"`
	Type    string `json:"type"`
	Name    string `json:"name"`
}

// objectByAnyName finds a business object by internal or display name.
func (e *Emulator) objectByAnyName(name string) *boDef {
	if b := e.cat.byName[strings.ToLower(name)]; b != nil {
		return b
	}
	for _, b := range e.cat.all() {
		if strings.EqualFold(b.displayName, name) {
			return b
		}
	}
	return nil
}

// SeedConfigItem creates a configuration item, bypassing the API.
func (e *Emulator) SeedConfigItem(ci SeedCI) (SeededCI, error) {
	t := e.objectByAnyName(ci.Type)
	if t == nil || !t.isA(e.cat.byName[strings.ToLower(ConfigItemObject)]) || t.group {
		return SeededCI{}, fmt.Errorf("seed: %q is not a configuration item type", ci.Type)
	}
	items := []fieldItemIn{{Dirty: true, FieldID: t.byName[strings.ToLower(CINameField)].id, Value: ci.Name}}
	if ci.ResourceID != "" {
		items = append(items, fieldItemIn{Dirty: true, FieldID: t.byName[strings.ToLower(ResourceIDField)].id, Value: ci.ResourceID})
	}
	for k, v := range ci.Fields {
		f := t.byName[strings.ToLower(k)]
		if f == nil {
			return SeededCI{}, fmt.Errorf("seed: %s has no field %q", t.displayName, k)
		}
		items = append(items, fieldItemIn{Dirty: true, FieldID: f.id, Value: v})
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	resp, _ := e.saveLocked(t, "", "", items, true)
	if resp.HasError {
		return SeededCI{}, fmt.Errorf("seed: %s", resp.ErrorMessage)
	}
	return SeededCI{RecID: resp.BusObRecID, BusObID: t.id, Type: t.displayName, Name: ci.Name}, nil
}

// Ticket is an Incident as the control surface reports it.
type Ticket struct {
	RecID                 string            `json:"rec_id"`
	PublicID              string            `json:"public_id"`
	Status                string            `json:"status"`
	ShortDescription      string            `json:"short_description"`
	Priority              string            `json:"priority"`
	Correlation           string            `json:"correlation"`
	CloseDescription      string            `json:"close_description"`
	ConfigItemRecID       string            `json:"config_item_rec_id"`
	ConfigItemDisplayName string            `json:"config_item_display_name"`
	Fields                map[string]string `json:"fields"`
	// Journals are the Details of the incident's journal entries, oldest first.
	Journals []string `json:"journals"`
	// LinkedCIs are the rec ids linked through Incident Links Configuration Items.
	LinkedCIs []string `json:"linked_cis"`
}

// Tickets lists the incidents whose correlation field equals key
// (case-sensitive); an empty key lists every incident.
func (e *Emulator) Tickets(key string) []Ticket {
	inc := e.cat.byName[strings.ToLower(IncidentObject)]
	corr := inc.byName[strings.ToLower(e.opts.CorrelationField)]
	jrel := e.relByName(inc, JournalRelationship)
	crel := e.relByName(inc, CIRelationship)
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := []Ticket{}
	for _, r := range e.data.ordered {
		if r.typ != inc || (key != "" && r.values[corr.id] != key) {
			continue
		}
		t := Ticket{RecID: r.recID, PublicID: r.publicID, Status: r.get("Status"), ShortDescription: r.get("ShortDescription"),
			Priority: r.get("Priority"), Correlation: r.values[corr.id], CloseDescription: r.get("CloseDescription"),
			ConfigItemRecID: r.get("ConfigItemRecID"), ConfigItemDisplayName: r.get("ConfigItemDisplayName"),
			Fields: map[string]string{}, Journals: []string{}, LinkedCIs: []string{}}
		for _, f := range inc.fields {
			if v := r.values[f.id]; v != "" {
				t.Fields[f.name] = v
			}
		}
		for _, j := range e.data.children(jrel.id, r.recID) {
			t.Journals = append(t.Journals, j.get("Details"))
		}
		for _, c := range e.data.children(crel.id, r.recID) {
			t.LinkedCIs = append(t.LinkedCIs, c.recID)
		}
		out = append(out, t)
	}
	return out
}

// CountTickets counts the incidents carrying correlation key.
func (e *Emulator) CountTickets(key string) int { return len(e.Tickets(key)) }

// ConfigItems lists every configuration item as seeded or created: rec id →
// FriendlyName.
func (e *Emulator) ConfigItems() map[string]string {
	ci := e.cat.byName[strings.ToLower(ConfigItemObject)]
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := map[string]string{}
	for _, r := range e.data.ordered {
		if r.typ.isA(ci) {
			out[r.recID] = r.get(CINameField)
		}
	}
	return out
}

func (e *Emulator) relByName(t *boDef, name string) *relDef {
	for _, r := range t.rels {
		if r.displayName == name {
			return r
		}
	}
	return nil
}

// BusObID returns the id of a business object by internal or display name
// ("" when unknown).
func (e *Emulator) BusObID(name string) string {
	if b := e.objectByAnyName(name); b != nil {
		return b.id
	}
	return ""
}

// FieldID returns the id of field of business object obj ("" when unknown).
func (e *Emulator) FieldID(obj, field string) string {
	if b := e.objectByAnyName(obj); b != nil {
		if f := b.byName[strings.ToLower(field)]; f != nil {
			return f.id
		}
	}
	return ""
}

// RelationshipID returns the id of a relationship by display name.
func (e *Emulator) RelationshipID(name string) string {
	for _, r := range e.cat.rels {
		if r.displayName == name {
			return r.id
		}
	}
	return ""
}

func (e *Emulator) controlRoutes() http.Handler {
	r := chi.NewRouter()
	r.Route("/_emulator", func(r chi.Router) {
		r.Post("/reset", func(w http.ResponseWriter, _ *http.Request) {
			e.Reset()
			w.WriteHeader(http.StatusNoContent)
		})
		r.Post("/faults", func(w http.ResponseWriter, r *http.Request) {
			var f Fault
			if err := json.NewDecoder(r.Body).Decode(&f); err != nil {
				ctlError(w, http.StatusBadRequest, "fault: "+err.Error())
				return
			}
			if err := f.validate(); err != nil {
				ctlError(w, http.StatusBadRequest, err.Error())
				return
			}
			e.InjectFault(f)
			w.WriteHeader(http.StatusNoContent)
		})
		r.Delete("/faults", func(w http.ResponseWriter, _ *http.Request) {
			e.ClearFaults()
			w.WriteHeader(http.StatusNoContent)
		})
		r.Get("/calls", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, map[string]any{"calls": e.Calls()})
		})
		r.Delete("/calls", func(w http.ResponseWriter, _ *http.Request) {
			e.ClearCalls()
			w.WriteHeader(http.StatusNoContent)
		})
		r.Post("/seed", func(w http.ResponseWriter, r *http.Request) {
			var req struct {
				ConfigItems []SeedCI `json:"config_items"`
			}
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				ctlError(w, http.StatusBadRequest, "seed: "+err.Error())
				return
			}
			out := []SeededCI{}
			for _, ci := range req.ConfigItems {
				s, err := e.SeedConfigItem(ci)
				if err != nil {
					ctlError(w, http.StatusBadRequest, err.Error())
					return
				}
				out = append(out, s)
			}
			writeJSON(w, http.StatusOK, map[string]any{"config_items": out})
		})
		r.Get("/tickets", func(w http.ResponseWriter, r *http.Request) {
			ts := e.Tickets(r.URL.Query().Get("correlation"))
			writeJSON(w, http.StatusOK, map[string]any{"count": len(ts), "tickets": ts})
		})
		r.Post("/tokens/expire", func(w http.ResponseWriter, r *http.Request) {
			refresh, _ := strconv.ParseBool(r.URL.Query().Get("refresh"))
			e.ExpireTokens(refresh)
			w.WriteHeader(http.StatusNoContent)
		})
		r.Get("/ids", func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, http.StatusOK, e.ids())
		})
	})
	return r
}

// ids lists the object model's ids by name, to help write curl examples.
func (e *Emulator) ids() map[string]any {
	objs := map[string]any{}
	for _, b := range e.cat.all() {
		fs := map[string]string{}
		for _, f := range b.fields {
			fs[f.name] = f.id
		}
		objs[b.displayName] = map[string]any{"busObId": b.id, "name": b.name, "fields": fs}
	}
	rels := map[string]string{}
	for _, r := range e.cat.rels {
		rels[r.displayName] = r.id
	}
	return map[string]any{"objects": objs, "relationships": rels}
}

func (f Fault) validate() error {
	switch {
	case f.Status != 0 && (f.Status < 100 || f.Status > 599):
		return fmt.Errorf("fault: status %d out of range", f.Status)
	case f.Rate < 0 || f.Rate > 1:
		return errors.New("fault: rate must be within 0..1")
	case f.Count < 0 || f.RetryAfterSeconds < 0 || f.LatencyMS < 0:
		return errors.New("fault: count, retry_after_seconds and latency_ms must not be negative")
	case f.Status == 0 && f.LatencyMS == 0:
		return errors.New("fault: set status, latency_ms or both")
	case f.Body != "" && !json.Valid([]byte(f.Body)):
		return errors.New("fault: body must be JSON")
	}
	return nil
}

func ctlError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
