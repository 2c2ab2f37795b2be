package emulator

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Error codes in errorCode.
const (
	codeBusObNotFound = "BUSINESSOBJECTNOTFOUND"
	codeRecNotFound   = "RECORDNOTFOUND"
	codeRelNotFound   = "RELATIONSHIPNOTFOUND"
	codeValidation    = "VALIDATIONFAILED"
	codeBadRequest    = "BADREQUEST"
)

func errFields(code, msg string) errorFields {
	return errorFields{HasError: true, ErrorCode: code, ErrorMessage: msg}
}

func (e *Emulator) handleServiceInfo(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, serviceInfoResponse{
		APIVersion: "9.3.2", CSMCulture: "en-US", CSMVersion: "9.3.2",
		SystemDateTime: e.opts.Now().UTC().Format("2006-01-02T15:04:05Z"),
	})
}

func summaryOf(b *boDef) summary {
	s := summary{BusObID: b.id, Name: b.name, DisplayName: b.displayName, Group: b.group, Lookup: b.lookup,
		Major: b.major, Supporting: b.supporting, GroupSummaries: []summary{}}
	if f := b.recIDField(); f != nil {
		s.FirstRecIDField = f.id
		s.RecIDFields = f.id
	}
	if b.stateField != nil {
		s.StateFieldID = b.stateField.id
		s.States = strings.Join(b.states, ",")
	}
	for _, m := range b.members {
		s.GroupSummaries = append(s.GroupSummaries, summaryOf(m))
	}
	return s
}

// handleSummaryByName matches the internal name only (case-insensitive), as
// CSM does; display names such as "Config - Server" are not names. An unknown
// name gives an empty array.
func (e *Emulator) handleSummaryByName(w http.ResponseWriter, r *http.Request) {
	out := []summary{}
	if b := e.cat.byName[strings.ToLower(param(r, "name"))]; b != nil {
		out = append(out, summaryOf(b))
	}
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) handleSummaryByID(w http.ResponseWriter, r *http.Request) {
	out := []summary{}
	if b := e.cat.byID[strings.ToLower(param(r, "id"))]; b != nil {
		out = append(out, summaryOf(b))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleSummaries lists objects by type: All, Major, Supporting, Lookup, Groups.
func (e *Emulator) handleSummaries(w http.ResponseWriter, r *http.Request) {
	kind := strings.ToLower(param(r, "type"))
	out := []summary{}
	for _, b := range e.cat.objects {
		ok := false
		switch kind {
		case "all":
			ok = true
		case "major":
			ok = b.major
		case "supporting":
			ok = b.supporting
		case "lookup":
			ok = b.lookup
		case "groups":
			ok = b.group
		default:
			writeJSON(w, http.StatusBadRequest, apiMessage{Message: "Unknown summary type " + param(r, "type") + "."})
			return
		}
		if ok {
			out = append(out, summaryOf(b))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func fieldDefOf(f *fieldDef) fieldDefinition {
	d := fieldDefinition{FieldID: f.id, Name: f.name, DisplayName: f.displayName, Type: f.typ, TypeLocalized: f.typ,
		Required: f.required, ReadOnly: f.readOnly, Enabled: true, Validated: f.allowed != nil,
		IsFullTextSearchable: f.typ == typeText, HasDate: f.typ == typeDateTime, HasTime: f.typ == typeDateTime}
	if f.maxSize > 0 {
		d.MaximumSize = strconv.Itoa(f.maxSize)
	}
	if f.typ == typeNumber {
		d.WholeDigits = 10
	}
	return d
}

func (e *Emulator) handleSchema(w http.ResponseWriter, r *http.Request) {
	b := e.cat.byID[strings.ToLower(param(r, "id"))]
	if b == nil {
		writeJSON(w, http.StatusBadRequest, schemaResponse{FieldDefinitions: []fieldDefinition{}, GridDefinitions: []gridDefinition{},
			Relationships: []relationship{}, errorFields: errFields(codeBusObNotFound, "Business object "+param(r, "id")+" not found.")})
		return
	}
	resp := schemaResponse{BusObID: b.id, Name: b.name, FieldDefinitions: []fieldDefinition{},
		GridDefinitions: []gridDefinition{{GridID: hexID("GR", b.name), Name: "Default", DisplayName: "Default Grid"}},
		Relationships:   []relationship{}}
	for _, f := range b.fields {
		resp.FieldDefinitions = append(resp.FieldDefinitions, fieldDefOf(f))
	}
	if f := b.recIDField(); f != nil {
		resp.FirstRecIDField, resp.RecIDFields = f.id, f.id
	}
	if b.stateField != nil {
		resp.StateFieldID, resp.States = b.stateField.id, strings.Join(b.states, ",")
	}
	if v, _ := strconv.ParseBool(r.URL.Query().Get("includerelationships")); v {
		for x := b; x != nil; x = x.parent {
			for _, rel := range x.rels {
				rr := relationship{RelationshipID: rel.id, DisplayName: rel.displayName, Target: rel.target.id,
					Cardinality: rel.cardinality, Description: rel.description, FieldDefinitions: []fieldDefinition{}}
				for _, f := range rel.target.fields {
					rr.FieldDefinitions = append(rr.FieldDefinitions, fieldDefOf(f))
				}
				resp.Relationships = append(resp.Relationships, rr)
			}
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (e *Emulator) handleTemplate(w http.ResponseWriter, r *http.Request) {
	var req templateRequest
	if !decodeBody(w, r, &req) {
		return
	}
	b := e.cat.byID[strings.ToLower(req.BusObID)]
	if b == nil {
		writeJSON(w, http.StatusBadRequest, templateResponse{Fields: []fieldTemplateItem{},
			errorFields: errFields(codeBusObNotFound, "Business object "+req.BusObID+" not found.")})
		return
	}
	want := func(f *fieldDef) bool {
		if req.IncludeAll || (req.IncludeRequired && f.required) {
			return true
		}
		for _, id := range req.FieldIDs {
			if b.field(id, false) == f {
				return true
			}
		}
		for _, n := range req.FieldNames {
			if strings.EqualFold(n, f.name) {
				return true
			}
		}
		return false
	}
	resp := templateResponse{Fields: []fieldTemplateItem{}}
	for _, f := range b.fields {
		if want(f) {
			resp.Fields = append(resp.Fields, fieldTemplateItem{FieldID: f.id, Name: f.name, DisplayName: f.displayName, Value: f.def})
		}
	}
	writeJSON(w, http.StatusOK, resp)
}

// readOf renders rec with the given fields (nil: all fields).
func readOf(rec *record, fields []*fieldDef) readResponse {
	if fields == nil {
		fields = rec.typ.fields
	}
	out := readResponse{BusObID: rec.typ.id, BusObRecID: rec.recID, BusObPublicID: rec.publicID,
		Fields: make([]fieldTemplateItem, 0, len(fields)), Links: []link{}}
	for _, f := range fields {
		out.Fields = append(out.Fields, fieldTemplateItem{FieldID: f.id, Name: f.name, DisplayName: f.displayName, Value: rec.values[f.id]})
	}
	return out
}

// resolveConcrete maps a save against a group (e.g. Journal) to the member
// named by its JournalTypeID value, as CSM does; other groups cannot hold
// records of their own.
func resolveConcrete(t *boDef, items []fieldItemIn) (*boDef, string) {
	if !t.group {
		return t, ""
	}
	if tf := t.byName["journaltypeid"]; tf != nil {
		for _, it := range items {
			if it.Dirty && t.field(it.FieldID, false) == tf {
				want := strings.ToLower(valueString(it.Value))
				for _, m := range t.members {
					if m.id == want {
						return m, ""
					}
				}
				return nil, fmt.Sprintf("%s %q is not a member of %s.", tf.displayName, valueString(it.Value), t.displayName)
			}
		}
	}
	return nil, fmt.Sprintf("%s is a group; save a record of one of its member business objects.", t.displayName)
}

func (e *Emulator) handleSave(w http.ResponseWriter, r *http.Request) {
	var req saveRequest
	if !decodeBody(w, r, &req) {
		return
	}
	t := e.cat.byID[strings.ToLower(req.BusObID)]
	if t == nil {
		writeJSON(w, http.StatusBadRequest, saveResponse{FieldValidationErrors: []fieldValidationError{}, NotificationTriggers: []notificationTrigger{},
			errorFields: errFields(codeBusObNotFound, "Business object "+req.BusObID+" not found.")})
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	resp, status := e.saveLocked(t, req.BusObRecID, req.BusObPublicID, req.Fields, req.Persist == nil || *req.Persist)
	writeJSON(w, status, resp)
}

// saveLocked creates or updates a record. Caller holds e.mu.
func (e *Emulator) saveLocked(t *boDef, recID, publicID string, items []fieldItemIn, persist bool) (saveResponse, int) {
	resp := saveResponse{FieldValidationErrors: []fieldValidationError{}, NotificationTriggers: []notificationTrigger{}}
	var rec *record
	if recID != "" || publicID != "" {
		rec = e.data.find(t, recID, publicID)
		if rec == nil {
			id := recID
			if id == "" {
				id = publicID
			}
			resp.errorFields = errFields(codeRecNotFound, fmt.Sprintf("%s record %s not found.", t.displayName, id))
			return resp, e.opts.ValidationStatus
		}
		t = rec.typ
	} else {
		ct, msg := resolveConcrete(t, items)
		if ct == nil {
			resp.errorFields = errFields(codeValidation, msg)
			return resp, e.opts.ValidationStatus
		}
		t = ct
	}
	var current map[string]string
	if rec != nil {
		current = rec.values
	}
	vals, errs := applyFields(t, current, items)
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, fe := range errs {
			msgs[i] = fe.Error
		}
		resp.FieldValidationErrors = errs
		resp.errorFields = errFields(codeValidation, strings.Join(msgs, " "))
		if rec != nil {
			resp.BusObRecID, resp.BusObPublicID = rec.recID, rec.publicID
		}
		return resp, e.opts.ValidationStatus
	}
	if !persist {
		resp.CacheKey = randomToken(16, false)
		return resp, http.StatusOK
	}
	created := rec == nil
	rec = e.data.commit(t, rec, vals, e.opts.Now())
	resp.BusObRecID, resp.BusObPublicID = rec.recID, rec.publicID
	e.log.Debug("record saved", "type", t.displayName, "rec_id", rec.recID, "public_id", rec.publicID, "created", created)
	return resp, http.StatusOK
}

func (e *Emulator) handleGetByRecID(w http.ResponseWriter, r *http.Request) {
	e.getRecord(w, param(r, "id"), param(r, "rec"), "")
}

func (e *Emulator) handleGetByPublicID(w http.ResponseWriter, r *http.Request) {
	e.getRecord(w, param(r, "id"), "", param(r, "pub"))
}

func (e *Emulator) getRecord(w http.ResponseWriter, busObID, recID, publicID string) {
	t := e.cat.byID[strings.ToLower(busObID)]
	if t == nil {
		writeJSON(w, http.StatusBadRequest, readResponse{Fields: []fieldTemplateItem{}, Links: []link{},
			errorFields: errFields(codeBusObNotFound, "Business object "+busObID+" not found.")})
		return
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	rec := e.data.find(t, recID, publicID)
	if rec == nil {
		id := recID + publicID
		writeJSON(w, http.StatusNotFound, readResponse{Fields: []fieldTemplateItem{}, Links: []link{},
			errorFields: errFields(codeRecNotFound, fmt.Sprintf("%s record %s not found.", t.displayName, id))})
		return
	}
	writeJSON(w, http.StatusOK, readOf(rec, nil))
}
