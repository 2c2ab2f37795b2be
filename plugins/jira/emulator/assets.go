package emulator

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// CI is an Azure resource to seed into Assets as an "Azure Resource" object.
type CI struct {
	Name          string `json:"name"`
	ResourceID    string `json:"resource_id,omitempty"`
	ResourceType  string `json:"resource_type,omitempty"`
	Subscription  string `json:"subscription,omitempty"`
	ResourceGroup string `json:"resource_group,omitempty"`
}

// SeedCI adds an "Azure Resource" object and returns its id and key.
func (e *Emulator) SeedCI(ci CI) (id, key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.newObject(e.objectTypes[SeedObjectTypeID], map[string]string{
		"101": ci.Name, "104": ci.ResourceID, "105": ci.ResourceType, "106": ci.Subscription, "107": ci.ResourceGroup,
	})
	return o.ID, o.Key
}

// ObjectCount returns the number of Assets objects.
func (e *Emulator) ObjectCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.objects)
}

func (e *Emulator) newObject(ot *objectType, values map[string]string) *assetObject {
	id := strconv.Itoa(e.nextObjectID)
	e.nextObjectID++
	schemaKey := "AZ"
	for _, s := range e.schemas {
		if s.ID == ot.SchemaID {
			schemaKey = s.Key
		}
	}
	now := e.now()
	o := &assetObject{ID: id, Key: schemaKey + "-" + id, TypeID: ot.ID, Values: map[string]string{}, Created: now, Updated: now}
	for k, v := range values {
		if v != "" {
			o.Values[k] = v
		}
	}
	e.objects[id] = o
	return o
}

// attrValue returns an object's value for an attribute, system ones included.
func (e *Emulator) attrValue(o *assetObject, a *objectTypeAttr) string {
	switch {
	case a.System && a.Name == "Key":
		return o.Key
	case a.System && a.Name == "Created":
		return jiraTime(o.Created)
	case a.System && a.Name == "Updated":
		return jiraTime(o.Updated)
	}
	return o.Values[a.ID]
}

func (e *Emulator) objectLabel(o *assetObject) string {
	ot := e.objectTypes[o.TypeID]
	for i := range ot.Attrs {
		if ot.Attrs[i].Label {
			return e.attrValue(o, &ot.Attrs[i])
		}
	}
	return o.Key
}

func (e *Emulator) renderObjectType(ot *objectType) map[string]any {
	count := 0
	for _, o := range e.objects {
		if o.TypeID == ot.ID {
			count++
		}
	}
	return map[string]any{
		"workspaceId": SeedWorkspaceID, "globalId": SeedWorkspaceID + ":" + ot.ID, "id": ot.ID, "name": ot.Name,
		"description": "", "position": 0, "objectCount": count, "objectSchemaId": ot.SchemaID,
		"inherited": false, "abstractObjectType": false, "parentObjectTypeInherited": false,
		"icon": map[string]any{"id": "13", "name": "Cloud"},
	}
}

func (e *Emulator) renderAttrDef(ot *objectType, a *objectTypeAttr) map[string]any {
	return map[string]any{
		"workspaceId": SeedWorkspaceID, "globalId": SeedWorkspaceID + ":" + a.ID, "id": a.ID, "name": a.Name,
		"label": a.Label, "type": 0, "defaultType": map[string]any{"id": 0, "name": "Text"},
		"editable": !a.System, "system": a.System, "sortable": true, "summable": false, "indexed": true,
		"minimumCardinality": map[bool]int{true: 1, false: 0}[a.Label], "maximumCardinality": 1,
		"removable": !a.System && !a.Label, "hidden": false, "includeChildObjectTypes": false,
		"uniqueAttribute": false, "options": "", "position": 0,
		"objectType": map[string]any{"id": ot.ID, "name": ot.Name},
	}
}

func (e *Emulator) renderObject(c *call, o *assetObject, withAttrs bool) map[string]any {
	ot := e.objectTypes[o.TypeID]
	attrs := []map[string]any{}
	if withAttrs {
		for i := range ot.Attrs {
			a := &ot.Attrs[i]
			v := e.attrValue(o, a)
			if v == "" {
				continue
			}
			attrs = append(attrs, map[string]any{
				"workspaceId": SeedWorkspaceID, "globalId": SeedWorkspaceID + ":" + o.ID + ":" + a.ID,
				"id": o.ID + a.ID, "objectTypeAttributeId": a.ID, "objectId": o.ID,
				"objectAttributeValues": []map[string]any{{"value": v, "displayValue": v, "searchValue": v, "referencedType": false}},
			})
		}
	}
	return map[string]any{
		"workspaceId": SeedWorkspaceID, "globalId": SeedWorkspaceID + ":" + o.ID, "id": o.ID,
		"label": e.objectLabel(o), "objectKey": o.Key, "objectType": e.renderObjectType(ot),
		"created": jiraTime(o.Created), "updated": jiraTime(o.Updated), "hasAvatar": false,
		"timestamp": o.Updated.UnixMilli(), "attributes": attrs,
		"_links": map[string]any{"self": c.base + "/jsm/assets/workspace/" + SeedWorkspaceID + "/v1/object/" + o.ID},
	}
}

// workspaceOK checks the path's workspace id.
func (e *Emulator) workspaceOK(c *call) bool {
	if c.r.PathValue("workspaceId") != SeedWorkspaceID {
		writePlatformError(c.w, http.StatusNotFound, []string{"Workspace '" + c.r.PathValue("workspaceId") + "' not found."}, nil)
		return false
	}
	return true
}

func (e *Emulator) listObjectSchemas(c *call) {
	if !e.workspaceOK(c) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var vals []map[string]any
	for _, s := range e.schemas {
		types := 0
		for _, ot := range e.objectTypes {
			if ot.SchemaID == s.ID {
				types++
			}
		}
		vals = append(vals, map[string]any{
			"workspaceId": SeedWorkspaceID, "globalId": SeedWorkspaceID + ":" + s.ID, "id": s.ID, "name": s.Name,
			"objectSchemaKey": s.Key, "status": "Ok", "description": "Azure resources synchronised by the bridge",
			"objectCount": len(e.objects), "objectTypeCount": types,
		})
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"startAt": 0, "maxResults": 25, "total": len(vals), "isLast": true, "values": vals})
}

func (e *Emulator) sortedTypes() []*objectType {
	var out []*objectType
	for _, ot := range e.objectTypes {
		out = append(out, ot)
	}
	slices.SortFunc(out, func(a, b *objectType) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (e *Emulator) listObjectTypes(c *call) {
	if !e.workspaceOK(c) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []map[string]any{}
	found := false
	for _, s := range e.schemas {
		found = found || s.ID == c.r.PathValue("id")
	}
	if !found {
		writePlatformError(c.w, http.StatusNotFound, []string{"Object schema '" + c.r.PathValue("id") + "' not found."}, nil)
		return
	}
	for _, ot := range e.sortedTypes() {
		if ot.SchemaID == c.r.PathValue("id") {
			out = append(out, e.renderObjectType(ot))
		}
	}
	writeJSON(c.w, http.StatusOK, out)
}

func (e *Emulator) listObjectTypeAttributes(c *call) {
	if !e.workspaceOK(c) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ot := e.objectTypes[c.r.PathValue("id")]
	if ot == nil {
		writePlatformError(c.w, http.StatusNotFound, []string{"Object type '" + c.r.PathValue("id") + "' not found."}, nil)
		return
	}
	out := []map[string]any{}
	for i := range ot.Attrs {
		out = append(out, e.renderAttrDef(ot, &ot.Attrs[i]))
	}
	writeJSON(c.w, http.StatusOK, out)
}

// objPredicate evaluates a compiled AQL clause against an object.
type objPredicate func(*assetObject) bool

func (e *Emulator) compileAQL(x jqlExpr) (objPredicate, error) {
	switch n := x.(type) {
	case jqlAnd:
		l, err := e.compileAQL(n.L)
		if err != nil {
			return nil, err
		}
		r, err := e.compileAQL(n.R)
		if err != nil {
			return nil, err
		}
		return func(o *assetObject) bool { return l(o) && r(o) }, nil
	case jqlOr:
		l, err := e.compileAQL(n.L)
		if err != nil {
			return nil, err
		}
		r, err := e.compileAQL(n.R)
		if err != nil {
			return nil, err
		}
		return func(o *assetObject) bool { return l(o) || r(o) }, nil
	case jqlNot:
		inner, err := e.compileAQL(n.X)
		if err != nil {
			return nil, err
		}
		return func(o *assetObject) bool { return !inner(o) }, nil
	case *jqlClause:
		return e.compileAQLClause(n)
	}
	return nil, jqlErrorf("unsupported AQL expression")
}

func (e *Emulator) compileAQLClause(c *jqlClause) (objPredicate, error) {
	var get func(o *assetObject) string
	switch strings.ToLower(c.Field) {
	case "objecttype":
		get = func(o *assetObject) string { return e.objectTypes[o.TypeID].Name }
	case "objecttypeid":
		get = func(o *assetObject) string { return o.TypeID }
	case "objectschema":
		get = func(o *assetObject) string {
			for _, s := range e.schemas {
				if s.ID == e.objectTypes[o.TypeID].SchemaID {
					return s.Name
				}
			}
			return ""
		}
	case "objectschemaid":
		get = func(o *assetObject) string { return e.objectTypes[o.TypeID].SchemaID }
	case "objectid":
		get = func(o *assetObject) string { return o.ID }
	case "objectkey", "key":
		get = func(o *assetObject) string { return o.Key }
	case "label":
		get = e.objectLabel
	default:
		known := false
		for _, ot := range e.objectTypes {
			known = known || ot.attrByName(c.Field) != nil
		}
		if !known {
			return nil, jqlErrorf("ValidationQueryFailed: No attribute named '%s' exists in any object type.", c.Field)
		}
		name := c.Field
		get = func(o *assetObject) string {
			ot := e.objectTypes[o.TypeID]
			if a := ot.attrByName(name); a != nil {
				return e.attrValue(o, a)
			}
			return ""
		}
	}
	vals := c.Values
	switch c.Op {
	case "=", "in":
		return func(o *assetObject) bool {
			v := get(o)
			return v != "" && slices.ContainsFunc(vals, func(w string) bool { return strings.EqualFold(v, w) })
		}, nil
	case "==":
		return func(o *assetObject) bool { return get(o) == vals[0] }, nil
	case "!=", "not in":
		return func(o *assetObject) bool {
			v := get(o)
			return !slices.ContainsFunc(vals, func(w string) bool { return strings.EqualFold(v, w) })
		}, nil
	case "like", "not like":
		neg := c.Op == "not like"
		return func(o *assetObject) bool {
			return strings.Contains(strings.ToLower(get(o)), strings.ToLower(vals[0])) != neg
		}, nil
	case "is", "is not":
		want := c.Op == "is"
		return func(o *assetObject) bool { return (get(o) == "") == want }, nil
	}
	return nil, jqlErrorf("ValidationQueryFailed: The operator '%s' is not supported.", c.Op)
}

func (e *Emulator) searchAQL(c *call) {
	if !e.workspaceOK(c) {
		return
	}
	var req struct {
		QLQuery string `json:"qlQuery"`
	}
	if !c.decodeBody(&req) {
		return
	}
	q := c.r.URL.Query()
	startAt, _ := strconv.Atoi(q.Get("startAt"))
	maxResults, err := strconv.Atoi(q.Get("maxResults"))
	if err != nil || maxResults <= 0 {
		maxResults = 50
	}
	withAttrs := q.Get("includeAttributes") != "false"
	e.mu.Lock()
	defer e.mu.Unlock()
	fail := func(msg string) {
		writePlatformError(c.w, http.StatusBadRequest, nil, map[string]string{"qlQuery": msg})
	}
	if strings.TrimSpace(req.QLQuery) == "" {
		fail("ValidationQueryFailed: the query must not be empty.")
		return
	}
	parsed, err := parseAQL(req.QLQuery)
	if err != nil {
		fail("ValidationQueryFailed: " + err.Error())
		return
	}
	var pred objPredicate = func(*assetObject) bool { return true }
	if parsed.Where != nil {
		if pred, err = e.compileAQL(parsed.Where); err != nil {
			fail(err.Error())
			return
		}
	}
	var hits []*assetObject
	for _, o := range e.objects {
		if pred(o) {
			hits = append(hits, o)
		}
	}
	slices.SortFunc(hits, func(a, b *assetObject) int {
		ai, _ := strconv.Atoi(a.ID)
		bi, _ := strconv.Atoi(b.ID)
		return cmp.Compare(ai, bi)
	})
	startAt = min(max(startAt, 0), len(hits))
	end := min(startAt+maxResults, len(hits))
	vals := []map[string]any{}
	typeSeen := map[string]bool{}
	attrDefs := []map[string]any{}
	for _, o := range hits[startAt:end] {
		vals = append(vals, e.renderObject(c, o, withAttrs))
		if ot := e.objectTypes[o.TypeID]; withAttrs && !typeSeen[ot.ID] {
			typeSeen[ot.ID] = true
			for i := range ot.Attrs {
				attrDefs = append(attrDefs, e.renderAttrDef(ot, &ot.Attrs[i]))
			}
		}
	}
	writeJSON(c.w, http.StatusOK, map[string]any{
		"startAt": startAt, "maxResults": maxResults, "total": len(hits), "isLast": end >= len(hits),
		"values": vals, "objectTypeAttributes": attrDefs,
	})
}

type objectWrite struct {
	ObjectTypeID string `json:"objectTypeId"`
	Attributes   []struct {
		ObjectTypeAttributeID string `json:"objectTypeAttributeId"`
		ObjectAttributeValues []struct {
			Value json.RawMessage `json:"value"`
		} `json:"objectAttributeValues"`
	} `json:"attributes"`
	HasAvatar bool `json:"hasAvatar"`
}

// attrValues validates the written attributes against ot.
func (e *Emulator) attrValues(ot *objectType, w *objectWrite) (map[string]string, map[string]string) {
	vals := map[string]string{}
	errs := map[string]string{}
	for _, a := range w.Attributes {
		def := ot.attrByID(a.ObjectTypeAttributeID)
		if def == nil || def.System {
			errs["rlabel"] = "Attribute '" + a.ObjectTypeAttributeID + "' is not an editable attribute of object type '" + ot.Name + "'."
			continue
		}
		if len(a.ObjectAttributeValues) > 1 {
			errs[def.Name] = "Attribute '" + def.Name + "' takes at most one value."
			continue
		}
		v := ""
		if len(a.ObjectAttributeValues) == 1 {
			raw := a.ObjectAttributeValues[0].Value
			if json.Unmarshal(raw, &v) != nil {
				v = strings.Trim(string(raw), `"`)
			}
		}
		vals[def.ID] = v
	}
	return vals, errs
}

func (e *Emulator) createObject(c *call) {
	if !e.workspaceOK(c) {
		return
	}
	var req objectWrite
	if !c.decodeBody(&req) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ot := e.objectTypes[req.ObjectTypeID]
	if ot == nil {
		writePlatformError(c.w, http.StatusBadRequest, nil, map[string]string{"objectTypeId": "Object type '" + req.ObjectTypeID + "' does not exist."})
		return
	}
	vals, errs := e.attrValues(ot, &req)
	for _, a := range ot.Attrs {
		if a.Label && vals[a.ID] == "" {
			errs["rlabel"] = "The label attribute '" + a.Name + "' must have a value."
		}
	}
	if len(errs) > 0 {
		writePlatformError(c.w, http.StatusBadRequest, nil, errs)
		return
	}
	o := e.newObject(ot, vals)
	writeJSON(c.w, http.StatusCreated, e.renderObject(c, o, true))
}

func (e *Emulator) objectOr404(c *call) *assetObject {
	o := e.objects[c.r.PathValue("id")]
	if o == nil {
		writePlatformError(c.w, http.StatusNotFound, []string{"No object found with id '" + c.r.PathValue("id") + "'."}, nil)
	}
	return o
}

func (e *Emulator) getObject(c *call) {
	if !e.workspaceOK(c) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if o := e.objectOr404(c); o != nil {
		writeJSON(c.w, http.StatusOK, e.renderObject(c, o, true))
	}
}

func (e *Emulator) updateObject(c *call) {
	if !e.workspaceOK(c) {
		return
	}
	var req objectWrite
	if !c.decodeBody(&req) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	o := e.objectOr404(c)
	if o == nil {
		return
	}
	ot := e.objectTypes[o.TypeID]
	vals, errs := e.attrValues(ot, &req)
	if len(errs) > 0 {
		writePlatformError(c.w, http.StatusBadRequest, nil, errs)
		return
	}
	for k, v := range vals {
		if v == "" {
			if def := ot.attrByID(k); def != nil && def.Label {
				writePlatformError(c.w, http.StatusBadRequest, nil, map[string]string{"rlabel": "The label attribute '" + def.Name + "' must have a value."})
				return
			}
			delete(o.Values, k)
			continue
		}
		o.Values[k] = v
	}
	o.Updated = e.now()
	writeJSON(c.w, http.StatusOK, e.renderObject(c, o, true))
}

func (e *Emulator) getConnectedTickets(c *call) {
	if !e.workspaceOK(c) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	oid := c.r.PathValue("objectId")
	if e.objects[oid] == nil {
		writePlatformError(c.w, http.StatusNotFound, []string{"No object found with id '" + oid + "'."}, nil)
		return
	}
	tickets := []map[string]any{}
	for _, is := range e.sortedIssues() {
		linked := false
		for _, f := range e.fields {
			if f.Schema.Items != "cmdb-object" {
				continue
			}
			var refs []cmdbRef
			_ = json.Unmarshal(is.Custom[f.ID], &refs)
			for _, r := range refs {
				linked = linked || r.ObjectID == oid
			}
		}
		if !linked {
			continue
		}
		st := e.statuses[is.StatusID]
		tickets = append(tickets, map[string]any{
			"key": is.Key, "id": strconv.Itoa(is.ID), "title": is.Summary, "reporter": is.Reporter,
			"created": jiraTime(is.Created), "updated": jiraTime(is.Updated),
			"status": map[string]any{"name": st.Name, "colour": st.Category.ColorName},
			"type":   map[string]any{"name": e.issueTypes[is.IssueTypeID].Name},
		})
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"tickets": tickets, "allTicketsQuery": `issueFunction in assetsObject("objectId = ` + oid + `")`})
}

// sortedIssues lists all issues by id (lock held).
func (e *Emulator) sortedIssues() []*issue {
	out := make([]*issue, 0, len(e.issuesByID))
	for _, is := range e.issuesByID {
		out = append(out, is)
	}
	slices.SortFunc(out, func(a, b *issue) int { return cmp.Compare(a.ID, b.ID) })
	return out
}
