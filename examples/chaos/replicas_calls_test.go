package chaos

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/plugins/servicenow/emulator"
)

// Kinds of ServiceNow calls about one ticket key.
const (
	callLookup = "lookup" // GET …/incident?sysparm_query=correlation_id=KEY…: before a create
	callCreate = "create" // POST …/incident {correlation_id: KEY, …}
	callRead   = "read"   // GET …/incident/SYS_ID: before a resolve
	callUpdate = "update" // PATCH …/incident/SYS_ID: the resolve
)

const incidentPath = "/api/now/table/incident"

// keyCall is one emulator call about one ticket key.
type keyCall struct {
	seq  int // position in the call log, which is in order of completion
	kind string
	call emulator.Call
}

// ok reports whether the call succeeded.
func (k keyCall) ok() bool { return k.call.Status >= 200 && k.call.Status < 300 }

// isResolve reports whether an update set state 6 (Resolved).
func (k keyCall) isResolve() bool {
	var body map[string]any
	return k.kind == callUpdate && json.Unmarshal([]byte(k.call.Body), &body) == nil && body["state"] == "6"
}

// callsByKey sorts the emulator's incident calls by ticket key: lookups and
// creates name the key (the correlation_id), reads and updates name the
// incident, whose key keyOf gives. Other calls (health checks) are left out.
func callsByKey(calls []emulator.Call, keyOf map[string]string) map[string][]keyCall {
	out := map[string][]keyCall{}
	for seq, c := range calls {
		var key, kind string
		switch {
		case c.Method == http.MethodGet && c.Path == incidentPath:
			key, kind = lookupKey(c), callLookup
		case c.Method == http.MethodPost && c.Path == incidentPath:
			var body map[string]any
			if json.Unmarshal([]byte(c.Body), &body) == nil {
				key, _ = body["correlation_id"].(string)
			}
			kind = callCreate
		case strings.HasPrefix(c.Path, incidentPath+"/"):
			key = keyOf[strings.TrimPrefix(c.Path, incidentPath+"/")]
			switch c.Method {
			case http.MethodGet:
				kind = callRead
			case http.MethodPatch:
				kind = callUpdate
			}
		}
		if key != "" && kind != "" {
			out[key] = append(out[key], keyCall{seq: seq, kind: kind, call: c})
		}
	}
	return out
}

// orderProblem checks DESIGN §8.4 for one ticket key in the calls that
// reached ServiceNow, and describes the first violation ("" when none):
// exactly one successful create; nothing touches the incident before that
// create completed; when resolved, a successful resolve (state 6) that
// comes after every call of the create's delivery (its lookups included),
// so the create's delivery had finished when the resolve's began; and no
// resolve when none was acknowledged.
func orderProblem(calls []keyCall, wantResolve bool) string {
	var create *keyCall
	for i, c := range calls {
		if c.kind == callCreate && c.ok() {
			if create != nil {
				return "created twice: calls " + describeCalls(calls)
			}
			create = &calls[i]
		}
	}
	if create == nil {
		return "no successful create reached ServiceNow: calls " + describeCalls(calls)
	}
	firstResolve := -1
	for i, c := range calls {
		if (c.kind == callRead || c.kind == callUpdate) && (c.seq < create.seq || c.call.Time.Before(create.call.Time)) {
			return "the incident was read or updated before its create completed: calls " + describeCalls(calls)
		}
		if c.isResolve() && c.ok() && firstResolve < 0 {
			firstResolve = i
		}
	}
	switch {
	case !wantResolve && firstResolve >= 0:
		return "resolved, but no resolve was acknowledged: calls " + describeCalls(calls)
	case wantResolve && firstResolve < 0:
		return "the acknowledged resolve never reached ServiceNow: calls " + describeCalls(calls)
	case !wantResolve:
		return ""
	}
	// Reads come only from resolves: nothing of the create's delivery may
	// come after the first of them.
	touched := false
	for _, c := range calls {
		touched = touched || c.kind == callRead || c.kind == callUpdate
		if touched && (c.kind == callLookup || c.kind == callCreate) {
			return "the create's delivery was still calling ServiceNow after the resolve's began: calls " + describeCalls(calls)
		}
	}
	return ""
}

// describeCalls lists calls as "#seq user kind status at time" for messages.
func describeCalls(calls []keyCall) string {
	parts := make([]string, len(calls))
	for i, c := range calls {
		parts[i] = fmt.Sprintf("#%d %s %s %d at %s", c.seq, c.call.User, c.kind, c.call.Status, c.call.Time.Format("15:04:05.000000"))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// TestOrderProblem: the per-key order check of TestReplicasPostgres finds
// each kind of violation in a call log (and none in a good one).
func TestOrderProblem(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const sysID = "0123456789abcdef0123456789abcdef"
	lookup := emulator.Call{Method: http.MethodGet, Path: incidentPath, Query: url.Values{"sysparm_query": {"correlation_id=k1^stateNOT IN6,7,8"}}.Encode(), Status: 200}
	create := emulator.Call{Method: http.MethodPost, Path: incidentPath, Body: `{"correlation_id":"k1","short_description":"x"}`, Status: 201}
	read := emulator.Call{Method: http.MethodGet, Path: incidentPath + "/" + sysID, Status: 200}
	resolve := emulator.Call{Method: http.MethodPatch, Path: incidentPath + "/" + sysID, Body: `{"state":"6","close_code":"Solved"}`, Status: 200}
	health := emulator.Call{Method: http.MethodGet, Path: incidentPath, Query: "sysparm_limit=1", Status: 200}
	other := emulator.Call{Method: http.MethodPost, Path: incidentPath, Body: `{"correlation_id":"k2"}`, Status: 201}
	failed := func(c emulator.Call, status int) emulator.Call { c.Status = status; return c }

	tests := []struct {
		name        string
		calls       []emulator.Call
		wantResolve bool
		want        string // substring of the problem; "" for none
	}{
		{"create only", []emulator.Call{health, lookup, other, create}, false, ""},
		{"create then resolve", []emulator.Call{lookup, create, other, read, resolve}, true, ""},
		{"interrupted create looked up again", []emulator.Call{lookup, create, lookup, read, resolve}, true, ""},
		{"failed create retried", []emulator.Call{lookup, failed(create, 503), lookup, create}, false, ""},
		{"created twice", []emulator.Call{lookup, create, lookup, create}, false, "created twice"},
		{"never created", []emulator.Call{lookup, failed(create, 500)}, false, "no successful create"},
		{"read before the create completed", []emulator.Call{lookup, read, create, resolve}, true, "before its create completed"},
		{"resolve not acknowledged", []emulator.Call{lookup, create, read, resolve}, false, "no resolve was acknowledged"},
		{"resolve missing", []emulator.Call{lookup, create, read}, true, "never reached ServiceNow"},
		{"resolve failed", []emulator.Call{lookup, create, read, failed(resolve, 500)}, true, "never reached ServiceNow"},
		{"create's delivery after the resolve's began", []emulator.Call{lookup, create, read, lookup, resolve}, true, "still calling ServiceNow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.calls {
				tt.calls[i].Time = t0.Add(time.Duration(i) * time.Millisecond)
			}
			byKey := callsByKey(tt.calls, map[string]string{sysID: "k1"})
			got := orderProblem(byKey["k1"], tt.wantResolve)
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("orderProblem = %q, want a problem containing %q", got, tt.want)
			}
		})
	}
}
