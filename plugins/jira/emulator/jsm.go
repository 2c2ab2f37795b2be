package emulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// paged wraps values in JSM's PagedDTO envelope, honouring start/limit.
func paged[T any](c *call, values []T) map[string]any {
	q := c.r.URL.Query()
	start, _ := strconv.Atoi(q.Get("start"))
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 {
		limit = 50
	}
	start = min(max(start, 0), len(values))
	end := min(start+limit, len(values))
	page := values[start:end]
	if page == nil {
		page = []T{}
	}
	return map[string]any{
		"_expands":   []string{},
		"size":       len(page),
		"start":      start,
		"limit":      limit,
		"isLastPage": end >= len(values),
		"values":     page,
		"_links":     map[string]any{"base": c.base + "/rest/servicedeskapi", "context": "", "self": c.base + c.r.URL.Path},
	}
}

func (e *Emulator) serviceDesk(id string) *project {
	for _, p := range e.projects {
		if p.ServiceDeskID != "" && p.ServiceDeskID == id {
			return p
		}
	}
	return nil
}

func (e *Emulator) getServiceDesks(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []map[string]any
	for _, id := range []string{"10000", "10001"} {
		p := e.projects[id]
		if p == nil || p.ServiceDeskID == "" {
			continue
		}
		out = append(out, map[string]any{
			"id": p.ServiceDeskID, "projectId": p.ID, "projectKey": p.Key, "projectName": p.Name,
			"_links": map[string]any{"self": c.base + "/rest/servicedeskapi/servicedesk/" + p.ServiceDeskID},
		})
	}
	writeJSON(c.w, http.StatusOK, paged(c, out))
}

func (e *Emulator) renderRequestType(c *call, rt *requestType) map[string]any {
	return map[string]any{
		"id": rt.ID, "name": rt.Name, "description": rt.Description, "helpText": "",
		"issueTypeId": rt.IssueTypeID, "serviceDeskId": rt.ServiceDeskID, "portalId": rt.ServiceDeskID,
		"groupIds": []string{"1"},
		"_links":   map[string]any{"self": c.base + "/rest/servicedeskapi/servicedesk/" + rt.ServiceDeskID + "/requesttype/" + rt.ID},
	}
}

func (e *Emulator) getRequestTypes(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	sd := c.r.PathValue("serviceDeskId")
	if e.serviceDesk(sd) == nil {
		writeJSMError(c.w, http.StatusNotFound, "The service desk with ID "+sd+" does not exist.", "sd.servicedesk.error.not.found", []string{sd})
		return
	}
	search := strings.ToLower(c.r.URL.Query().Get("searchQuery"))
	out := []map[string]any{}
	for _, rt := range e.requestTypes {
		if rt.ServiceDeskID == sd && strings.Contains(strings.ToLower(rt.Name), search) {
			out = append(out, e.renderRequestType(c, rt))
		}
	}
	writeJSON(c.w, http.StatusOK, paged(c, out))
}

func (e *Emulator) requestType(sd, id string) *requestType {
	for _, rt := range e.requestTypes {
		if rt.ServiceDeskID == sd && rt.ID == id {
			return rt
		}
	}
	return nil
}

func (e *Emulator) getRequestTypeFields(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	rt := e.requestType(c.r.PathValue("serviceDeskId"), c.r.PathValue("requestTypeId"))
	if rt == nil {
		writeJSMError(c.w, http.StatusNotFound, "The request type does not exist.", "sd.requesttype.error.not.found", nil)
		return
	}
	fields := []map[string]any{}
	for _, rf := range rt.Fields {
		f := e.fieldByID(rf.FieldID)
		schema := map[string]any{"type": f.Schema.Type}
		if f.Schema.Items != "" {
			schema["items"] = f.Schema.Items
		}
		if f.Custom {
			schema["custom"], schema["customId"] = f.Schema.Custom, f.Schema.CustomID
		} else {
			schema["system"] = f.Schema.System
		}
		valid := []map[string]any{}
		for _, o := range f.Options {
			valid = append(valid, map[string]any{"value": o.ID, "label": o.Value, "children": []any{}})
		}
		if f.ID == "priority" {
			for _, p := range e.priorities {
				valid = append(valid, map[string]any{"value": p.ID, "label": p.Name, "children": []any{}})
			}
		}
		fields = append(fields, map[string]any{
			"fieldId": rf.FieldID, "name": rf.Name, "description": "", "required": rf.Required, "visible": true,
			"validValues": valid, "defaultValues": []any{}, "presetValues": []string{}, "jiraSchema": schema,
		})
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"requestTypeFields": fields, "canRaiseOnBehalfOf": true, "canAddRequestParticipants": true})
}

func (e *Emulator) renderUserDTO(c *call, u *user) map[string]any {
	return map[string]any{
		"accountId": u.AccountID, "displayName": u.DisplayName, "emailAddress": u.Email, "active": true, "timeZone": "Etc/UTC",
		"_links": map[string]any{"jiraRest": c.base + "/rest/api/2/user?accountId=" + u.AccountID, "self": c.base + "/rest/api/2/user?accountId=" + u.AccountID},
	}
}

var jsmCategory = map[string]string{"new": "NEW", "indeterminate": "INDETERMINATE", "done": "DONE"}

func (e *Emulator) renderRequest(c *call, is *issue) map[string]any {
	rt := e.requestTypeByID(is.RequestTypeID)
	st := e.statuses[is.StatusID]
	var values []map[string]any
	for _, rf := range rt.Fields {
		var v any
		switch rf.FieldID {
		case "summary":
			v = is.Summary
		case "description":
			if len(is.Description) == 0 {
				continue
			}
			v = adfText(is.Description)
		case "labels":
			v = is.Labels
		case "priority":
			p, ok := e.priorityByID(is.PriorityID)
			if !ok {
				continue
			}
			v = map[string]any{"id": p.ID, "name": p.Name}
		default:
			raw, ok := is.Custom[rf.FieldID]
			if !ok {
				continue
			}
			v = raw
		}
		values = append(values, map[string]any{"fieldId": rf.FieldID, "label": rf.Name, "value": v})
	}
	id := strconv.Itoa(is.ID)
	return map[string]any{
		"_expands":           []string{"participant", "status", "sla", "requestType", "serviceDesk", "attachment", "action", "comment"},
		"issueId":            id,
		"issueKey":           is.Key,
		"requestTypeId":      rt.ID,
		"serviceDeskId":      rt.ServiceDeskID,
		"createdDate":        dateDTO(is.Created),
		"reporter":           e.renderUserDTO(c, e.users[is.Reporter]),
		"requestFieldValues": values,
		"currentStatus":      map[string]any{"status": st.Name, "statusCategory": jsmCategory[st.Category.Key], "statusDate": dateDTO(is.Updated)},
		"_links": map[string]any{
			"jiraRest": c.base + "/rest/api/2/issue/" + id,
			"web":      c.base + "/servicedesk/customer/portal/" + rt.ServiceDeskID + "/" + is.Key,
			"agent":    c.base + "/browse/" + is.Key,
			"self":     c.base + "/rest/servicedeskapi/request/" + id,
		},
	}
}

func (e *Emulator) requestTypeByID(id string) *requestType {
	for _, rt := range e.requestTypes {
		if rt.ID == id {
			return rt
		}
	}
	return nil
}

func (e *Emulator) createRequest(c *call) {
	var req struct {
		ServiceDeskID       string                     `json:"serviceDeskId"`
		RequestTypeID       string                     `json:"requestTypeId"`
		RequestFieldValues  map[string]json.RawMessage `json:"requestFieldValues"`
		IsAdfRequest        bool                       `json:"isAdfRequest"`
		RaiseOnBehalfOf     string                     `json:"raiseOnBehalfOf"`
		RequestParticipants []string                   `json:"requestParticipants"`
		Channel             string                     `json:"channel"`
	}
	if !c.decodeBody(&req) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.serviceDesk(req.ServiceDeskID)
	if p == nil {
		writeJSMError(c.w, http.StatusBadRequest, "The service desk with ID "+req.ServiceDeskID+" does not exist.", "sd.servicedesk.error.not.found", []string{req.ServiceDeskID})
		return
	}
	rt := e.requestType(req.ServiceDeskID, req.RequestTypeID)
	if rt == nil {
		writeJSMError(c.w, http.StatusBadRequest, "The request type ID "+req.RequestTypeID+" doesn't match any request types available in service desk "+req.ServiceDeskID+".", "sd.requesttype.error.not.found", nil)
		return
	}
	if req.RaiseOnBehalfOf != "" && e.users[req.RaiseOnBehalfOf] == nil {
		writeJSMError(c.w, http.StatusBadRequest, "The user '"+req.RaiseOnBehalfOf+"' does not exist.", "sd.customer.error.not.found", nil)
		return
	}
	var problems []string
	keys := make([]string, 0, len(req.RequestFieldValues))
	for k := range req.RequestFieldValues {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if rt.field(k) == nil {
			problems = append(problems, "Field '"+k+"' is not valid for this request type.")
		}
	}
	for _, rf := range rt.Fields {
		if _, ok := req.RequestFieldValues[rf.FieldID]; rf.Required && !ok {
			problems = append(problems, rf.Name+" is required.")
		}
	}
	reporter := c.user.AccountID
	if req.RaiseOnBehalfOf != "" {
		reporter = req.RaiseOnBehalfOf
	}
	is := e.newIssue(p, e.issueTypes[rt.IssueTypeID], reporter)
	is.RequestTypeID = rt.ID
	if len(problems) == 0 {
		for _, k := range keys {
			if msg := e.setField(is, k, req.RequestFieldValues[k], req.IsAdfRequest); msg != "" {
				problems = append(problems, rt.field(k).Name+": "+msg)
			}
		}
	}
	if len(problems) > 0 {
		e.nextIssueID--
		p.nextNum--
		writeJSMError(c.w, http.StatusBadRequest, "Your request could not be created. Please check the fields have been correctly filled in. "+strings.Join(problems, " "),
			"sd.request.create.error.fields", problems)
		return
	}
	e.commit(is)
	writeJSON(c.w, http.StatusCreated, e.renderRequest(c, is))
}

// requestOr404 finds the path's issue and checks it is a customer request.
func (e *Emulator) requestOr404(c *call) *issue {
	is := e.lookupIssue(c.r.PathValue("issueIdOrKey"))
	if is == nil || is.RequestTypeID == "" {
		writeJSMError(c.w, http.StatusNotFound, "The request does not exist or you do not have permission to see it.", "sd.request.error.not.found", nil)
		return nil
	}
	return is
}

func (e *Emulator) getRequest(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if is := e.requestOr404(c); is != nil {
		writeJSON(c.w, http.StatusOK, e.renderRequest(c, is))
	}
}

func (e *Emulator) addRequestComment(c *call) {
	var req struct {
		Body   string `json:"body"`
		Public *bool  `json:"public"`
	}
	if !c.decodeBody(&req) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	is := e.requestOr404(c)
	if is == nil {
		return
	}
	if strings.TrimSpace(req.Body) == "" {
		writeJSMError(c.w, http.StatusBadRequest, "The comment body can't be empty.", "sd.comment.error.body.empty", nil)
		return
	}
	public := req.Public == nil || *req.Public
	e.nextCommentID++
	cm := comment{ID: strconv.Itoa(e.nextCommentID), Body: textToADF(req.Body), Public: public, Author: c.user.AccountID, Created: e.now()}
	is.Comments = append(is.Comments, cm)
	e.touch(is)
	writeJSON(c.w, http.StatusCreated, map[string]any{
		"_expands": []string{"attachment", "renderedBody"},
		"id":       cm.ID, "body": req.Body, "public": public,
		"author":  e.renderUserDTO(c, c.user),
		"created": dateDTO(cm.Created),
		"_links":  map[string]any{"self": c.base + "/rest/servicedeskapi/request/" + strconv.Itoa(is.ID) + "/comment/" + cm.ID},
	})
}

func (e *Emulator) customerTransitions(is *issue) []*transition {
	var out []*transition
	for _, t := range e.available(is) {
		if !t.AgentOnly {
			out = append(out, t)
		}
	}
	return out
}

func (e *Emulator) getCustomerTransitions(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	is := e.requestOr404(c)
	if is == nil {
		return
	}
	out := []map[string]any{}
	for _, t := range e.customerTransitions(is) {
		out = append(out, map[string]any{"id": t.ID, "name": t.Name})
	}
	writeJSON(c.w, http.StatusOK, paged(c, out))
}

func (e *Emulator) doCustomerTransition(c *call) {
	var req struct {
		ID                string `json:"id"`
		AdditionalComment *struct {
			Body string `json:"body"`
		} `json:"additionalComment"`
	}
	if !c.decodeBody(&req) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	is := e.requestOr404(c)
	if is == nil {
		return
	}
	var t *transition
	for _, a := range e.customerTransitions(is) {
		if a.ID == req.ID {
			t = a
		}
	}
	if t == nil {
		writeJSMError(c.w, http.StatusBadRequest, "The transition with ID '"+req.ID+"' is not valid for this request.", "sd.request.transition.error.invalid", []string{req.ID})
		return
	}
	// A customer cannot fill a transition screen: a resolution on the screen
	// gets the default resolution, as JSM's customer transitions do.
	resolutionSet := false
	if t.onScreen("resolution") {
		is.ResolutionID, resolutionSet = e.resolutions[0].ID, true
	}
	e.applyTransition(is, t, resolutionSet)
	if req.AdditionalComment != nil && strings.TrimSpace(req.AdditionalComment.Body) != "" {
		e.nextCommentID++
		is.Comments = append(is.Comments, comment{ID: strconv.Itoa(e.nextCommentID), Body: textToADF(req.AdditionalComment.Body), Public: true, Author: c.user.AccountID, Created: e.now()})
	}
	e.touch(is)
	writeNoContent(c.w)
}

func (e *Emulator) getAssetsWorkspaces(c *call) {
	writeJSON(c.w, http.StatusOK, paged(c, []map[string]any{{"workspaceId": SeedWorkspaceID}}))
}
