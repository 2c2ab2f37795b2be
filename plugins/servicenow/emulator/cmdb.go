package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// CI is a configuration item to seed: Class is a cmdb_ci class name, Values
// its columns (object_id holds the Azure resource id on cloud classes).
type CI struct {
	Class  string            `json:"class"`
	Values map[string]string `json:"values"`
}

func (ci CI) withDefaults() map[string]string {
	v := map[string]string{"operational_status": "1", "install_status": "1", "discovery_source": "ServiceNow"}
	for k, s := range ci.Values {
		v[k] = s
	}
	return v
}

// demoCIs match the resources of the Azure sample alerts, with object_id in
// the mixed case Azure discovery writes (alerts carry lower-cased ids).
var demoCIs = []CI{
	{Class: "cmdb_ci_vm_instance", Values: map[string]string{"name": "test-VM",
		"object_id": "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/test-RG/providers/Microsoft.Compute/virtualMachines/test-VM"}},
	{Class: "cmdb_ci_cloud_storage_account", Values: map[string]string{"name": "test-storageAccount",
		"object_id": "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/test-RG/providers/Microsoft.Storage/storageAccounts/test-storageAccount"}},
	{Class: "cmdb_ci_cloud_storage_account", Values: map[string]string{"name": "diag500",
		"object_id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/Contoso/providers/Microsoft.Storage/storageAccounts/diag500"}},
}

// SeedCI inserts a CI and returns its sys_id.
func (e *Emulator) SeedCI(ci CI) (string, error) {
	if e.cat[ci.Class] == nil || !e.cat.isA(ci.Class, "cmdb_ci") {
		return "", fmt.Errorf("seed CI: %q is not a CMDB class", ci.Class)
	}
	return e.SeedRecord(ci.Class, ci.withDefaults())
}

// SeedRecord inserts a row into table as the system (no business rules) and
// returns its sys_id. Unknown columns are rejected.
func (e *Emulator) SeedRecord(table string, values map[string]string) (string, error) {
	if e.cat[table] == nil {
		return "", fmt.Errorf("seed: unknown table %q", table)
	}
	v := map[string]string{}
	for k, s := range values {
		if _, ok := e.cat.field(table, k); !ok {
			return "", fmt.Errorf("seed: table %q has no field %q", table, k)
		}
		v[k] = s
	}
	id := v["sys_id"]
	if !sysIDRe.MatchString(id) {
		id = newSysID()
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byID[id] != nil {
		return "", fmt.Errorf("seed: sys_id %s exists", id)
	}
	return e.insertSeedLocked(table, id, v).v["sys_id"], nil
}

// IRE wire types (Identification and Reconciliation API).
type ireRequest struct {
	Items []struct {
		ClassName  string         `json:"className"`
		Values     map[string]any `json:"values"`
		InternalID string         `json:"internal_id"`
	} `json:"items"`
	Relations []struct {
		Parent int    `json:"parent"`
		Child  int    `json:"child"`
		Type   string `json:"type"`
	} `json:"relations"`
}

type ireAttempt struct {
	IdentifierName string   `json:"identifierName"`
	AttemptResult  string   `json:"attemptResult"`
	Attributes     []string `json:"attributes"`
	SearchOnTable  string   `json:"searchOnTable"`
}

type ireError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

type ireItem struct {
	ClassName              string       `json:"className"`
	Operation              string       `json:"operation"`
	SysID                  string       `json:"sysId"`
	IdentifierEntrySysID   string       `json:"identifierEntrySysId"`
	IdentificationAttempts []ireAttempt `json:"identificationAttempts"`
	Errors                 []ireError   `json:"errors,omitempty"`
	ErrorCount             int          `json:"errorCount"`
	InputIndices           []int        `json:"inputIndices"`
	Markers                []string     `json:"markers"`
	MergedPayloadIDs       []string     `json:"mergedPayloadIds"`
}

// handleIRE is POST /api/now/identifyreconcile (dryRun: …/query). Failures
// to identify an item are reported inside a 200, per item, as on a real
// instance.
func (e *Emulator) handleIRE(dryRun bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		u := userFrom(r.Context())
		if !u.hasRole("itil", "asset") {
			writeAPIError(w, aclError("Insert"))
			return
		}
		if !checkWriteHeaders(w, r) {
			return
		}
		var req ireRequest
		if err := json.Unmarshal(readBody(r), &req); err != nil {
			writeError(w, http.StatusBadRequest, "Exception while reading request", "The payload is not valid JSON.")
			return
		}
		source := r.URL.Query().Get("sysparm_data_source")
		if source == "" {
			source = "ServiceNow"
		}
		items := make([]ireItem, 0, len(req.Items))
		e.mu.Lock()
		for i, in := range req.Items {
			vals := map[string]string{}
			for k, v := range in.Values {
				vals[k] = toString(v)
			}
			items = append(items, e.reconcileLocked(i, in.ClassName, vals, source, u, dryRun))
		}
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"result": map[string]any{
			"items": items, "relations": []any{}, "additionalCommittedItems": []any{}, "additionalCommittedRelations": []any{},
		}})
	}
}

func (e *Emulator) reconcileLocked(idx int, class string, vals map[string]string, source string, u *User, dryRun bool) ireItem {
	item := ireItem{ClassName: class, InputIndices: []int{idx}, Markers: []string{}, MergedPayloadIDs: []string{},
		IdentificationAttempts: []ireAttempt{}}
	fail := func(code, msg string) ireItem {
		item.Operation = "NO_CHANGE"
		item.SysID = "Unknown"
		item.Errors = append(item.Errors, ireError{Error: code, Message: msg})
		item.ErrorCount = len(item.Errors)
		return item
	}
	if e.cat[class] == nil || !e.cat.isA(class, "cmdb_ci") {
		return fail("INVALID_INPUT_DATA", fmt.Sprintf("Invalid className '%s' in payload", class))
	}
	// keep only the class's columns
	in := map[string]string{}
	for k, s := range vals {
		if _, ok := e.cat.field(class, k); ok && !readOnly[k] && k != "sys_id" {
			in[k] = s
		}
	}
	ids := e.cat.identifiers(class)
	item.IdentifierEntrySysID = stableID("cmdb_identifier_entry", class+"/"+strings.Join(ids, ","))
	var match *record
	tried := false
	for _, attr := range ids {
		att := ireAttempt{IdentifierName: "Identifier " + class, Attributes: []string{attr}, SearchOnTable: class}
		want := in[attr]
		if want == "" {
			att.AttemptResult = "SKIPPED"
			item.IdentificationAttempts = append(item.IdentificationAttempts, att)
			continue
		}
		tried = true
		var found []*record
		for _, rec := range e.rows["cmdb_ci"] {
			if e.cat.isA(rec.class, class) && strings.EqualFold(rec.v[attr], want) {
				found = append(found, rec)
			}
		}
		switch len(found) {
		case 0:
			att.AttemptResult = "NO_MATCH"
		case 1:
			att.AttemptResult = "MATCHED"
			match = found[0]
		default:
			att.AttemptResult = "MULTI_MATCH"
			item.IdentificationAttempts = append(item.IdentificationAttempts, att)
			return fail("MULTI_MATCH", fmt.Sprintf("Identification failed: %d duplicate CIs of class %s have %s=%s", len(found), class, attr, want))
		}
		item.IdentificationAttempts = append(item.IdentificationAttempts, att)
		if match != nil {
			break
		}
	}
	if !tried {
		return fail("MISSING_MATCHING_ATTRIBUTES", fmt.Sprintf(
			"In payload missing minimum set of input values for criterion (identifier) entries for class %s, missing: %s",
			class, strings.Join(ids, ", ")))
	}
	if match == nil {
		item.Operation = "INSERT"
		if dryRun {
			item.SysID = "Unknown"
			return item
		}
		in["discovery_source"] = source
		rec, _ := e.insertLocked(class, in, u)
		rec.v["first_discovered"], rec.v["last_discovered"] = e.nowString(), e.nowString()
		item.SysID = rec.v["sys_id"]
		return item
	}
	item.SysID = match.v["sys_id"]
	changed := map[string]string{}
	for k, s := range in {
		if match.v[k] != s && !(slices.Contains(ids, k) && strings.EqualFold(match.v[k], s)) {
			changed[k] = s
		}
	}
	if len(changed) == 0 {
		item.Operation = "NO_CHANGE"
		return item
	}
	item.Operation = "UPDATE"
	if !dryRun {
		changed["last_discovered"] = e.nowString()
		_ = e.updateLocked(match, changed, u)
	}
	return item
}

// handleInstanceList is GET /api/now/cmdb/instance/{class}.
func (e *Emulator) handleInstanceList(w http.ResponseWriter, r *http.Request) {
	class := r.PathValue("class")
	if e.cat[class] == nil || !e.cat.isA(class, "cmdb_ci") {
		writeError(w, http.StatusBadRequest, "Invalid class "+class, "")
		return
	}
	q := r.URL.Query()
	limit, err := intParam(q, "sysparm_limit", 10000)
	if err == nil && limit == 0 {
		limit = 10000
	}
	offset, err2 := intParam(q, "sysparm_offset", 0)
	if err == nil {
		err = err2
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "Invalid parameter", err.Error())
		return
	}
	cq := compile(ParseQuery(q.Get("sysparm_query")), class, e.validField, e.opts.InvalidQueryReturnsNoRows)
	e.mu.Lock()
	rows := e.listLocked(class, cq)
	out := []map[string]string{}
	for i := offset; i < len(rows) && i < offset+limit; i++ {
		out = append(out, map[string]string{"sys_id": rows[i].v["sys_id"], "name": rows[i].v["name"]})
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"result": out})
}

// handleInstanceGet is GET /api/now/cmdb/instance/{class}/{sys_id}.
func (e *Emulator) handleInstanceGet(w http.ResponseWriter, r *http.Request) {
	class := r.PathValue("class")
	if e.cat[class] == nil || !e.cat.isA(class, "cmdb_ci") {
		writeError(w, http.StatusBadRequest, "Invalid class "+class, "")
		return
	}
	e.mu.Lock()
	rec := e.getLocked(class, r.PathValue("sys_id"))
	var attrs map[string]any
	if rec != nil {
		attrs = e.renderLocked(rec, renderOpts{table: rec.class, display: "false", base: baseURL(r)})
	}
	e.mu.Unlock()
	if rec == nil {
		writeAPIError(w, errNotFound())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"result": map[string]any{
		"attributes": attrs, "outbound_relations": []any{}, "inbound_relations": []any{},
	}})
}
