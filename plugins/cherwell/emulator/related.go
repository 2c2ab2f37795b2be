package emulator

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// relOf finds relationship relID of parent type t (or of its group).
func relOf(t *boDef, relID string) *relDef {
	for x := t; x != nil; x = x.parent {
		for _, r := range x.rels {
			if strings.EqualFold(r.id, relID) {
				return r
			}
		}
	}
	return nil
}

// relatedCtx resolves the parent record and relationship of a related-object
// call; on failure it returns the error fields and HTTP status.
func (e *Emulator) relatedCtx(parentBusObID, parentRecID, parentPublicID, relID string) (*record, *relDef, *errorFields, int) {
	pt := e.cat.byID[strings.ToLower(parentBusObID)]
	if pt == nil {
		ef := errFields(codeBusObNotFound, "Business object "+parentBusObID+" not found.")
		return nil, nil, &ef, http.StatusBadRequest
	}
	rel := relOf(pt, relID)
	if rel == nil {
		ef := errFields(codeRelNotFound, fmt.Sprintf("Relationship %s is not a relationship of %s.", relID, pt.displayName))
		return nil, nil, &ef, http.StatusBadRequest
	}
	parent := e.data.find(pt, parentRecID, parentPublicID)
	if parent == nil {
		ef := errFields(codeRecNotFound, fmt.Sprintf("%s record %s%s not found.", pt.displayName, parentRecID, parentPublicID))
		return nil, nil, &ef, http.StatusNotFound
	}
	return parent, rel, nil, 0
}

func (e *Emulator) handleSaveRelated(w http.ResponseWriter, r *http.Request) {
	var req relatedSaveRequest
	if !decodeBody(w, r, &req) {
		return
	}
	resp := relatedSaveResponse{FieldValidationErrors: []fieldValidationError{}, NotificationTriggers: []notificationTrigger{},
		ParentBusObID: req.ParentBusObID, RelationshipID: req.RelationshipID}
	e.mu.Lock()
	defer e.mu.Unlock()
	parent, rel, ef, status := e.relatedCtx(req.ParentBusObID, req.ParentBusObRecID, req.ParentBusObPublicID, req.RelationshipID)
	if ef != nil {
		resp.errorFields = *ef
		writeJSON(w, status, resp)
		return
	}
	resp.ParentBusObRecID, resp.ParentBusObPublicID = parent.recID, parent.publicID
	ct := e.cat.byID[strings.ToLower(req.BusObID)]
	if ct == nil || !ct.isA(rel.target) {
		resp.errorFields = errFields(codeBusObNotFound, fmt.Sprintf("Business object %s is not a target of %s.", req.BusObID, rel.displayName))
		writeJSON(w, http.StatusBadRequest, resp)
		return
	}
	save, st := e.saveLocked(ct, req.BusObRecID, req.BusObPublicID, req.Fields, req.Persist == nil || *req.Persist)
	resp.BusObRecID, resp.BusObPublicID, resp.CacheKey = save.BusObRecID, save.BusObPublicID, save.CacheKey
	resp.FieldValidationErrors, resp.errorFields = save.FieldValidationErrors, save.errorFields
	if !save.HasError && save.BusObRecID != "" {
		child := e.data.records[save.BusObRecID]
		if f := child.typ.byName["parentrecid"]; f != nil {
			child.values[f.id] = parent.recID
			child.values[child.typ.byName["parenttypename"].id] = parent.typ.name
		}
		if f := child.typ.byName["journaltypename"]; f != nil {
			child.values[f.id] = child.typ.displayName
		}
		e.data.link(rel.id, parent.recID, child.recID)
	}
	writeJSON(w, st, resp)
}

func (e *Emulator) handleGetRelated(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pn, _ := strconv.Atoi(q.Get("pageNumber"))
	ps, _ := strconv.Atoi(q.Get("pageSize"))
	all, _ := strconv.ParseBool(q.Get("allfields"))
	e.related(w, relatedRequest{ParentBusObID: param(r, "pid"), ParentBusObRecID: param(r, "prec"),
		RelationshipID: param(r, "rel"), PageNumber: pn, PageSize: ps, AllFields: all})
}

func (e *Emulator) handleGetRelatedPost(w http.ResponseWriter, r *http.Request) {
	var req relatedRequest
	if !decodeBody(w, r, &req) {
		return
	}
	e.related(w, req)
}

func (e *Emulator) related(w http.ResponseWriter, req relatedRequest) {
	resp := relatedResponse{Links: []link{}, RelatedBusinessObjects: []readResponse{}, ParentBusObID: req.ParentBusObID,
		RelationshipID: req.RelationshipID, PageNumber: max(req.PageNumber, 1), PageSize: req.PageSize}
	e.mu.RLock()
	defer e.mu.RUnlock()
	parent, rel, ef, status := e.relatedCtx(req.ParentBusObID, req.ParentBusObRecID, "", req.RelationshipID)
	if ef != nil {
		resp.errorFields = *ef
		writeJSON(w, status, resp)
		return
	}
	resp.ParentBusObRecID, resp.ParentBusObPublicID = parent.recID, parent.publicID
	groups, err := compileFilters(rel.target, req.Filters)
	if err != nil {
		resp.errorFields = errFields(codeBadRequest, err.Error())
		writeJSON(w, http.StatusBadRequest, resp)
		return
	}
	var hits []*record
	for _, c := range e.data.children(rel.id, parent.recID) {
		if matchAll(c, groups) {
			hits = append(hits, c)
		}
	}
	resp.TotalRecords = len(hits)
	for _, c := range page(hits, req.PageNumber, req.PageSize) {
		var fields []*fieldDef
		if !req.AllFields && len(req.FieldsList) > 0 {
			fs, err := selectFields(c.typ, req.FieldsList, false)
			if err != nil {
				resp.errorFields = errFields(codeBadRequest, err.Error())
				writeJSON(w, http.StatusBadRequest, resp)
				return
			}
			fields = fs
		}
		resp.RelatedBusinessObjects = append(resp.RelatedBusinessObjects, readOf(c, fields))
	}
	writeJSON(w, http.StatusOK, resp)
}

// linkCtx resolves both ends of a link/unlink call.
func (e *Emulator) linkCtx(r *http.Request) (*record, *relDef, *record, relatedResponse, int) {
	resp := relatedResponse{Links: []link{}, RelatedBusinessObjects: []readResponse{}, ParentBusObID: param(r, "pid"),
		ParentBusObRecID: param(r, "prec"), RelationshipID: param(r, "rel"), PageNumber: 1}
	parent, rel, ef, status := e.relatedCtx(param(r, "pid"), param(r, "prec"), "", param(r, "rel"))
	if ef != nil {
		resp.errorFields = *ef
		return nil, nil, nil, resp, status
	}
	resp.ParentBusObPublicID = parent.publicID
	ct := e.cat.byID[strings.ToLower(param(r, "cid"))]
	if ct == nil || !ct.isA(rel.target) {
		resp.errorFields = errFields(codeBusObNotFound, fmt.Sprintf("Business object %s is not a target of %s.", param(r, "cid"), rel.displayName))
		return nil, nil, nil, resp, http.StatusBadRequest
	}
	child := e.data.find(ct, param(r, "crec"), "")
	if child == nil {
		resp.errorFields = errFields(codeRecNotFound, fmt.Sprintf("%s record %s not found.", ct.displayName, param(r, "crec")))
		return nil, nil, nil, resp, http.StatusNotFound
	}
	return parent, rel, child, resp, 0
}

func (e *Emulator) handleLink(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	parent, rel, child, resp, status := e.linkCtx(r)
	if parent == nil {
		writeJSON(w, status, resp)
		return
	}
	e.data.link(rel.id, parent.recID, child.recID)
	resp.TotalRecords = len(e.data.children(rel.id, parent.recID))
	writeJSON(w, http.StatusOK, resp)
}

func (e *Emulator) handleUnlink(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	parent, rel, child, resp, status := e.linkCtx(r)
	if parent == nil {
		writeJSON(w, status, resp)
		return
	}
	e.data.unlink(rel.id, parent.recID, child.recID)
	resp.TotalRecords = len(e.data.children(rel.id, parent.recID))
	writeJSON(w, http.StatusOK, resp)
}
