package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// Wire models of the record calls.
type fieldItem struct {
	Dirty       bool   `json:"dirty"`
	DisplayName string `json:"displayName,omitempty"`
	FieldID     string `json:"fieldId"`
	Name        string `json:"name,omitempty"`
	Value       string `json:"value"`
}

type saveRequest struct {
	BusObID       string      `json:"busObId"`
	BusObRecID    string      `json:"busObRecId,omitempty"`
	BusObPublicID string      `json:"busObPublicId,omitempty"`
	Fields        []fieldItem `json:"fields"`
	Persist       bool        `json:"persist"`
}

type saveResponse struct {
	BusObPublicID string `json:"busObPublicId"`
	BusObRecID    string `json:"busObRecId"`
}

type readResponse struct {
	BusObID       string      `json:"busObId"`
	BusObPublicID string      `json:"busObPublicId"`
	BusObRecID    string      `json:"busObRecId"`
	Fields        []fieldItem `json:"fields"`
}

func (r *readResponse) value(f field) string {
	for _, x := range r.Fields {
		if strings.EqualFold(x.FieldID, f.ID) {
			return x.Value
		}
	}
	return ""
}

type filterInfo struct {
	FieldID  string `json:"fieldId"`
	Operator string `json:"operator"`
	Value    string `json:"value"`
}

type searchRequest struct {
	BusObID    string       `json:"busObId"`
	Filters    []filterInfo `json:"filters"`
	Fields     []string     `json:"fields"`
	PageNumber int          `json:"pageNumber"`
	PageSize   int          `json:"pageSize"`
}

type searchResponse struct {
	BusinessObjects []readResponse `json:"businessObjects"`
	TotalRows       int            `json:"totalRows"`
}

type relatedSaveRequest struct {
	ParentBusObID    string      `json:"parentBusObId"`
	ParentBusObRecID string      `json:"parentBusObRecId"`
	RelationshipID   string      `json:"relationshipId"`
	BusObID          string      `json:"busObId"`
	Fields           []fieldItem `json:"fields"`
	Persist          bool        `json:"persist"`
}

func item(f field, v string) fieldItem {
	return fieldItem{Dirty: true, FieldID: f.ID, Name: f.Name, DisplayName: f.Display, Value: v}
}

// truncate cuts s to the field's maximum size (in runes), marking the cut.
func truncate(f field, s string) string {
	r := []rune(s)
	if f.MaxSize <= 0 || len(r) <= f.MaxSize {
		return s
	}
	if f.MaxSize <= 1 {
		return string(r[:f.MaxSize])
	}
	return string(r[:f.MaxSize-1]) + "…"
}

// corrValue is the value stored in the correlation field for key: the key
// itself, or its SHA-256 when the field is too small to hold it.
func (m *meta) corrValue(key string) string {
	if m.corr.MaxSize > 0 && len([]rune(key)) > m.corr.MaxSize {
		sum := sha256.Sum256([]byte(key))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	return key
}

func (rt *runtime) ref(recID, publicID, state string) *sdk.TicketRef {
	return &sdk.TicketRef{ID: recID, Number: publicID, State: state,
		URL: rt.webURL + "/Access/" + url.PathEscape(rt.meta.incident.Name) + "/" + url.PathEscape(publicID)}
}

// find returns the open ticket carrying key, or nil.
func (rt *runtime) find(ctx context.Context, key string) (*sdk.TicketRef, error) {
	m := rt.meta
	filters := []filterInfo{{FieldID: m.corr.ID, Operator: "eq", Value: m.corrValue(key)}}
	for _, s := range m.openStates { // several filters on one field are OR-ed
		filters = append(filters, filterInfo{FieldID: m.status.ID, Operator: "eq", Value: s})
	}
	var out searchResponse
	err := rt.api.call(ctx, "search "+m.incident.Name, "POST", "api/V1/getsearchresults", nil, searchRequest{
		BusObID: m.incident.ID, Filters: filters, Fields: []string{m.status.ID, m.corr.ID},
		PageNumber: 1, PageSize: 10,
	}, &out)
	if err != nil {
		return nil, err
	}
	for _, bo := range out.BusinessObjects {
		// CSM compares case-insensitively; ticket keys are case-sensitive.
		if bo.value(m.corr) != m.corrValue(key) || bo.BusObRecID == "" {
			continue
		}
		if out.TotalRows > 1 {
			rt.api.log.Warn("several open tickets carry one ticket key; using the oldest", "count", out.TotalRows, "rec_id", bo.BusObRecID)
		}
		return rt.ref(bo.BusObRecID, bo.BusObPublicID, bo.value(m.status)), nil
	}
	return nil, nil
}

// Find implements sdk.Finder: the open ticket whose correlation field holds
// the key.
func (p *Plugin) Find(ctx context.Context, req *sdk.FindRequest) (*sdk.TicketRef, error) {
	rt, err := p.rt()
	if err != nil {
		return nil, err
	}
	return rt.find(ctx, req.TicketKey)
}

// Create implements sdk.Plugin. It is idempotent: an open ticket carrying
// the key is returned instead of creating another.
func (p *Plugin) Create(ctx context.Context, req *sdk.CreateRequest) (*sdk.TicketRef, error) {
	rt, err := p.rt()
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.TicketKey) == "" {
		return nil, sdk.Permanentf("cherwell create: empty ticket key")
	}
	// The host orders operations per key; this also keeps concurrent
	// in-process creates of one key from racing between find and save.
	unlock, err := p.keyMu.lock(ctx, req.TicketKey)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if ref, err := rt.find(ctx, req.TicketKey); err != nil || ref != nil {
		return ref, err
	}
	m := rt.meta
	title := strings.TrimSpace(req.Ticket.Title)
	if title == "" {
		title = strings.TrimSpace(req.Alert.Rule)
	}
	if title == "" {
		title = "Azure Monitor alert " + req.TicketKey
	}
	desc := strings.TrimSpace(req.Ticket.Description)
	if desc == "" {
		desc = title // CSM requires a description
	}
	vals := map[string]fieldValue{}
	set := func(f field, v string) { vals[strings.ToLower(f.ID)] = fieldValue{f, v} }
	for _, fv := range m.extra {
		set(fv.f, fv.value)
	}
	for _, fv := range m.severity[min(max(req.Ticket.Severity, 0), 4)] {
		set(fv.f, fv.value)
	}
	for name, v := range req.Ticket.Fields {
		f, ok := m.incident.field(name)
		if !ok {
			return nil, sdk.Permanentf("cherwell create: route ticket field %q is not a field of %s", name, m.incident.Name)
		}
		if f.ReadOnly {
			return nil, sdk.Permanentf("cherwell create: route ticket field %q of %s is read-only", name, m.incident.Name)
		}
		set(f, v)
	}
	set(m.short, truncate(m.short, title))
	set(m.desc, truncate(m.desc, desc))
	set(m.corr, m.corrValue(req.TicketKey))

	fields := make([]fieldItem, 0, len(vals))
	for _, fv := range vals {
		fields = append(fields, item(fv.f, fv.value))
	}
	sortItems(fields)
	var out saveResponse
	if err := rt.api.call(ctx, "create "+m.incident.Name, "POST", "api/V1/savebusinessobject", nil,
		saveRequest{BusObID: m.incident.ID, Fields: fields, Persist: true}, &out); err != nil {
		return nil, err
	}
	if out.BusObRecID == "" {
		return nil, sdk.Permanentf("cherwell create %s: response carries no busObRecId", m.incident.Name)
	}
	rt.api.log.Info("ticket created", "rec_id", out.BusObRecID, "number", out.BusObPublicID)
	return rt.ref(out.BusObRecID, out.BusObPublicID, ""), nil
}

// sortItems orders fields by name so requests are deterministic.
func sortItems(items []fieldItem) {
	slices.SortFunc(items, func(a, b fieldItem) int { return strings.Compare(a.Name, b.Name) })
}

// get reads the ticket of ref (by rec id, else by public id).
func (rt *runtime) get(ctx context.Context, ref sdk.TicketRef) (*readResponse, error) {
	m := rt.meta
	var path string
	switch {
	case ref.ID != "":
		path = "api/V1/getbusinessobject/busobid/" + url.PathEscape(m.incident.ID) + "/busobrecid/" + url.PathEscape(ref.ID)
	case ref.Number != "":
		path = "api/V1/getbusinessobject/busobid/" + url.PathEscape(m.incident.ID) + "/publicid/" + url.PathEscape(ref.Number)
	default:
		return nil, sdk.Permanentf("cherwell: ticket reference has neither id nor number")
	}
	var out readResponse
	if err := rt.api.call(ctx, "get "+m.incident.Name, "GET", path, nil, nil, &out); err != nil {
		return nil, err
	}
	if out.BusObRecID == "" {
		return nil, sdk.Permanentf("cherwell get %s %s%s: response carries no record", m.incident.Name, ref.ID, ref.Number)
	}
	return &out, nil
}

// update writes fields to the ticket.
func (rt *runtime) update(ctx context.Context, op, recID string, fields ...fieldItem) error {
	return rt.api.call(ctx, op, "POST", "api/V1/savebusinessobject", nil,
		saveRequest{BusObID: rt.meta.incident.ID, BusObRecID: recID, Fields: fields, Persist: true}, nil)
}

func (rt *runtime) isClosed(status string) bool {
	return strings.EqualFold(status, rt.cfg.ResolvedStatus) || containsFold(rt.cfg.ClosedStatuses, status)
}

// Resolve implements sdk.Plugin: Status = resolved_status with the rendered
// close description. A ticket already resolved or closed is left alone.
func (p *Plugin) Resolve(ctx context.Context, req *sdk.ResolveRequest) error {
	rt, err := p.rt()
	if err != nil {
		return err
	}
	rec, err := rt.get(ctx, req.Ref)
	if err != nil {
		return err
	}
	m := rt.meta
	if st := rec.value(m.status); rt.isClosed(st) {
		rt.api.log.Debug("ticket already closed; resolve is a no-op", "rec_id", rec.BusObRecID, "status", st)
		return nil
	}
	text, err := rt.closeText(req)
	if err != nil {
		return err
	}
	if err := rt.update(ctx, "resolve "+m.incident.Name, rec.BusObRecID,
		item(m.status, rt.cfg.ResolvedStatus), item(m.closeDesc, truncate(m.closeDesc, text))); err != nil {
		return err
	}
	rt.api.log.Info("ticket resolved", "rec_id", rec.BusObRecID, "number", rec.BusObPublicID)
	return nil
}

// closeText renders close_description with the alert's keys and ticket_key.
func (rt *runtime) closeText(req *sdk.ResolveRequest) (string, error) {
	data := map[string]any{}
	if b, err := json.Marshal(req.Alert); err == nil {
		_ = json.Unmarshal(b, &data)
	}
	data["ticket_key"] = req.TicketKey
	var buf bytes.Buffer
	if err := rt.closeTpl.Execute(&buf, data); err != nil {
		return "", sdk.Permanent(fmt.Errorf("cherwell resolve: render close_description: %w", err))
	}
	text := strings.TrimSpace(buf.String())
	if text == "" {
		text = "Resolved by itsmbridge." // CSM requires a close description
	}
	return text, nil
}

// Reopen implements sdk.Reopener: a closed ticket gets reopened_status; an
// open one is left alone.
func (p *Plugin) Reopen(ctx context.Context, req *sdk.ReopenRequest) error {
	rt, err := p.rt()
	if err != nil {
		return err
	}
	rec, err := rt.get(ctx, req.Ref)
	if err != nil {
		return err
	}
	m := rt.meta
	if st := rec.value(m.status); !rt.isClosed(st) {
		rt.api.log.Debug("ticket is open; reopen is a no-op", "rec_id", rec.BusObRecID, "status", st)
		return nil
	}
	if err := rt.update(ctx, "reopen "+m.incident.Name, rec.BusObRecID, item(m.status, rt.cfg.ReopenedStatus)); err != nil {
		return err
	}
	rt.api.log.Info("ticket reopened", "rec_id", rec.BusObRecID, "number", rec.BusObPublicID)
	return nil
}

// Comment implements sdk.Commenter: a journal note through the journal
// relationship.
func (p *Plugin) Comment(ctx context.Context, req *sdk.CommentRequest) error {
	rt, err := p.rt()
	if err != nil {
		return err
	}
	m := rt.meta
	recID := req.Ref.ID
	if recID == "" {
		rec, err := rt.get(ctx, req.Ref)
		if err != nil {
			return err
		}
		recID = rec.BusObRecID
	}
	text := req.Text
	if strings.TrimSpace(text) == "" {
		return sdk.Permanentf("cherwell comment: empty text")
	}
	return rt.api.call(ctx, "add journal note", "POST", "api/V1/saverelatedbusinessobject", nil, relatedSaveRequest{
		ParentBusObID: m.incident.ID, ParentBusObRecID: recID, RelationshipID: m.journalRel,
		BusObID: m.journal.ID, Fields: []fieldItem{item(m.details, truncate(m.details, text))}, Persist: true,
	}, nil)
}

// Health implements sdk.HealthChecker: an authenticated serviceinfo call.
func (p *Plugin) Health(ctx context.Context) error {
	rt, err := p.rt()
	if err != nil {
		return err
	}
	return rt.api.call(ctx, "service info", "GET", "api/V1/serviceinfo", nil, nil, nil)
}
