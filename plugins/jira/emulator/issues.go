package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

const notOnScreen = "Field '%s' cannot be set. It is not on the appropriate screen, or unknown."

// lookupIssue finds an issue by id or key (lock held).
func (e *Emulator) lookupIssue(idOrKey string) *issue {
	if n, err := strconv.Atoi(idOrKey); err == nil {
		return e.issuesByID[n]
	}
	return e.issues[strings.ToUpper(idOrKey)]
}

// issueOr404 looks the path's issue up or answers 404 in the API's format.
func (e *Emulator) issueOr404(c *call) *issue {
	is := e.lookupIssue(c.r.PathValue("issueIdOrKey"))
	if is == nil {
		writeAPIError(c.w, apiOf(c.r.URL.Path), http.StatusNotFound,
			"Issue does not exist or you do not have permission to see it.", "sd.request.notfound", nil)
	}
	return is
}

func (e *Emulator) lookupProject(idOrKey string) *project {
	for _, p := range e.projects {
		if p.ID == idOrKey || strings.EqualFold(p.Key, idOrKey) {
			return p
		}
	}
	return nil
}

// touch records a write: the issue's updated time and a search snapshot that
// becomes visible after the search lag.
func (e *Emulator) touch(is *issue) {
	now := e.now()
	is.Updated = now
	snaps := e.index[is.ID]
	// Drop snapshots superseded by one that is already visible.
	for i := len(snaps) - 1; i > 0; i-- {
		if !snaps[i].At.After(now) {
			snaps = snaps[i:]
			break
		}
	}
	e.index[is.ID] = append(snaps, snapshot{At: now.Add(e.searchLag), Issue: is.clone()})
}

// indexed returns what search currently sees of issue id (nil: invisible).
func (e *Emulator) indexed(id int, now time.Time) *issue {
	snaps := e.index[id]
	for i := len(snaps) - 1; i >= 0; i-- {
		if !snaps[i].At.After(now) {
			return snaps[i].Issue
		}
	}
	return nil
}

// ref is a Jira object reference such as {"id":"1"} or {"name":"High"}.
type ref struct {
	ID    string `json:"id"`
	Key   string `json:"key"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

func parseRef(raw json.RawMessage) (ref, bool) {
	var r ref
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, false
	}
	return r, true
}

// cmdbRef is an Assets object reference in an Assets custom field.
type cmdbRef struct {
	WorkspaceID string `json:"workspaceId"`
	ID          string `json:"id"`
	ObjectID    string `json:"objectId"`
}

// setField validates and stores one field value. adf tells whether
// description must be an ADF document (platform v3) or may be plain text
// (JSM without isAdfRequest). It returns a field error message or "".
func (e *Emulator) setField(is *issue, id string, raw json.RawMessage, adf bool) string {
	f := e.fieldByID(id)
	if f == nil || !f.Editable {
		return fmt.Sprintf(notOnScreen, id)
	}
	isNull := bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
	switch id {
	case "summary":
		var s string
		if json.Unmarshal(raw, &s) != nil || strings.TrimSpace(s) == "" {
			return "You must specify a summary of the issue."
		}
		if len(s) > 255 {
			return "Summary must be less than 255 characters."
		}
		is.Summary = s
	case "description":
		if isNull {
			is.Description = nil
			return ""
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if adf {
				return "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
			}
			is.Description = textToADF(s)
			return ""
		}
		if !validADF(raw) {
			return "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
		}
		is.Description = append(json.RawMessage(nil), raw...)
	case "priority":
		r, ok := parseRef(raw)
		if !ok {
			return "Could not find valid 'id' or 'name' in priority object."
		}
		for _, p := range e.priorities {
			if (r.ID != "" && p.ID == r.ID) || (r.Name != "" && strings.EqualFold(p.Name, r.Name)) {
				is.PriorityID = p.ID
				return ""
			}
		}
		if r.Name != "" {
			return "Priority name '" + r.Name + "' is not valid"
		}
		return "Could not find valid 'id' or 'name' in priority object."
	case "labels":
		var labels []string
		if json.Unmarshal(raw, &labels) != nil {
			return "Operation value must be an array of strings"
		}
		for _, l := range labels {
			if msg := checkLabel(l); msg != "" {
				return msg
			}
		}
		is.Labels = dedupe(labels)
	default:
		if isNull {
			delete(is.Custom, id)
			return ""
		}
		v, msg := e.customValue(f, raw)
		if msg != "" {
			return msg
		}
		is.Custom[id] = v
	}
	return ""
}

func checkLabel(l string) string {
	switch {
	case l == "":
		return "Label cannot be empty."
	case strings.ContainsAny(l, " \t\n"):
		return "The label '" + l + "' contains spaces which is invalid."
	case len(l) > 255:
		return "The label '" + l + "' exceeds the 255 character limit."
	}
	return ""
}

func dedupe(in []string) []string {
	out := []string{}
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// customValue normalizes a custom field value or returns an error message.
func (e *Emulator) customValue(f *field, raw json.RawMessage) (json.RawMessage, string) {
	switch f.Schema.Type {
	case "string":
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, "Operation value must be a string"
		}
		if len(s) > 255 {
			return nil, "The entered text is too long. It exceeds the allowed limit of 255 characters."
		}
		return raw, ""
	case "option":
		r, ok := parseRef(raw)
		if !ok {
			return nil, "Could not find valid 'id' or 'value' in the Parent Option object."
		}
		for _, o := range f.Options {
			if (r.ID != "" && o.ID == r.ID) || (r.Value != "" && o.Value == r.Value) {
				b, _ := json.Marshal(map[string]string{"self": "/rest/api/3/customFieldOption/" + o.ID, "value": o.Value, "id": o.ID})
				return b, ""
			}
		}
		return nil, "Option value '" + r.Value + r.ID + "' is not valid"
	case "array":
		if f.Schema.Items == "cmdb-object" {
			var refs []cmdbRef
			if json.Unmarshal(raw, &refs) != nil {
				return nil, "Expected an array of Assets object references"
			}
			refs, msg := e.checkCMDBRefs(refs)
			if msg != "" {
				return nil, msg
			}
			b, _ := json.Marshal(refs)
			return b, ""
		}
	}
	return nil, fmt.Sprintf(notOnScreen, f.ID)
}

func (e *Emulator) checkCMDBRefs(refs []cmdbRef) ([]cmdbRef, string) {
	out := []cmdbRef{}
	for _, r := range refs {
		oid := r.ObjectID
		if oid == "" {
			_, oid, _ = strings.Cut(r.ID, ":")
		}
		if r.WorkspaceID != SeedWorkspaceID || e.objects[oid] == nil {
			return nil, "Assets object '" + r.ID + "' does not exist in workspace '" + r.WorkspaceID + "'."
		}
		n := cmdbRef{WorkspaceID: SeedWorkspaceID, ID: SeedWorkspaceID + ":" + oid, ObjectID: oid}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, ""
}

// applyUpdate runs the `update` operations of a create or edit request.
func (e *Emulator) applyUpdate(is *issue, update map[string][]map[string]json.RawMessage, author string, errs map[string]string) {
	for id, ops := range update {
		for _, op := range ops {
			for verb, val := range op {
				if msg := e.updateOp(is, id, verb, val, author); msg != "" {
					errs[id] = msg
				}
			}
		}
	}
}

func (e *Emulator) updateOp(is *issue, id, verb string, val json.RawMessage, author string) string {
	switch {
	case id == "labels":
		var items []string
		var one string
		if json.Unmarshal(val, &one) == nil {
			items = []string{one}
		} else if json.Unmarshal(val, &items) != nil {
			return "Operation value must be a string"
		}
		for _, l := range items {
			if msg := checkLabel(l); msg != "" {
				return msg
			}
		}
		switch verb {
		case "add":
			is.Labels = dedupe(append(is.Labels, items...))
		case "remove":
			is.Labels = slices.DeleteFunc(is.Labels, func(l string) bool { return slices.Contains(items, l) })
		case "set":
			is.Labels = dedupe(items)
		default:
			return "Unsupported operation '" + verb + "' for labels"
		}
		return ""
	case id == "comment":
		if verb != "add" {
			return "Unsupported operation '" + verb + "' for comment"
		}
		var body struct {
			Body json.RawMessage `json:"body"`
		}
		if json.Unmarshal(val, &body) != nil || !validADF(body.Body) {
			return "Comment body must be an Atlassian Document (see the Atlassian Document Format)"
		}
		e.nextCommentID++
		is.Comments = append(is.Comments, comment{ID: strconv.Itoa(e.nextCommentID), Body: body.Body, Public: true, Author: author, Created: e.now()})
		return ""
	}
	f := e.fieldByID(id)
	if f == nil || !f.Editable {
		return fmt.Sprintf(notOnScreen, id)
	}
	if f.Schema.Items == "cmdb-object" && (verb == "add" || verb == "remove") {
		var refs []cmdbRef
		var one cmdbRef
		if json.Unmarshal(val, &one) == nil && one.ID+one.ObjectID != "" {
			refs = []cmdbRef{one}
		} else if json.Unmarshal(val, &refs) != nil {
			return "Expected an Assets object reference"
		}
		refs, msg := e.checkCMDBRefs(refs)
		if msg != "" {
			return msg
		}
		var cur []cmdbRef
		_ = json.Unmarshal(is.Custom[id], &cur)
		if verb == "add" {
			for _, r := range refs {
				if !slices.Contains(cur, r) {
					cur = append(cur, r)
				}
			}
		} else {
			cur = slices.DeleteFunc(cur, func(r cmdbRef) bool { return slices.Contains(refs, r) })
		}
		if len(cur) == 0 {
			delete(is.Custom, id)
		} else {
			is.Custom[id], _ = json.Marshal(cur)
		}
		return ""
	}
	if verb != "set" {
		return "Unsupported operation '" + verb + "' for field '" + id + "'"
	}
	return e.setField(is, id, val, true)
}

// Platform handlers.

func (e *Emulator) getMyself(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.renderUser(c.base, c.user)
	u["locale"] = "en_US"
	writeJSON(c.w, http.StatusOK, u)
}

func (e *Emulator) getServerInfo(c *call) {
	writeJSON(c.w, http.StatusOK, map[string]any{
		"baseUrl": c.base, "displayUrl": c.base, "version": "1001.0.0-SNAPSHOT", "versionNumbers": []int{1001, 0, 0},
		"deploymentType": "Cloud", "buildNumber": 100280, "serverTitle": "Jira (itsmbridge emulator)",
		"serverTime": jiraTime(e.now()),
	})
}

func (e *Emulator) getProject(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.lookupProject(c.r.PathValue("projectIdOrKey"))
	if p == nil {
		writePlatformError(c.w, http.StatusNotFound, []string{"No project could be found with key '" + c.r.PathValue("projectIdOrKey") + "'."}, nil)
		return
	}
	out := e.renderProjectRef(c.base, p)
	var its []map[string]any
	for _, id := range p.IssueTypes {
		its = append(its, e.renderIssueType(c.base, e.issueTypes[id]))
	}
	out["issueTypes"] = its
	out["description"] = ""
	out["style"] = "classic"
	out["isPrivate"] = false
	out["lead"] = e.renderUser(c.base, e.agent())
	delete(out["lead"].(map[string]any), "timeZone")
	delete(out["lead"].(map[string]any), "emailAddress")
	writeJSON(c.w, http.StatusOK, out)
}

func (e *Emulator) getFields(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []map[string]any{}
	for _, f := range e.fields {
		schema := map[string]any{"type": f.Schema.Type}
		if f.Schema.Items != "" {
			schema["items"] = f.Schema.Items
		}
		if f.Schema.System != "" {
			schema["system"] = f.Schema.System
		}
		if f.Custom {
			schema["custom"] = f.Schema.Custom
			schema["customId"] = f.Schema.CustomID
		}
		out = append(out, map[string]any{
			"id": f.ID, "key": f.ID, "name": f.Name, "custom": f.Custom, "orderable": f.Editable,
			"navigable": true, "searchable": true, "clauseNames": f.Clauses, "schema": schema,
		})
	}
	writeJSON(c.w, http.StatusOK, out)
}

func (e *Emulator) getPriorities(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []map[string]any{}
	for _, p := range e.priorities {
		m := e.renderPriority(c.base, p)
		m["description"] = p.Name + " priority."
		m["statusColor"] = "#ffab00"
		out = append(out, m)
	}
	writeJSON(c.w, http.StatusOK, out)
}

func (e *Emulator) getResolutions(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []map[string]any{}
	for _, r := range e.resolutions {
		out = append(out, e.renderResolution(c.base, r))
	}
	writeJSON(c.w, http.StatusOK, out)
}

type issueWrite struct {
	Fields     map[string]json.RawMessage              `json:"fields"`
	Update     map[string][]map[string]json.RawMessage `json:"update"`
	Properties []struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	} `json:"properties"`
}

// newIssue allocates an issue in p (lock held); the caller fills fields.
func (e *Emulator) newIssue(p *project, it *issueType, reporter string) *issue {
	e.nextIssueID++
	p.nextNum++
	now := e.now()
	wf := p.Workflows[it.ID]
	return &issue{
		ID: e.nextIssueID, Key: p.Key + "-" + strconv.Itoa(p.nextNum), ProjectID: p.ID, IssueTypeID: it.ID,
		StatusID: wf.Initial, PriorityID: "3", Labels: []string{}, Created: now, Updated: now, Reporter: reporter,
		Custom: map[string]json.RawMessage{}, Properties: map[string]json.RawMessage{},
	}
}

func (e *Emulator) commit(is *issue) {
	e.issues[is.Key] = is
	e.issuesByID[is.ID] = is
	e.touch(is)
}

func (e *Emulator) createIssue(c *call) {
	var req issueWrite
	if !c.decodeBody(&req) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	errs := map[string]string{}
	var p *project
	if r, ok := parseRef(req.Fields["project"]); ok {
		p = e.lookupProject(r.Key + r.ID)
	}
	if p == nil {
		errs["project"] = "Specify a valid project ID or key"
	}
	var it *issueType
	if r, ok := parseRef(req.Fields["issuetype"]); ok && p != nil {
		for _, id := range p.IssueTypes {
			if id == r.ID || (r.Name != "" && strings.EqualFold(e.issueTypes[id].Name, r.Name)) {
				it = e.issueTypes[id]
			}
		}
	}
	if it == nil {
		errs["issuetype"] = "Specify an issue type"
	}
	if len(errs) > 0 {
		writePlatformError(c.w, http.StatusBadRequest, nil, errs)
		return
	}
	is := e.newIssue(p, it, c.user.AccountID)
	if _, ok := req.Fields["summary"]; !ok {
		errs["summary"] = "You must specify a summary of the issue."
	}
	for id, raw := range req.Fields {
		if id == "project" || id == "issuetype" {
			continue
		}
		if msg := e.setField(is, id, raw, true); msg != "" {
			errs[id] = msg
		}
	}
	e.applyUpdate(is, req.Update, c.user.AccountID, errs)
	for _, pr := range req.Properties {
		if msg := checkProperty(pr.Key, pr.Value); msg != "" {
			errs["properties"] = msg
			continue
		}
		is.Properties[pr.Key] = pr.Value
	}
	if len(errs) > 0 {
		// Nothing was created: give the number back.
		e.nextIssueID--
		p.nextNum--
		writePlatformError(c.w, http.StatusBadRequest, nil, errs)
		return
	}
	e.commit(is)
	writeJSON(c.w, http.StatusCreated, map[string]any{"id": strconv.Itoa(is.ID), "key": is.Key, "self": c.base + "/rest/api/3/issue/" + strconv.Itoa(is.ID)})
}

func checkProperty(key string, value json.RawMessage) string {
	switch {
	case key == "" || len(key) > 255:
		return "The property key must be between 1 and 255 characters."
	case len(bytes.TrimSpace(value)) == 0 || !json.Valid(value):
		return "The property value must be a valid JSON value."
	case len(value) > 32768:
		return "The property value is too long: the maximum length is 32768 characters."
	}
	return ""
}

func (e *Emulator) getIssue(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	is := e.issueOr404(c)
	if is == nil {
		return
	}
	q := c.r.URL.Query()
	writeJSON(c.w, http.StatusOK, e.renderIssue(c.base, is, parseFieldFilter(q["fields"], "*all"), splitList(q["properties"])))
}

func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

func (e *Emulator) editIssue(c *call) {
	var req issueWrite
	if !c.decodeBody(&req) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	is := e.issueOr404(c)
	if is == nil {
		return
	}
	work := is.clone()
	errs := map[string]string{}
	for id, raw := range req.Fields {
		if msg := e.setField(work, id, raw, true); msg != "" {
			errs[id] = msg
		}
	}
	e.applyUpdate(work, req.Update, c.user.AccountID, errs)
	for _, pr := range req.Properties {
		if msg := checkProperty(pr.Key, pr.Value); msg != "" {
			errs["properties"] = msg
			continue
		}
		work.Properties[pr.Key] = pr.Value
	}
	if len(errs) > 0 {
		writePlatformError(c.w, http.StatusBadRequest, nil, errs)
		return
	}
	*is = *work
	e.touch(is)
	if c.r.URL.Query().Get("returnIssue") == "true" {
		writeJSON(c.w, http.StatusOK, e.renderIssue(c.base, is, parseFieldFilter(nil, "*all"), nil))
		return
	}
	writeNoContent(c.w)
}

// available lists the transitions of is's workflow from its current status.
func (e *Emulator) available(is *issue) []*transition {
	wf := e.projects[is.ProjectID].Workflows[is.IssueTypeID]
	var out []*transition
	for _, t := range wf.Transitions {
		if slices.Contains(t.From, is.StatusID) {
			out = append(out, t)
		}
	}
	return out
}

func (e *Emulator) getTransitions(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	is := e.issueOr404(c)
	if is == nil {
		return
	}
	q := c.r.URL.Query()
	withFields := strings.Contains(q.Get("expand"), "transitions.fields")
	ts := []map[string]any{}
	for _, t := range e.available(is) {
		if id := q.Get("transitionId"); id != "" && id != t.ID {
			continue
		}
		ts = append(ts, e.renderTransition(c.base, t, withFields))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"expand": "transitions", "transitions": ts})
}

type transitionRequest struct {
	Transition *struct {
		ID string `json:"id"`
	} `json:"transition"`
	Fields map[string]json.RawMessage              `json:"fields"`
	Update map[string][]map[string]json.RawMessage `json:"update"`
}

func (e *Emulator) doTransition(c *call) {
	var req transitionRequest
	if !c.decodeBody(&req) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	is := e.issueOr404(c)
	if is == nil {
		return
	}
	if req.Transition == nil || req.Transition.ID == "" {
		writePlatformError(c.w, http.StatusBadRequest, []string{"Transition id must be specified."}, nil)
		return
	}
	var t *transition
	for _, a := range e.available(is) {
		if a.ID == req.Transition.ID {
			t = a
		}
	}
	if t == nil {
		writePlatformError(c.w, http.StatusBadRequest, []string{"Transition id '" + req.Transition.ID + "' is not valid for this issue."}, nil)
		return
	}
	work := is.clone()
	errs := map[string]string{}
	resolutionSet := false
	for id, raw := range req.Fields {
		if id != "resolution" || !t.onScreen("resolution") {
			errs[id] = fmt.Sprintf(notOnScreen, id)
			continue
		}
		r, _ := parseRef(raw)
		found := false
		for _, res := range e.resolutions {
			if (r.ID != "" && res.ID == r.ID) || (r.Name != "" && strings.EqualFold(res.Name, r.Name)) {
				work.ResolutionID, found, resolutionSet = res.ID, true, true
			}
		}
		if !found {
			errs["resolution"] = "Could not find valid 'id' or 'name' in resolution object."
		}
	}
	if t.ResolutionRequired && !resolutionSet && errs["resolution"] == "" {
		errs["resolution"] = "Resolution is required."
	}
	for id := range req.Update {
		if id != "comment" || !t.onScreen("comment") {
			errs[id] = fmt.Sprintf(notOnScreen, id)
		}
	}
	if len(errs) > 0 {
		writePlatformError(c.w, http.StatusBadRequest, nil, errs)
		return
	}
	e.applyUpdate(work, req.Update, c.user.AccountID, errs)
	if len(errs) > 0 {
		writePlatformError(c.w, http.StatusBadRequest, nil, errs)
		return
	}
	e.applyTransition(work, t, resolutionSet)
	*is = *work
	e.touch(is)
	writeNoContent(c.w)
}

// applyTransition moves is along t, running the resolution post-functions.
func (e *Emulator) applyTransition(is *issue, t *transition, resolutionSet bool) {
	is.StatusID = t.To
	switch {
	case t.ClearsResolution:
		is.ResolutionID, is.ResolutionDate = "", time.Time{}
	case resolutionSet:
		is.ResolutionDate = e.now()
	case t.PostResolution != "":
		is.ResolutionID, is.ResolutionDate = t.PostResolution, e.now()
	}
}

func (e *Emulator) getComments(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	is := e.issueOr404(c)
	if is == nil {
		return
	}
	cs := []map[string]any{}
	for _, cm := range is.Comments {
		cs = append(cs, e.renderComment(c.base, is, cm))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"startAt": 0, "maxResults": 5000, "total": len(cs), "comments": cs})
}

func (e *Emulator) addComment(c *call) {
	var req struct {
		Body       json.RawMessage `json:"body"`
		Properties []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"properties"`
	}
	if !c.decodeBody(&req) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	is := e.issueOr404(c)
	if is == nil {
		return
	}
	if !validADF(req.Body) {
		writePlatformError(c.w, http.StatusBadRequest, nil, map[string]string{"comment": "Comment body must be an Atlassian Document (see the Atlassian Document Format)"})
		return
	}
	if strings.TrimSpace(adfText(req.Body)) == "" {
		writePlatformError(c.w, http.StatusBadRequest, nil, map[string]string{"comment": "Comment body can not be empty!"})
		return
	}
	public := true
	for _, p := range req.Properties {
		if p.Key == "sd.public.comment" {
			var v struct {
				Internal bool `json:"internal"`
			}
			_ = json.Unmarshal(p.Value, &v)
			public = !v.Internal
		}
	}
	e.nextCommentID++
	cm := comment{ID: strconv.Itoa(e.nextCommentID), Body: req.Body, Public: public, Author: c.user.AccountID, Created: e.now()}
	is.Comments = append(is.Comments, cm)
	e.touch(is)
	writeJSON(c.w, http.StatusCreated, e.renderComment(c.base, is, cm))
}

// Entity properties.

func (e *Emulator) getIssueProperty(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if is := e.issueOr404(c); is != nil {
		getProperty(c, is.Properties)
	}
}

func readRaw(c *call) (json.RawMessage, bool) {
	var raw json.RawMessage
	if !c.decodeBody(&raw) {
		return nil, false
	}
	return raw, true
}

func (e *Emulator) setIssueProperty(c *call) {
	raw, ok := readRaw(c)
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if is := e.issueOr404(c); is != nil && setProperty(c, is.Properties, raw) {
		e.touch(is)
	}
}

func (e *Emulator) deleteIssueProperty(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if is := e.issueOr404(c); is != nil && deleteProperty(c, is.Properties) {
		e.touch(is)
	}
}

// getProperty, setProperty and deleteProperty serve the entity-property
// endpoints of issues and users alike; set and delete report a change.
func getProperty(c *call, props map[string]json.RawMessage) {
	k := c.r.PathValue("propertyKey")
	v, ok := props[k]
	if !ok {
		writePlatformError(c.w, http.StatusNotFound, []string{"The property with key '" + k + "' does not exist."}, nil)
		return
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"key": k, "value": v})
}

func setProperty(c *call, props map[string]json.RawMessage, raw json.RawMessage) bool {
	k := c.r.PathValue("propertyKey")
	if msg := checkProperty(k, raw); msg != "" {
		writePlatformError(c.w, http.StatusBadRequest, []string{msg}, nil)
		return false
	}
	_, existed := props[k]
	props[k] = raw
	if existed {
		writeEmpty(c.w, http.StatusOK)
	} else {
		writeEmpty(c.w, http.StatusCreated)
	}
	return true
}

func deleteProperty(c *call, props map[string]json.RawMessage) bool {
	k := c.r.PathValue("propertyKey")
	if _, ok := props[k]; !ok {
		writePlatformError(c.w, http.StatusNotFound, []string{"The property with key '" + k + "' does not exist."}, nil)
		return false
	}
	delete(props, k)
	writeNoContent(c.w)
	return true
}

// userForProperty resolves the accountId parameter; only the caller's own
// record may be used (the sandbox agent is no Jira administrator).
func (e *Emulator) userForProperty(c *call) *user {
	id := c.r.URL.Query().Get("accountId")
	if id == "" {
		writePlatformError(c.w, http.StatusBadRequest, []string{"The accountId must be specified."}, nil)
		return nil
	}
	u := e.users[id]
	if u == nil {
		writePlatformError(c.w, http.StatusNotFound, []string{"The user with account ID '" + id + "' does not exist."}, nil)
		return nil
	}
	if u.AccountID != c.user.AccountID {
		writePlatformError(c.w, http.StatusForbidden, []string{"You do not have permission to access properties of another user."}, nil)
		return nil
	}
	return u
}

func (e *Emulator) getUserProperty(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if u := e.userForProperty(c); u != nil {
		getProperty(c, u.Properties)
	}
}

func (e *Emulator) setUserProperty(c *call) {
	raw, ok := readRaw(c)
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if u := e.userForProperty(c); u != nil {
		setProperty(c, u.Properties, raw)
	}
}

func (e *Emulator) deleteUserProperty(c *call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if u := e.userForProperty(c); u != nil {
		deleteProperty(c, u.Properties)
	}
}
