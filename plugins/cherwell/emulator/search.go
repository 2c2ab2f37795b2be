package emulator

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Search operators CSM supports in FilterInfo.
var operators = map[string]bool{"eq": true, "contains": true, "startswith": true, "gt": true, "lt": true}

// filterGroup is the OR-ed filters on one field; groups are AND-ed.
type filterGroup struct {
	field *fieldDef
	conds []filterInfo
}

// compileFilters groups filters by field (same field OR-ed, different fields
// AND-ed), rejecting unknown fields and operators.
func compileFilters(t *boDef, filters []filterInfo) ([]filterGroup, error) {
	var groups []filterGroup
	idx := map[*fieldDef]int{}
	for _, f := range filters {
		fd := t.field(f.FieldID, false)
		if fd == nil {
			return nil, fmt.Errorf("filter field %q is not a field of %s", f.FieldID, t.displayName)
		}
		op := strings.ToLower(f.Operator)
		if !operators[op] {
			return nil, fmt.Errorf("unsupported filter operator %q (eq, contains, startswith, gt, lt)", f.Operator)
		}
		f.Operator = op
		if i, ok := idx[fd]; ok {
			groups[i].conds = append(groups[i].conds, f)
			continue
		}
		idx[fd] = len(groups)
		groups = append(groups, filterGroup{field: fd, conds: []filterInfo{f}})
	}
	return groups, nil
}

func matchAll(rec *record, groups []filterGroup) bool {
	for _, g := range groups {
		ok := false
		for _, c := range g.conds {
			if matchOne(g.field, rec.values[g.field.id], c.Operator, valueString(c.Value)) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// matchOne compares case-insensitively (SQL Server's default collation); gt
// and lt compare numbers and dates by value.
func matchOne(f *fieldDef, have, op, want string) bool {
	switch op {
	case "eq":
		return strings.EqualFold(strings.TrimSpace(have), strings.TrimSpace(want))
	case "contains":
		return strings.Contains(strings.ToLower(have), strings.ToLower(want))
	case "startswith":
		return strings.HasPrefix(strings.ToLower(have), strings.ToLower(want))
	case "gt", "lt":
		c, ok := compareValues(f, have, want)
		if !ok {
			return false
		}
		if op == "gt" {
			return c > 0
		}
		return c < 0
	}
	return false
}

// compareValues orders a and b by the field's type; ok is false when either
// is empty or does not parse.
func compareValues(f *fieldDef, a, b string) (int, bool) {
	if a == "" || b == "" {
		return 0, false
	}
	switch f.typ {
	case typeNumber:
		x, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
		y, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case typeDateTime:
		x, ok1 := parseCSMTime(a)
		y, ok2 := parseCSMTime(b)
		if !ok1 || !ok2 {
			return 0, false
		}
		return x.Compare(y), true
	}
	return strings.Compare(strings.ToLower(a), strings.ToLower(b)), true
}

// selectFields picks the returned fields: explicit ids, all fields, or the
// default grid (the first fields of the object).
func selectFields(t *boDef, ids []string, all bool) ([]*fieldDef, error) {
	if all {
		return t.fields, nil
	}
	if len(ids) == 0 {
		n := min(6, len(t.fields))
		return t.fields[:n], nil
	}
	out := make([]*fieldDef, 0, len(ids))
	for _, id := range ids {
		f := t.field(id, false)
		if f == nil {
			return nil, fmt.Errorf("field %q is not a field of %s", id, t.displayName)
		}
		out = append(out, f)
	}
	return out, nil
}

// page returns the 1-based page of rows; size <= 0 means all rows.
func page[T any](rows []T, number, size int) []T {
	if size <= 0 {
		return rows
	}
	if number <= 0 {
		number = 1
	}
	start := (number - 1) * size
	if start >= len(rows) {
		return rows[:0]
	}
	return rows[start:min(start+size, len(rows))]
}

func sortRecords(recs []*record, t *boDef, sorting []sortInfo) error {
	for i := len(sorting) - 1; i >= 0; i-- {
		s := sorting[i]
		f := t.field(s.FieldID, false)
		if f == nil {
			return fmt.Errorf("sort field %q is not a field of %s", s.FieldID, t.displayName)
		}
		desc := s.SortDirection < 0
		sort.SliceStable(recs, func(a, b int) bool {
			c, ok := compareValues(f, recs[a].values[f.id], recs[b].values[f.id])
			if !ok {
				c = strings.Compare(recs[a].values[f.id], recs[b].values[f.id])
			}
			if desc {
				return c > 0
			}
			return c < 0
		})
	}
	return nil
}

func (e *Emulator) handleSearch(w http.ResponseWriter, r *http.Request) {
	var req searchRequest
	if !decodeBody(w, r, &req) {
		return
	}
	fail := func(status int, code, msg string) {
		writeJSON(w, status, searchResponse{BusinessObjects: []readResponse{}, Links: []link{}, Prompts: []any{},
			errorFields: errFields(code, msg)})
	}
	t := e.cat.byID[strings.ToLower(req.BusObID)]
	if t == nil {
		fail(http.StatusBadRequest, codeBusObNotFound, "Business object "+req.BusObID+" not found.")
		return
	}
	if req.SearchID != "" || req.SearchName != "" {
		fail(http.StatusBadRequest, codeBadRequest, "Stored searches are not supported by the emulator.")
		return
	}
	groups, err := compileFilters(t, req.Filters)
	if err != nil {
		fail(http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	fields, err := selectFields(t, req.Fields, req.IncludeAllFields)
	if err != nil {
		fail(http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	e.mu.RLock()
	var hits []*record
	for _, rec := range e.data.ordered {
		if rec.typ.isA(t) && matchAll(rec, groups) && matchText(rec, req.SearchText) {
			hits = append(hits, rec)
		}
	}
	if err := sortRecords(hits, t, req.Sorting); err != nil {
		e.mu.RUnlock()
		fail(http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	resp := searchResponse{BusinessObjects: []readResponse{}, Links: []link{}, Prompts: []any{}, TotalRows: len(hits)}
	for _, rec := range page(hits, req.PageNumber, req.PageSize) {
		resp.BusinessObjects = append(resp.BusinessObjects, readOf(rec, fields))
	}
	e.mu.RUnlock()
	writeJSON(w, http.StatusOK, resp)
}

// matchText implements searchText: a case-insensitive substring of any text field.
func matchText(rec *record, text string) bool {
	if text == "" {
		return true
	}
	text = strings.ToLower(text)
	for _, v := range rec.values {
		if strings.Contains(strings.ToLower(v), text) {
			return true
		}
	}
	return false
}
