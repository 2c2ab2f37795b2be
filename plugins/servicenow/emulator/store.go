package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// apiError is a failure answered with ServiceNow's error envelope.
type apiError struct {
	status          int
	message, detail string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.message, e.detail) }

func errNotFound() *apiError {
	return &apiError{http.StatusNotFound, "No Record found", "Record doesn't exist or ACL restricts the record retrieval"}
}

var sysIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

// value reads field of rec, following dot-walked references
// ("caller_id.user_name"). Missing values read as "".
func (e *Emulator) value(rec *record, field string) string {
	for {
		head, rest, walk := strings.Cut(field, ".")
		if head == "sys_class_name" && e.cat.hasSysClassName(rec.class) {
			if !walk {
				return rec.class
			}
		}
		v := rec.v[head]
		if !walk {
			return v
		}
		next := e.byID[v]
		if next == nil {
			return ""
		}
		rec, field = next, rest
	}
}

// fieldDef resolves a possibly dot-walked field on table.
func (e *Emulator) fieldDef(table, field string) (fieldDef, bool) {
	for {
		head, rest, walk := strings.Cut(field, ".")
		f, ok := e.cat.field(table, head)
		if !ok {
			return fieldDef{}, false
		}
		if !walk {
			return f, true
		}
		if f.kind != kindReference {
			return fieldDef{}, false
		}
		table, field = f.ref, rest
	}
}

func (e *Emulator) validField(table, field string) bool {
	_, ok := e.fieldDef(table, field)
	return ok
}

// getLocked returns the row id if it belongs to table (or a child of it).
func (e *Emulator) getLocked(table, id string) *record {
	rec := e.byID[id]
	if rec == nil || !e.cat.isA(rec.class, table) {
		return nil
	}
	return rec
}

// indexed fields get an equality index: the lookups clients repeat on every
// operation (dedup by correlation_id, CI by object_id or name, journal and
// task_ci by parent) stay O(matches) instead of scanning every row.
var indexed = map[string]bool{"correlation_id": true, "object_id": true, "name": true, "element_id": true, "task": true, "user_name": true}

func (e *Emulator) addRowLocked(rec *record) {
	e.seq++
	rec.seq = e.seq
	root := e.cat.root(rec.class)
	e.rows[root] = append(e.rows[root], rec)
	e.byID[rec.v["sys_id"]] = rec
	e.indexLocked(rec, true)
}

// indexLocked adds rec to (or removes it from) the equality indexes.
func (e *Emulator) indexLocked(rec *record, add bool) {
	for f := range indexed {
		v, ok := rec.v[f]
		if !ok {
			continue
		}
		m := e.idx[f]
		if m == nil {
			m = map[string][]*record{}
			e.idx[f] = m
		}
		k := strings.ToLower(v)
		if add {
			m[k] = append(m[k], rec)
		} else if rows := slices.DeleteFunc(m[k], func(r *record) bool { return r == rec }); len(rows) > 0 {
			m[k] = rows
		} else {
			delete(m, k)
		}
	}
}

// candidatesLocked narrows the rows to scan with an index when the query is
// one block with an AND'ed equality on an indexed field.
func (e *Emulator) candidatesLocked(root string, cq compiledQuery) []*record {
	if len(cq.q.Blocks) != 1 {
		return e.rows[root]
	}
	for _, group := range cq.q.Blocks[0] {
		if len(group) != 1 || group[0].Op != "=" || !indexed[group[0].Field] {
			continue
		}
		rows := slices.Clone(e.idx[group[0].Field][strings.ToLower(group[0].Value)])
		slices.SortFunc(rows, func(a, b *record) int { return int(a.seq - b.seq) })
		return rows
	}
	return e.rows[root]
}

// listLocked returns the rows of table (children included) matching cq, in
// query order.
func (e *Emulator) listLocked(table string, cq compiledQuery) []*record {
	var out []*record
	root := e.cat.root(table)
	for _, rec := range e.candidatesLocked(root, cq) {
		if !e.cat.isA(rec.class, table) {
			continue
		}
		if cq.match(func(f string) string { return e.value(rec, f) }) {
			out = append(out, rec)
		}
	}
	sortRows(out, cq.q.Order, e.value)
	return out
}

// decodeInput turns a JSON body into string values for the columns of class.
// Unknown fields are silently ignored, as ServiceNow does; values of any JSON
// type are stored as strings.
func (e *Emulator) decodeInput(class string, body []byte) (map[string]string, *apiError) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, &apiError{http.StatusBadRequest, "Exception while reading request", "The payload is not valid JSON."}
	}
	in := map[string]string{}
	for k, v := range raw {
		f, ok := e.cat.field(class, k)
		if !ok {
			continue
		}
		s := toString(v)
		if f.maxLen > 0 && len([]rune(s)) > f.maxLen {
			s = string([]rune(s)[:f.maxLen])
		}
		switch f.kind {
		case kindReference:
			s = e.resolveReference(f.ref, s)
		case kindBoolean:
			switch strings.ToLower(s) {
			case "true", "1":
				s = "true"
			case "false", "0", "":
				s = "false"
			}
		}
		in[k] = s
	}
	return in, nil
}

func toString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case map[string]any:
		if inner, ok := x["value"]; ok {
			return toString(inner)
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// resolveReference accepts a sys_id or, failing that, the display value of a
// row in table (the instance does the same for reference fields). Anything
// else is stored as given: ServiceNow keeps broken references too.
func (e *Emulator) resolveReference(table, s string) string {
	if s == "" || e.getLocked(table, s) != nil {
		return s
	}
	disp := e.displayField(table)
	for _, rec := range e.rows[e.cat.root(table)] {
		if e.cat.isA(rec.class, table) && strings.EqualFold(rec.v[disp], s) {
			return rec.v["sys_id"]
		}
	}
	return s
}

func (e *Emulator) displayField(table string) string {
	for t := e.cat[table]; t != nil; t = e.cat[t.parent] {
		if t.displayField != "" {
			return t.displayField
		}
	}
	return "sys_id"
}

// readOnly columns are computed by the instance; client values are ignored.
var readOnly = map[string]bool{
	"sys_created_on": true, "sys_created_by": true, "sys_updated_on": true, "sys_updated_by": true,
	"sys_mod_count": true, "sys_class_name": true, "priority": true, "incident_state": true,
	"reopen_count": true, "resolved_at": true, "resolved_by": true, "closed_at": true, "closed_by": true,
	"reopened_time": true, "reopened_by": true, "opened_by": true,
}

// insertLocked creates a row of class from client input.
func (e *Emulator) insertLocked(class string, in map[string]string, u *User) (*record, *apiError) {
	now := e.nowString()
	v := map[string]string{}
	id := newSysID()
	if s := in["sys_id"]; sysIDRe.MatchString(s) && e.byID[s] == nil {
		id = s
	}
	journal := map[string]string{}
	for k, s := range in {
		if k == "sys_id" || readOnly[k] {
			continue
		}
		if f, _ := e.cat.field(class, k); f.kind == kindJournal {
			if s != "" {
				journal[k] = s
			}
			continue
		}
		v[k] = s
	}
	v["sys_id"] = id
	v["sys_created_on"], v["sys_updated_on"] = now, now
	v["sys_created_by"], v["sys_updated_by"] = u.UserName, u.UserName
	v["sys_mod_count"] = "0"
	if e.cat.hasSysClassName(class) {
		v["sys_class_name"] = class
	}
	if p := e.cat.numberPrefix(class); p != "" && v["number"] == "" {
		e.counters[p]++
		v["number"] = fmt.Sprintf("%s%07d", p, 10000+e.counters[p])
	}
	if e.cat.isTaskTable(class) {
		if err := e.taskRules(class, nil, v, u); err != nil {
			return nil, err
		}
	}
	if e.cat.isA(class, "cmdb_ci") && v["discovery_source"] == "" {
		v["discovery_source"] = "ServiceNow"
	}
	rec := &record{class: class, v: v}
	e.addRowLocked(rec)
	e.journalLocked(rec, journal, u)
	return rec, nil
}

// insertSeedLocked inserts a row as the system would (no business rules
// beyond the sys fields).
func (e *Emulator) insertSeedLocked(class, id string, v map[string]string) *record {
	if old := e.byID[id]; old != nil {
		return old
	}
	now := e.nowString()
	v["sys_id"] = id
	v["sys_created_on"], v["sys_updated_on"] = now, now
	v["sys_created_by"], v["sys_updated_by"] = "system", "system"
	v["sys_mod_count"] = "0"
	if e.cat.hasSysClassName(class) {
		v["sys_class_name"] = class
	}
	rec := &record{class: class, v: v}
	e.addRowLocked(rec)
	return rec
}

// updateLocked applies client input to rec.
func (e *Emulator) updateLocked(rec *record, in map[string]string, u *User) *apiError {
	next := make(map[string]string, len(rec.v)+len(in))
	for k, s := range rec.v {
		next[k] = s
	}
	journal := map[string]string{}
	for k, s := range in {
		if k == "sys_id" || k == "number" || readOnly[k] {
			continue
		}
		if f, _ := e.cat.field(rec.class, k); f.kind == kindJournal {
			if s != "" {
				journal[k] = s
			}
			continue
		}
		next[k] = s
	}
	if e.cat.isTaskTable(rec.class) {
		if err := e.taskRules(rec.class, rec.v, next, u); err != nil {
			return err
		}
	}
	n, _ := strconv.Atoi(rec.v["sys_mod_count"])
	next["sys_mod_count"] = strconv.Itoa(n + 1)
	next["sys_updated_on"] = e.nowString()
	next["sys_updated_by"] = u.UserName
	e.indexLocked(rec, false)
	rec.v = next
	e.indexLocked(rec, true)
	e.journalLocked(rec, journal, u)
	return nil
}

func (e *Emulator) deleteLocked(rec *record) {
	id := rec.v["sys_id"]
	delete(e.byID, id)
	e.indexLocked(rec, false)
	root := e.cat.root(rec.class)
	e.rows[root] = slices.DeleteFunc(e.rows[root], func(r *record) bool { return r == rec })
}

// journalLocked stores work_notes/comments as sys_journal_field rows.
func (e *Emulator) journalLocked(rec *record, journal map[string]string, u *User) {
	for _, el := range []string{"comments", "work_notes"} {
		text, ok := journal[el]
		if !ok {
			continue
		}
		now := e.nowString()
		id := newSysID()
		j := &record{class: "sys_journal_field", v: map[string]string{
			"sys_id": id, "element": el, "element_id": rec.v["sys_id"], "name": rec.class, "value": text,
			"sys_created_on": now, "sys_created_by": u.UserName, "sys_updated_on": now, "sys_updated_by": u.UserName,
			"sys_mod_count": "0",
		}}
		e.addRowLocked(j)
	}
}

// journalText renders a journal field's history like the instance's display
// value: newest entry first.
func (e *Emulator) journalText(rec *record, element string) string {
	var b strings.Builder
	rows := e.rows["sys_journal_field"]
	for i := len(rows) - 1; i >= 0; i-- {
		j := rows[i]
		if j.v["element_id"] != rec.v["sys_id"] || j.v["element"] != element {
			continue
		}
		label := "Additional comments"
		if element == "work_notes" {
			label = "Work notes"
		}
		fmt.Fprintf(&b, "%s - %s (%s)\n%s\n\n", j.v["sys_created_on"], j.v["sys_created_by"], label, j.v["value"])
	}
	return b.String()
}

// renderOpts are the sysparm_* rendering parameters.
type renderOpts struct {
	table   string   // the queried table: its columns are rendered
	fields  []string // nil: every column
	display string   // "false", "true" or "all"
	noLink  bool
	base    string // instance URL for reference links
}

// renderLocked turns rec into the Table API's JSON object.
func (e *Emulator) renderLocked(rec *record, o renderOpts) map[string]any {
	table := o.table
	if table == "" {
		table = rec.class
	}
	fields := o.fields
	if fields == nil {
		fields = e.cat.fieldNames(table)
	}
	out := make(map[string]any, len(fields))
	for _, name := range fields {
		f, ok := e.fieldDef(table, name)
		if !ok {
			continue // unknown fields in sysparm_fields are ignored
		}
		val := e.value(rec, name)
		disp := val
		switch f.kind {
		case kindReference:
			disp = ""
			if target := e.byID[val]; target != nil {
				disp = target.v[e.displayField(target.class)]
			}
		case kindChoice:
			disp = f.choiceLabel(val)
		case kindJournal:
			val = ""
			if !strings.Contains(name, ".") {
				disp = e.journalText(rec, name)
			}
		}
		link := ""
		if f.kind == kindReference && val != "" && !o.noLink {
			link = o.base + "/api/now/table/" + f.ref + "/" + val
		}
		switch o.display {
		case "true":
			if link != "" {
				out[name] = map[string]string{"display_value": disp, "link": link}
			} else {
				out[name] = disp
			}
		case "all":
			m := map[string]string{"display_value": disp, "value": val}
			if link != "" {
				m["link"] = link
			}
			out[name] = m
		default:
			if link != "" {
				out[name] = map[string]string{"link": link, "value": val}
			} else {
				out[name] = val
			}
		}
	}
	return out
}
