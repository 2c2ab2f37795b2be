package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// issueView is the part of an IssueBean the plugin reads.
type issueView struct {
	ID     string `json:"id"`
	Key    string `json:"key"`
	Fields struct {
		Status struct {
			Name           string `json:"name"`
			StatusCategory struct {
				Key string `json:"key"`
			} `json:"statusCategory"`
		} `json:"status"`
	} `json:"fields"`
}

func (st *state) ref(id, key string) sdk.TicketRef {
	return sdk.TicketRef{ID: id, Number: key, URL: st.base + "/browse/" + key}
}

func (st *state) getIssue(ctx context.Context, idOrKey, fields string) (*issueView, error) {
	var iv issueView
	err := st.client.do(ctx, "read issue "+idOrKey, http.MethodGet, "/rest/api/3/issue/"+url.PathEscape(idOrKey), url.Values{"fields": {fields}}, nil, &iv)
	if err != nil {
		return nil, err
	}
	return &iv, nil
}

// Create implements sdk.Plugin. See dedup.go for how it stays idempotent.
func (p *Plugin) Create(ctx context.Context, req *sdk.CreateRequest) (*sdk.TicketRef, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	key := req.TicketKey
	if key == "" {
		return nil, sdk.Permanent(errEmptyKey)
	}
	unlock, err := st.keys.lock(ctx, key)
	if err != nil {
		return nil, err
	}
	defer unlock()

	f, pendingSince, err := st.lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	if f != nil {
		if !f.complete {
			if err := st.complete(ctx, f.ref, req); err != nil {
				return nil, err
			}
		}
		st.log.Debug("ticket key already has an issue", "ticket_key", key, "issue", f.ref.Number)
		return &f.ref, nil
	}
	if !pendingSince.IsZero() {
		if wait := pendingSince.Add(st.searchLag).Sub(st.now()); wait > 0 {
			return nil, pendingError(key, pendingSince, wait)
		}
	}
	if err := st.ledgerPut(ctx, ledgerEntry{TicketKey: key, State: ledgerPending}); err != nil {
		return nil, err
	}
	ref, atomic, err := st.createIssue(ctx, req)
	if err != nil {
		if definite(err) {
			st.ledgerDelete(ctx, key)
		}
		return nil, err
	}
	st.log.Info("created issue", "ticket_key", key, "issue", ref.Number, "mode", st.mode)
	// Record the issue before anything else can fail, so a retry finds it.
	st.recent.put(key, recentEntry{ref: ref, complete: atomic, at: st.now()})
	if err := st.ledgerPut(ctx, ledgerEntry{TicketKey: key, State: ledgerCreated, IssueID: ref.ID, IssueKey: ref.Number, Complete: atomic}); err != nil {
		st.log.Warn("created the issue but could not record it in the dedup ledger", "ticket_key", key, "issue", ref.Number, "error", err)
	}
	if !atomic {
		if err := st.complete(ctx, ref, req); err != nil {
			return nil, err
		}
	}
	return &ref, nil
}

// complete writes what a create could not set atomically: the correlation
// (when the request type lacks the field), fields not on the request type,
// and the issue property.
func (st *state) complete(ctx context.Context, ref sdk.TicketRef, req *sdk.CreateRequest) error {
	key := req.TicketKey
	if st.mode == modeServiceDesk {
		fields, update, err := st.ticketFields(req, true)
		if err != nil {
			return err
		}
		if len(fields) > 0 || len(update) > 0 {
			body := map[string]any{}
			if len(fields) > 0 {
				body["fields"] = fields
			}
			if len(update) > 0 {
				body["update"] = update
			}
			if err := st.client.do(ctx, "set fields of "+ref.Number, http.MethodPut, "/rest/api/3/issue/"+url.PathEscape(ref.ID), nil, body, nil); err != nil {
				return err
			}
		}
	}
	path := "/rest/api/3/issue/" + url.PathEscape(ref.ID) + "/properties/" + url.PathEscape(st.cfg.Correlation.Property)
	if err := st.client.do(ctx, "set issue property of "+ref.Number, http.MethodPut, path, nil, st.propertyValue(req), nil); err != nil {
		return err
	}
	st.recent.put(key, recentEntry{ref: ref, complete: true, at: st.now()})
	if err := st.ledgerPut(ctx, ledgerEntry{TicketKey: key, State: ledgerCreated, IssueID: ref.ID, IssueKey: ref.Number, Complete: true}); err != nil {
		st.log.Warn("could not update the dedup ledger", "ticket_key", key, "error", err)
	}
	return nil
}

func (st *state) propertyValue(req *sdk.CreateRequest) map[string]any {
	return map[string]any{"ticketKey": req.TicketKey, "alertId": req.Alert.ID, "source": "itsmbridge"}
}

// createIssue creates the issue; atomic reports whether the correlation,
// every field and the property were set by the create itself.
func (st *state) createIssue(ctx context.Context, req *sdk.CreateRequest) (sdk.TicketRef, bool, error) {
	summary := truncateRunes(strings.TrimSpace(strings.ReplaceAll(req.Ticket.Title, "\n", " ")), 255)
	if summary == "" {
		summary = "Azure Monitor alert " + req.Alert.Rule
	}
	if st.mode == modeIssue {
		fields, _, err := st.ticketFields(req, false)
		if err != nil {
			return sdk.TicketRef{}, false, err
		}
		fields["project"] = map[string]string{"id": st.projectID}
		fields["issuetype"] = map[string]string{"id": st.issueTypeID}
		fields["summary"] = summary
		fields["description"] = textToADF(req.Ticket.Description)
		body := map[string]any{
			"fields":     fields,
			"properties": []any{map[string]any{"key": st.cfg.Correlation.Property, "value": st.propertyValue(req)}},
		}
		var created struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		}
		if err := st.client.do(ctx, "create issue", http.MethodPost, "/rest/api/3/issue", nil, body, &created); err != nil {
			return sdk.TicketRef{}, false, err
		}
		return st.ref(created.ID, created.Key), true, nil
	}
	values, err := st.requestFieldValues(req)
	if err != nil {
		return sdk.TicketRef{}, false, err
	}
	values["summary"] = summary
	if st.rtFields["description"] && strings.TrimSpace(req.Ticket.Description) != "" {
		values["description"] = req.Ticket.Description
	}
	body := map[string]any{
		"serviceDeskId": st.serviceDeskID, "requestTypeId": st.requestTypeID,
		"requestFieldValues": values, "isAdfRequest": false,
	}
	var created struct {
		IssueID  string `json:"issueId"`
		IssueKey string `json:"issueKey"`
	}
	if err := st.client.do(ctx, "create request", http.MethodPost, "/rest/servicedeskapi/request", nil, body, &created); err != nil {
		return sdk.TicketRef{}, false, err
	}
	return st.ref(created.IssueID, created.IssueKey), false, nil
}

// ticketFields converts the configured and route fields, the priority and
// the correlation into Jira field values. With rest set it returns only what
// a JSM request could not take (fields off the request type) as fields, and
// the correlation label as an update; otherwise everything as fields.
func (st *state) ticketFields(req *sdk.CreateRequest, rest bool) (map[string]any, map[string]any, error) {
	all, err := st.allFields(req)
	if err != nil {
		return nil, nil, err
	}
	fields := map[string]any{}
	update := map[string]any{}
	for id, v := range all {
		if rest && st.rtFields[id] {
			continue
		}
		if rest && id == "labels" {
			// Add, never replace: someone may have labelled the issue since.
			var ops []any
			for _, l := range v.([]string) {
				ops = append(ops, map[string]any{"add": l})
			}
			update["labels"] = ops
			continue
		}
		fields[id] = v
	}
	return fields, update, nil
}

// requestFieldValues is the part of the fields a JSM request type accepts.
func (st *state) requestFieldValues(req *sdk.CreateRequest) (map[string]any, error) {
	all, err := st.allFields(req)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for id, v := range all {
		if st.rtFields[id] {
			out[id] = v
		}
	}
	return out, nil
}

// allFields is every field value for a new issue except summary and
// description: extra fields (config, then route), priority, correlation.
func (st *state) allFields(req *sdk.CreateRequest) (map[string]any, error) {
	out := map[string]any{}
	if name := st.cfg.priorityFor(req.Ticket.Severity); name != "" {
		out["priority"] = map[string]string{"name": st.priorities[strings.ToLower(name)]}
	}
	var labels []string
	for _, src := range []map[string]string{st.cfg.Fields, req.Ticket.Fields} {
		keys := make([]string, 0, len(src))
		for k := range src {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			f, ok := st.field(k)
			if !ok {
				return nil, permanentf("ticket field %q: Jira has no such field", k)
			}
			if f.ID == "summary" || f.ID == "description" {
				continue // rendered from the ticket title and description
			}
			v, err := convertField(f, src[k])
			if err != nil {
				return nil, sdk.Permanent(fmt.Errorf("ticket field %q: %w", k, err))
			}
			if f.ID == "labels" {
				labels = append(labels, v.([]string)...)
				continue
			}
			out[f.ID] = v
		}
	}
	switch st.cfg.Correlation.Type {
	case corrField:
		out[st.corrField.ID] = req.TicketKey
	case corrLabel:
		labels = append(labels, labelFor(req.TicketKey))
	}
	if len(labels) > 0 {
		out["labels"] = dedupe(labels)
	}
	return out, nil
}

func dedupe(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// convertField turns a string value into the JSON a field of f's type takes.
func convertField(f fieldDef, v string) (any, error) {
	trimmed := strings.TrimSpace(v)
	if (strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[")) && json.Valid([]byte(trimmed)) {
		return json.RawMessage(trimmed), nil
	}
	split := func() []string {
		var out []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	switch f.Schema.Type {
	case "number":
		n, err := strconv.ParseFloat(trimmed, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", v)
		}
		return n, nil
	case "option":
		return map[string]string{"value": v}, nil
	case "priority", "component", "version", "resolution", "issuetype":
		return map[string]string{"name": v}, nil
	case "user":
		return map[string]string{"accountId": v}, nil
	case "array":
		items := split()
		switch f.Schema.Items {
		case "string":
			if f.ID == "labels" {
				for _, l := range items {
					if strings.ContainsAny(l, " \t") {
						return nil, fmt.Errorf("label %q contains spaces", l)
					}
				}
			}
			return items, nil
		case "option":
			var out []map[string]string
			for _, s := range items {
				out = append(out, map[string]string{"value": s})
			}
			return out, nil
		case "component", "version":
			var out []map[string]string
			for _, s := range items {
				out = append(out, map[string]string{"name": s})
			}
			return out, nil
		case "user":
			var out []map[string]string
			for _, s := range items {
				out = append(out, map[string]string{"accountId": s})
			}
			return out, nil
		}
		return nil, fmt.Errorf("field of type array of %q takes a JSON value", f.Schema.Items)
	}
	return v, nil
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Find implements sdk.Finder: the open issue carrying the key, or nil.
func (p *Plugin) Find(ctx context.Context, req *sdk.FindRequest) (*sdk.TicketRef, error) {
	st, err := p.state()
	if err != nil {
		return nil, err
	}
	if req.TicketKey == "" {
		return nil, sdk.Permanent(errEmptyKey)
	}
	f, pendingSince, err := st.lookup(ctx, req.TicketKey)
	if err != nil {
		return nil, err
	}
	if f != nil {
		return &f.ref, nil
	}
	if !pendingSince.IsZero() {
		if wait := pendingSince.Add(st.searchLag).Sub(st.now()); wait > 0 {
			return nil, pendingError(req.TicketKey, pendingSince, wait)
		}
	}
	return nil, nil
}

// target resolves the issue an operation addresses: the host's stored ref
// is authoritative; without one the ticket key is looked up.
func (st *state) target(ctx context.Context, ref sdk.TicketRef, key string) (string, error) {
	if ref.ID != "" {
		return ref.ID, nil
	}
	if ref.Number != "" {
		return ref.Number, nil
	}
	if key == "" {
		return "", permanentf("no ticket reference and no ticket key")
	}
	f, _, err := st.lookup(ctx, key)
	if err != nil {
		return "", err
	}
	if f == nil {
		return "", permanentf("no open Jira issue carries ticket key %q", key)
	}
	return f.ref.ID, nil
}

// transitionView is one entry of GET …/transitions?expand=transitions.fields.
type transitionView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	To   struct {
		Name           string `json:"name"`
		StatusCategory struct {
			Key string `json:"key"`
		} `json:"statusCategory"`
	} `json:"to"`
	Fields map[string]struct {
		Required      bool `json:"required"`
		AllowedValues []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"allowedValues"`
	} `json:"fields"`
}

func (st *state) transitions(ctx context.Context, issue string) ([]transitionView, error) {
	var resp struct {
		Transitions []transitionView `json:"transitions"`
	}
	path := "/rest/api/3/issue/" + url.PathEscape(issue) + "/transitions"
	if err := st.client.do(ctx, "list transitions of "+issue, http.MethodGet, path, url.Values{"expand": {"transitions.fields"}}, nil, &resp); err != nil {
		return nil, err
	}
	return resp.Transitions, nil
}

// pickTransition chooses a transition by configured name or target status,
// else by preference, among those whose target category satisfies ok.
func pickTransition(ts []transitionView, configured string, prefer []string, ok func(cat string) bool) *transitionView {
	if configured != "" {
		for i := range ts {
			if strings.EqualFold(ts[i].Name, configured) {
				return &ts[i]
			}
		}
		for i := range ts {
			if strings.EqualFold(ts[i].To.Name, configured) {
				return &ts[i]
			}
		}
		return nil
	}
	for _, p := range prefer {
		for i := range ts {
			if ok(ts[i].To.StatusCategory.Key) && (strings.EqualFold(ts[i].Name, p) || strings.EqualFold(ts[i].To.Name, p)) {
				return &ts[i]
			}
		}
	}
	for i := range ts {
		if ok(ts[i].To.StatusCategory.Key) {
			return &ts[i]
		}
	}
	return nil
}

func names(ts []transitionView) string {
	var out []string
	for _, t := range ts {
		out = append(out, fmt.Sprintf("%q → %s", t.Name, t.To.Name))
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}

// Resolve implements sdk.Plugin. An issue already in a Done-category status
// is left alone.
func (p *Plugin) Resolve(ctx context.Context, req *sdk.ResolveRequest) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	issue, err := st.target(ctx, req.Ref, req.TicketKey)
	if err != nil {
		return err
	}
	iv, err := st.getIssue(ctx, issue, "status")
	if err != nil {
		return err
	}
	if iv.Fields.Status.StatusCategory.Key == "done" {
		st.forget(ctx, req.TicketKey)
		return nil
	}
	ts, err := st.transitions(ctx, issue)
	if err != nil {
		return err
	}
	isDone := func(cat string) bool { return cat == "done" }
	t := pickTransition(ts, st.cfg.ResolveTransition, []string{"Resolve", "Resolve this issue", "Resolved", "Done", "Close", "Closed"}, isDone)
	if t == nil || !isDone(t.To.StatusCategory.Key) {
		return permanentf("resolve %s: no transition %s to a Done status from %q; available: %s",
			iv.Key, quoteOr(st.cfg.ResolveTransition), iv.Fields.Status.Name, names(ts))
	}
	body := map[string]any{"transition": map[string]string{"id": t.ID}}
	if rf, ok := t.Fields["resolution"]; ok {
		res, err := chooseResolution(st.cfg.Resolution, rf.AllowedValues, rf.Required)
		if err != nil {
			return sdk.Permanent(fmt.Errorf("resolve %s with transition %q: %w", iv.Key, t.Name, err))
		}
		if res != "" {
			body["fields"] = map[string]any{"resolution": map[string]string{"name": res}}
		}
	}
	if _, ok := t.Fields["comment"]; ok {
		text := "Azure Monitor alert resolved"
		if req.Alert.ResolvedAt != "" {
			text += " at " + req.Alert.ResolvedAt
		}
		body["update"] = map[string]any{"comment": []any{map[string]any{"add": map[string]any{"body": textToADF(text + ".")}}}}
	}
	if err := st.doTransition(ctx, issue, body, "done"); err != nil {
		return fmt.Errorf("resolve %s with transition %q (id %s): %w", iv.Key, t.Name, t.ID, err)
	}
	st.log.Info("resolved issue", "issue", iv.Key, "transition", t.Name, "transition_id", t.ID)
	st.forget(ctx, req.TicketKey)
	return nil
}

// forget drops the dedup records of a resolved key: a later create for the
// same key is a new incident.
func (st *state) forget(ctx context.Context, key string) {
	if key == "" {
		return
	}
	st.recent.drop(key)
	st.ledgerDelete(ctx, key)
}

func quoteOr(s string) string {
	if s == "" {
		return "(automatic)"
	}
	return strconv.Quote(s)
}

// chooseResolution picks the configured resolution among the allowed ones.
func chooseResolution(want string, allowed []struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}, required bool) (string, error) {
	if len(allowed) == 0 {
		return want, nil
	}
	var have []string
	for _, a := range allowed {
		if strings.EqualFold(a.Name, want) {
			return a.Name, nil
		}
		have = append(have, a.Name)
	}
	if !required && want == "" {
		return "", nil
	}
	return "", fmt.Errorf("resolution %q is not offered; the screen allows %s", want, quoteList(have))
}

// doTransition posts a transition. A 400 because another actor moved the
// issue first is success when the issue already is where we wanted it.
func (st *state) doTransition(ctx context.Context, issue string, body any, wantCat string) error {
	path := "/rest/api/3/issue/" + url.PathEscape(issue) + "/transitions"
	err := st.client.do(ctx, "transition", http.MethodPost, path, nil, body, nil)
	if err == nil || status(err) != http.StatusBadRequest {
		return err
	}
	if iv, gerr := st.getIssue(ctx, issue, "status"); gerr == nil {
		cat := iv.Fields.Status.StatusCategory.Key
		if (wantCat == "done") == (cat == "done") {
			return nil
		}
	}
	return err
}

// Reopen implements sdk.Reopener. An issue not in a Done-category status is
// left alone.
func (p *Plugin) Reopen(ctx context.Context, req *sdk.ReopenRequest) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	issue, err := st.target(ctx, req.Ref, req.TicketKey)
	if err != nil {
		return err
	}
	iv, err := st.getIssue(ctx, issue, "status")
	if err != nil {
		return err
	}
	if iv.Fields.Status.StatusCategory.Key != "done" {
		return nil
	}
	ts, err := st.transitions(ctx, issue)
	if err != nil {
		return err
	}
	notDone := func(cat string) bool { return cat != "done" }
	t := pickTransition(ts, st.cfg.ReopenTransition, []string{"Reopen", "Reopen issue", "Back to in progress", "Reopened", "Open", "To Do"}, notDone)
	if t == nil || !notDone(t.To.StatusCategory.Key) {
		return permanentf("reopen %s: no transition %s out of %q; available: %s",
			iv.Key, quoteOr(st.cfg.ReopenTransition), iv.Fields.Status.Name, names(ts))
	}
	if err := st.doTransition(ctx, issue, map[string]any{"transition": map[string]string{"id": t.ID}}, "open"); err != nil {
		return fmt.Errorf("reopen %s with transition %q (id %s): %w", iv.Key, t.Name, t.ID, err)
	}
	st.log.Info("reopened issue", "issue", iv.Key, "transition", t.Name, "transition_id", t.ID)
	if req.TicketKey != "" {
		ref := req.Ref
		if ref.ID == "" {
			ref = st.ref(iv.ID, iv.Key)
		}
		st.recent.put(req.TicketKey, recentEntry{ref: ref, complete: true, at: st.now()})
	}
	return nil
}

// Comment implements sdk.Commenter: a JSM comment (internal unless
// public_comments) in servicedesk mode, an ADF comment otherwise.
func (p *Plugin) Comment(ctx context.Context, req *sdk.CommentRequest) error {
	st, err := p.state()
	if err != nil {
		return err
	}
	issue, err := st.target(ctx, req.Ref, req.TicketKey)
	if err != nil {
		return err
	}
	text := strings.TrimSpace(req.Text)
	if text == "" {
		return permanentf("comment on %s: empty text", issue)
	}
	if st.mode == modeServiceDesk {
		body := map[string]any{"body": text, "public": st.cfg.PublicComments}
		err := st.client.do(ctx, "comment on "+issue, http.MethodPost, "/rest/servicedeskapi/request/"+url.PathEscape(issue)+"/comment", nil, body, nil)
		if status(err) != http.StatusNotFound {
			return err
		}
		// Not a customer request (created outside JSM): use the platform API.
	}
	body := map[string]any{"body": textToADF(text)}
	if st.serviceProject && !st.cfg.PublicComments {
		body["properties"] = []any{map[string]any{"key": "sd.public.comment", "value": map[string]bool{"internal": true}}}
	}
	return st.client.do(ctx, "comment on "+issue, http.MethodPost, "/rest/api/3/issue/"+url.PathEscape(issue)+"/comment", nil, body, nil)
}
