package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// ServiceNow incident states.
const (
	stateNew        = "1"
	stateInProgress = "2"
	stateOnHold     = "3"
	stateResolved   = "6"
	stateClosed     = "7"
	stateCanceled   = "8"
)

// maxCorrelation is the length of task.correlation_id; longer values would be
// truncated silently by the instance and never match again.
const maxCorrelation = 100

// correlationValue is what is stored in the correlation field for key: the
// key itself, or "sha256:<hex>" when the key is too long for the column.
func correlationValue(key string) string {
	if len(key) <= maxCorrelation {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// queryValue escapes a value for an encoded query (a caret is written "^^").
func queryValue(s string) string { return strings.ReplaceAll(s, "^", "^^") }

var sysIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

// ticketRow is the slice of an incident the plugin reads.
type ticketRow map[string]any

func (r ticketRow) str(k string) string {
	switch v := r[k].(type) {
	case string:
		return v
	case map[string]any: // a reference or display_value object
		if s, ok := v["value"].(string); ok {
			return s
		}
	}
	return ""
}

func (st *state) ref(row ticketRow) *sdk.TicketRef {
	id := row.str("sys_id")
	return &sdk.TicketRef{ID: id, Number: row.str("number"), URL: st.ticketURL(id), State: row.str("state")}
}

// ticketURL is the incident form a human opens.
func (st *state) ticketURL(id string) string {
	return st.base + "/" + st.cfg.Table + ".do?sys_id=" + url.QueryEscape(id)
}

// findOpen looks up the newest incident carrying key whose state is not in
// exclude. Rows are checked client-side: if the correlation field is unknown
// to the table, ServiceNow drops the condition and returns unrelated rows.
func (st *state) findOpen(ctx context.Context, key, exclude string) (*sdk.TicketRef, error) {
	cf := st.cfg.CorrelationField
	want := correlationValue(key)
	q := url.Values{
		"sysparm_query":                  {cf + "=" + queryValue(want) + "^stateNOT IN" + exclude + "^ORDERBYDESCsys_created_on"},
		"sysparm_fields":                 {"sys_id,number,state," + cf},
		"sysparm_limit":                  {"10"},
		"sysparm_exclude_reference_link": {"true"},
		"sysparm_no_count":               {"true"},
	}
	var res struct {
		Result []ticketRow `json:"result"`
	}
	if err := st.client.call(ctx, http.MethodGet, st.tablePath(""), q, nil, &res); err != nil {
		return nil, err
	}
	for _, row := range res.Result {
		got, ok := row[cf]
		if !ok {
			return nil, sdk.Permanentf("servicenow: table %s has no field %q: ServiceNow ignored it in the lookup, so deduplication cannot work; fix correlation_field", st.cfg.Table, cf)
		}
		if s, _ := got.(string); s == want { // the instance compares case-insensitively; keys are exact
			return st.ref(row), nil
		}
	}
	return nil, nil
}

// Find implements sdk.Finder: the newest incident carrying the key that is
// not Closed or Canceled (a Resolved one may still be reopened).
func (p *Plugin) Find(ctx context.Context, req *sdk.FindRequest) (*sdk.TicketRef, error) {
	st, err := p.current()
	if err != nil {
		return nil, err
	}
	return st.findOpen(ctx, req.TicketKey, stateClosed+","+stateCanceled)
}

// Create implements sdk.Plugin. It first looks for an open incident (New,
// In Progress, On Hold) carrying the key, so a retry after a crash returns
// the incident the first attempt made; a Resolved one is not reused (the
// host reopens those explicitly, or wants a new ticket).
func (p *Plugin) Create(ctx context.Context, req *sdk.CreateRequest) (*sdk.TicketRef, error) {
	st, err := p.current()
	if err != nil {
		return nil, err
	}
	if req.TicketKey == "" {
		return nil, sdk.Permanentf("servicenow: create: empty ticket key")
	}
	existing, err := st.findOpen(ctx, req.TicketKey, stateResolved+","+stateClosed+","+stateCanceled)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		st.log.Debug("incident exists for ticket key", "ticket", existing.Number, "sys_id", existing.ID)
		return existing, nil
	}
	body, err := st.incidentBody(ctx, req)
	if err != nil {
		return nil, err
	}
	q := url.Values{
		"sysparm_fields":                 {"sys_id,number,state"},
		"sysparm_exclude_reference_link": {"true"},
	}
	var res struct {
		Result ticketRow `json:"result"`
	}
	if err := st.client.call(ctx, http.MethodPost, st.tablePath(""), q, body, &res); err != nil {
		return nil, err
	}
	ref := st.ref(res.Result)
	if ref.ID == "" {
		return nil, sdk.Permanentf("servicenow: create: response carries no sys_id")
	}
	st.log.Info("incident created", "ticket", ref.Number, "sys_id", ref.ID)
	return ref, nil
}

// incidentBody builds the create payload: config fields, then the rendered
// ticket, then the route's fields; the correlation key last so nothing can
// override it. priority is never sent (the instance computes it).
func (st *state) incidentBody(ctx context.Context, req *sdk.CreateRequest) (map[string]string, error) {
	c := st.cfg
	body := map[string]string{}
	for k, v := range c.Fields {
		body[k] = v
	}
	title := req.Ticket.Title
	if title == "" {
		title = fmt.Sprintf("[%s] %s", req.Alert.SeverityName, req.Alert.Rule)
	}
	body["short_description"] = truncateRunes(title, 160)
	body["description"] = req.Ticket.Description
	lv := st.severity(req.Ticket.Severity)
	body["impact"], body["urgency"] = lv.Impact, lv.Urgency
	if st.assignmentGroup != "" {
		body["assignment_group"] = st.assignmentGroup
	}
	if st.caller != "" {
		body["caller_id"] = st.caller
	}
	if c.Category != "" {
		body["category"] = c.Category
	}
	for k, v := range req.Ticket.Fields {
		body[k] = v
	}
	delete(body, "priority")
	for field := range refTables {
		v, ok := body[field]
		if !ok || v == "" || sysIDRe.MatchString(v) {
			continue
		}
		id, err := st.resolveRef(ctx, field, v)
		if err != nil {
			return nil, err
		}
		body[field] = id
	}
	body[c.CorrelationField] = correlationValue(req.TicketKey)
	if c.CorrelationField == "correlation_id" && body["correlation_display"] == "" {
		body["correlation_display"] = "itsmbridge"
	}
	return body, nil
}

func (st *state) severity(sev int) severityLevels {
	for k, lv := range st.cfg.SeverityMap {
		if n, ok := severityKey(k); ok && n == sev {
			return lv
		}
	}
	if lv, ok := defaultSeverityMap[fmt.Sprintf("Sev%d", min(max(sev, 0), 4))]; ok {
		return lv
	}
	return severityLevels{"3", "3"}
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// refTables maps reference fields a route may set by name to the table and
// the display fields a name is looked up in.
var refTables = map[string]struct {
	table  string
	fields []string
}{
	"assignment_group": {"sys_user_group", []string{"name"}},
	"caller_id":        {"sys_user", []string{"user_name", "name"}},
	"assigned_to":      {"sys_user", []string{"user_name", "name"}},
	"business_service": {"cmdb_ci_service", []string{"name"}},
	"cmdb_ci":          {"cmdb_ci", []string{"name"}},
}

// resolveRef turns a display value of a reference field into a sys_id
// (cached). A sys_id or a field without a known table passes through.
func (st *state) resolveRef(ctx context.Context, field, value string) (string, error) {
	rt, ok := refTables[field]
	if !ok || sysIDRe.MatchString(value) {
		return value, nil
	}
	cacheKey := rt.table + "/" + strings.ToLower(value)
	st.refMu.Lock()
	id, hit := st.refs[cacheKey]
	st.refMu.Unlock()
	if hit {
		return id, nil
	}
	conds := make([]string, len(rt.fields))
	for i, f := range rt.fields {
		conds[i] = f + "=" + queryValue(value)
	}
	q := url.Values{
		"sysparm_query":    {strings.Join(conds, "^OR")},
		"sysparm_fields":   {"sys_id," + strings.Join(rt.fields, ",")},
		"sysparm_limit":    {"2"},
		"sysparm_no_count": {"true"},
	}
	var res struct {
		Result []ticketRow `json:"result"`
	}
	if err := st.client.call(ctx, http.MethodGet, tablePath(rt.table, ""), q, nil, &res); err != nil {
		return "", err
	}
	if len(res.Result) == 0 {
		return "", sdk.Permanentf("servicenow: %s %q: no %s record with that %s", field, value, rt.table, strings.Join(rt.fields, " or "))
	}
	if len(res.Result) > 1 {
		st.log.Warn("reference value matches several records; using the first", "field", field, "value", value, "table", rt.table)
	}
	id = res.Result[0].str("sys_id")
	st.refMu.Lock()
	st.refs[cacheKey] = id
	st.refMu.Unlock()
	return id, nil
}

// get reads the state and number of the incident ref.
func (st *state) get(ctx context.Context, ref sdk.TicketRef) (ticketRow, error) {
	if ref.ID == "" {
		return nil, sdk.Permanentf("servicenow: empty ticket id")
	}
	q := url.Values{"sysparm_fields": {"sys_id,number,state"}, "sysparm_exclude_reference_link": {"true"}}
	var res struct {
		Result ticketRow `json:"result"`
	}
	if err := st.client.call(ctx, http.MethodGet, st.tablePath(ref.ID), q, nil, &res); err != nil {
		return nil, err
	}
	return res.Result, nil
}

func (st *state) patch(ctx context.Context, id string, body map[string]string) error {
	q := url.Values{"sysparm_fields": {"sys_id,state"}, "sysparm_exclude_reference_link": {"true"}}
	return st.client.call(ctx, http.MethodPatch, st.tablePath(id), q, body, nil)
}

// Resolve implements sdk.Plugin: state 6 with close_code and close_notes
// (both mandatory on the instance). A Resolved, Closed or Canceled incident
// is left alone.
func (p *Plugin) Resolve(ctx context.Context, req *sdk.ResolveRequest) error {
	st, err := p.current()
	if err != nil {
		return err
	}
	row, err := st.get(ctx, req.Ref)
	if err != nil {
		return err
	}
	switch s := row.str("state"); s {
	case stateResolved, stateClosed, stateCanceled:
		st.log.Debug("incident already resolved", "ticket", row.str("number"), "state", s)
		return nil
	}
	body := map[string]string{
		"state":       stateResolved,
		"close_code":  st.cfg.CloseCode,
		"close_notes": st.renderCloseNotes(req.Alert),
	}
	if err := st.patch(ctx, req.Ref.ID, body); err != nil {
		return err
	}
	st.log.Info("incident resolved", "ticket", row.str("number"), "sys_id", req.Ref.ID)
	return nil
}

// renderCloseNotes executes the close_notes template over the alert's JSON.
func (st *state) renderCloseNotes(a sdk.Alert) string {
	var data map[string]any
	if js, err := json.Marshal(a); err == nil {
		_ = json.Unmarshal(js, &data)
	}
	var b bytes.Buffer
	if err := st.closeNotes.Execute(&b, data); err != nil || strings.TrimSpace(b.String()) == "" {
		if err != nil {
			st.log.Warn("close_notes template failed; using a plain note", "error", err)
		}
		return "Resolved automatically by itsmbridge: the Azure Monitor alert resolved."
	}
	return b.String()
}

// Reopen implements sdk.Reopener: a Resolved incident goes back to In
// Progress (the instance bumps reopen_count) with a journal note. An open
// incident is left alone; a Closed or Canceled one cannot be reopened.
func (p *Plugin) Reopen(ctx context.Context, req *sdk.ReopenRequest) error {
	st, err := p.current()
	if err != nil {
		return err
	}
	row, err := st.get(ctx, req.Ref)
	if err != nil {
		return err
	}
	switch s := row.str("state"); s {
	case stateNew, stateInProgress, stateOnHold:
		return nil
	case stateClosed, stateCanceled:
		return sdk.Permanent(fmt.Errorf("servicenow: incident %s is %s and cannot be reopened; a new incident is needed",
			row.str("number"), map[string]string{stateClosed: "closed", stateCanceled: "canceled"}[s]))
	}
	note := "Reopened by itsmbridge: the Azure Monitor alert fired again"
	if req.Alert.FiredAt != "" {
		note += " at " + req.Alert.FiredAt
	}
	body := map[string]string{"state": stateInProgress, st.cfg.CommentField: note + "."}
	if err := st.patch(ctx, req.Ref.ID, body); err != nil {
		return err
	}
	st.log.Info("incident reopened", "ticket", row.str("number"), "sys_id", req.Ref.ID)
	return nil
}

// Comment implements sdk.Commenter: a journal entry in comment_field
// (work_notes by default).
func (p *Plugin) Comment(ctx context.Context, req *sdk.CommentRequest) error {
	st, err := p.current()
	if err != nil {
		return err
	}
	if req.Ref.ID == "" {
		return sdk.Permanentf("servicenow: comment: empty ticket id")
	}
	if strings.TrimSpace(req.Text) == "" {
		return nil
	}
	return st.patch(ctx, req.Ref.ID, map[string]string{st.cfg.CommentField: req.Text})
}
