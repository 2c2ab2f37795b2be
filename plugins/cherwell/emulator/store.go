package emulator

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// csmTime is how CSM renders DateTime field values (en-US culture).
const csmTime = "1/2/2006 3:04:05 PM"

// firstPublicID is the first Incident number handed out.
const firstPublicID = 101001

// record is one business object instance.
type record struct {
	typ      *boDef
	recID    string
	publicID string
	values   map[string]string // by field id
	seq      int64
}

func (r *record) get(name string) string {
	if f := r.typ.byName[strings.ToLower(name)]; f != nil {
		return r.values[f.id]
	}
	return ""
}

// dataStore holds every record and relationship link. Guarded by Emulator.mu.
type dataStore struct {
	records map[string]*record // by rec id
	ordered []*record          // creation order
	links   map[string][]string
	nextPub int
	seq     int64
}

func newDataStore() *dataStore {
	return &dataStore{records: map[string]*record{}, links: map[string][]string{}, nextPub: firstPublicID}
}

func linkKey(relID, parentRecID string) string { return relID + "/" + parentRecID }

func (d *dataStore) link(relID, parent, child string) {
	k := linkKey(relID, parent)
	for _, c := range d.links[k] {
		if c == child {
			return
		}
	}
	d.links[k] = append(d.links[k], child)
}

func (d *dataStore) unlink(relID, parent, child string) bool {
	k := linkKey(relID, parent)
	l := d.links[k]
	for i, c := range l {
		if c == child {
			d.links[k] = append(l[:i:i], l[i+1:]...)
			return true
		}
	}
	return false
}

func (d *dataStore) children(relID, parent string) []*record {
	var out []*record
	for _, id := range d.links[linkKey(relID, parent)] {
		if r := d.records[id]; r != nil {
			out = append(out, r)
		}
	}
	return out
}

// find looks a record of type t (or of a member type when t is a group) up
// by rec id or public id.
func (d *dataStore) find(t *boDef, recID, publicID string) *record {
	if recID != "" {
		r := d.records[strings.ToLower(recID)]
		if r != nil && r.typ.isA(t) {
			return r
		}
		return nil
	}
	if publicID == "" {
		return nil
	}
	for _, r := range d.ordered {
		if r.typ.isA(t) && strings.EqualFold(r.publicID, publicID) {
			return r
		}
	}
	return nil
}

// valueString converts a JSON value the way CSM coerces field values.
func valueString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
		return "False"
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return fmt.Sprint(x)
	}
}

func parseCSMTime(s string) (time.Time, bool) {
	for _, layout := range []string{csmTime, time.RFC3339, "2006-01-02T15:04:05", "2006-01-02", "1/2/2006"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Validation error codes in fieldValidationErrors.
const (
	codeFieldNotFound = "FIELDNOTFOUND"
	codeReadOnly      = "FIELDREADONLY"
	codeRequired      = "REQUIREDFIELD"
	codeInvalid       = "INVALIDVALUE"
	codeTooLong       = "VALUETOOLONG"
)

// closedStates need a close description (CSM form rule for Incident).
func closedState(s string) bool {
	return strings.EqualFold(s, "Resolved") || strings.EqualFold(s, "Closed")
}

// applyFields computes the values of a record after a save: current values
// (or template defaults when creating) overlaid with the dirty items. It
// returns the new values, or the validation errors; nothing is stored.
func applyFields(t *boDef, current map[string]string, items []fieldItemIn) (map[string]string, []fieldValidationError) {
	vals := map[string]string{}
	if current == nil {
		for _, f := range t.fields {
			if f.def != "" {
				vals[f.id] = f.def
			}
		}
	} else {
		for k, v := range current {
			vals[k] = v
		}
	}
	var errs []fieldValidationError
	for _, it := range items {
		if !it.Dirty {
			continue // CSM writes dirty fields only
		}
		f := t.field(it.FieldID, false)
		if f == nil {
			label := it.FieldID
			if label == "" {
				label = it.Name
			}
			errs = append(errs, fieldValidationError{FieldID: it.FieldID, ErrorCode: codeFieldNotFound,
				Error: fmt.Sprintf("Field %q is not a field of %s.", label, t.displayName)})
			continue
		}
		if f.readOnly {
			errs = append(errs, fieldValidationError{FieldID: f.id, ErrorCode: codeReadOnly,
				Error: fmt.Sprintf("%s is read-only.", f.displayName)})
			continue
		}
		v := valueString(it.Value)
		if msg := checkValue(f, &v); msg != "" {
			code := codeInvalid
			if f.maxSize > 0 && len([]rune(v)) > f.maxSize {
				code = codeTooLong
			}
			errs = append(errs, fieldValidationError{FieldID: f.id, ErrorCode: code, Error: msg})
			continue
		}
		vals[f.id] = v
	}
	for _, f := range t.fields {
		if f.required && strings.TrimSpace(vals[f.id]) == "" {
			errs = append(errs, fieldValidationError{FieldID: f.id, ErrorCode: codeRequired,
				Error: fmt.Sprintf("%s is required.", f.displayName)})
		}
	}
	if t.stateField != nil && closedState(vals[t.stateField.id]) {
		if cd := t.byName["closedescription"]; cd != nil && strings.TrimSpace(vals[cd.id]) == "" {
			errs = append(errs, fieldValidationError{FieldID: cd.id, ErrorCode: codeRequired,
				Error: fmt.Sprintf("%s is required when %s is %s.", cd.displayName, t.stateField.displayName, vals[t.stateField.id])})
		}
	}
	return vals, errs
}

// checkValue validates (and canonicalises) v for f; "" means valid.
func checkValue(f *fieldDef, v *string) string {
	s := *v
	if f.maxSize > 0 && len([]rune(s)) > f.maxSize {
		return fmt.Sprintf("%s exceeds the maximum size of %d characters.", f.displayName, f.maxSize)
	}
	if s == "" {
		return ""
	}
	switch f.typ {
	case typeNumber:
		if _, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return fmt.Sprintf("%q is not a valid number for %s.", s, f.displayName)
		}
	case typeLogical:
		switch strings.ToLower(s) {
		case "true":
			*v = "True"
		case "false":
			*v = "False"
		default:
			return fmt.Sprintf("%q is not a valid logical value for %s.", s, f.displayName)
		}
	case typeDateTime:
		t, ok := parseCSMTime(s)
		if !ok {
			return fmt.Sprintf("%q is not a valid date/time for %s.", s, f.displayName)
		}
		*v = t.Format(csmTime)
	}
	if f.allowed != nil {
		for _, a := range f.allowed {
			if strings.EqualFold(a, strings.TrimSpace(s)) {
				*v = a
				return ""
			}
		}
		return fmt.Sprintf("%q is not a valid value for %s (valid: %s).", s, f.displayName, strings.Join(f.allowed, ", "))
	}
	return ""
}

// commit stores vals as a new record of t (rec nil) or as rec's new values,
// maintaining system fields.
func (d *dataStore) commit(t *boDef, rec *record, vals map[string]string, now time.Time) *record {
	stamp := now.UTC().Format(csmTime)
	if rec == nil {
		d.seq++
		rec = &record{typ: t, recID: randomToken(21, false), seq: d.seq}
		if t.publicID != nil {
			rec.publicID = strconv.Itoa(d.nextPub)
			d.nextPub++
			vals[t.publicID.id] = rec.publicID
		} else {
			rec.publicID = rec.recID
		}
		vals[t.recIDField().id] = rec.recID
		vals[t.byName["createddatetime"].id] = stamp
		if f := t.byName["configitemtypename"]; f != nil {
			vals[f.id] = t.displayName
		}
		d.records[rec.recID] = rec
		d.ordered = append(d.ordered, rec)
	}
	if t.stateField != nil {
		if cdt := t.byName["closeddatetime"]; cdt != nil {
			wasClosed := rec.values != nil && closedState(rec.values[t.stateField.id])
			nowClosed := closedState(vals[t.stateField.id])
			switch {
			case nowClosed && !wasClosed:
				vals[cdt.id] = stamp
			case !nowClosed:
				delete(vals, cdt.id)
			}
		}
	}
	vals[t.byName["lastmodifieddatetime"].id] = stamp
	rec.values = vals
	return rec
}
