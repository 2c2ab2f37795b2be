package emulator_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/jira/emulator"
	"github.com/itsmbridge/itsmbridge/plugins/jira/internal/contract"
)

func TestJSMRequests(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	var desks struct {
		Size   int
		Values []struct{ ID, ProjectKey string }
	}
	e.must(200, "GET", "/rest/servicedeskapi/servicedesk", nil, &desks)
	if desks.Size != 1 || desks.Values[0].ProjectKey != "OPS" {
		t.Fatalf("service desks %+v", desks)
	}
	var rts struct {
		Values []struct{ ID, Name, IssueTypeID string }
	}
	e.must(200, "GET", "/rest/servicedeskapi/servicedesk/1/requesttype", nil, &rts)
	if len(rts.Values) != 2 || rts.Values[0].Name != "Report an incident" || rts.Values[0].IssueTypeID != "10002" {
		t.Fatalf("request types %+v", rts)
	}
	e.must(404, "GET", "/rest/servicedeskapi/servicedesk/9/requesttype", nil, nil)
	var meta struct {
		RequestTypeFields []struct {
			FieldID    string
			Required   bool
			JiraSchema struct{ Type, Custom string }
		}
	}
	e.must(200, "GET", "/rest/servicedeskapi/servicedesk/1/requesttype/11/field", nil, &meta)
	var ids []string
	for _, f := range meta.RequestTypeFields {
		ids = append(ids, f.FieldID)
	}
	if !slices.Contains(ids, "labels") || !slices.Contains(ids, emulator.SeedAssetsField) || !meta.RequestTypeFields[0].Required {
		t.Fatalf("request type fields %+v", meta)
	}

	tests := []struct {
		name string
		body map[string]any
		want int
		msg  string
	}{
		{"plain description", map[string]any{"serviceDeskId": "1", "requestTypeId": "11", "requestFieldValues": map[string]any{
			"summary": "VM down", "description": "line 1\nline 2", "labels": []string{"azmon-x"}, emulator.SeedCorrelationField: "x",
			"priority": map[string]any{"name": "Highest"}}}, 201, ""},
		{"ADF description", map[string]any{"serviceDeskId": "1", "requestTypeId": "11", "isAdfRequest": true,
			"requestFieldValues": map[string]any{"summary": "adf", "description": adf("rich")}}, 201, ""},
		{"ADF flag with plain text", map[string]any{"serviceDeskId": "1", "requestTypeId": "11", "isAdfRequest": true,
			"requestFieldValues": map[string]any{"summary": "adf", "description": "plain"}}, 400, "Atlassian Document"},
		{"field not on request type", map[string]any{"serviceDeskId": "1", "requestTypeId": "12",
			"requestFieldValues": map[string]any{"summary": "x", "labels": []string{"a"}}}, 400, "Field 'labels' is not valid for this request type."},
		{"required missing", map[string]any{"serviceDeskId": "1", "requestTypeId": "11", "requestFieldValues": map[string]any{}}, 400, "Summary is required."},
		{"unknown request type", map[string]any{"serviceDeskId": "1", "requestTypeId": "99", "requestFieldValues": map[string]any{"summary": "x"}}, 400, "doesn't match"},
		{"unknown service desk", map[string]any{"serviceDeskId": "7", "requestTypeId": "11", "requestFieldValues": map[string]any{"summary": "x"}}, 400, "service desk"},
		{"bad label", map[string]any{"serviceDeskId": "1", "requestTypeId": "11", "requestFieldValues": map[string]any{"summary": "x", "labels": []string{"a b"}}}, 400, "contains spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body, _ := e.do("POST", "/rest/servicedeskapi/request", tt.body)
			if st != tt.want {
				t.Fatalf("status %d, want %d: %s", st, tt.want, body)
			}
			if tt.want == 400 {
				var je struct {
					ErrorMessage     string
					I18nErrorMessage struct{ I18nKey string }
				}
				if json.Unmarshal(body, &je) != nil || !strings.Contains(je.ErrorMessage, tt.msg) || je.I18nErrorMessage.I18nKey == "" {
					t.Errorf("JSM error body %s, want %q", body, tt.msg)
				}
			}
		})
	}
	var req struct {
		IssueKey      string
		CurrentStatus struct{ Status, StatusCategory string }
		Links         struct{ Web string } `json:"_links"`
	}
	e.must(200, "GET", "/rest/servicedeskapi/request/OPS-1", nil, &req)
	if req.IssueKey != "OPS-1" || req.CurrentStatus.Status != "Open" || req.CurrentStatus.StatusCategory != "NEW" || req.Links.Web == "" {
		t.Fatalf("request %+v", req)
	}
	tk, _ := e.emu.Ticket("OPS-1")
	if tk.Description != "line 1\nline 2" || tk.Priority != "Highest" || tk.RequestTypeID != "11" || e.emu.CountTickets("x") != 1 {
		t.Errorf("ticket %+v", tk)
	}
	// Issues created through the platform API are no customer requests.
	e.createIssue("platform", nil)
	e.must(404, "GET", "/rest/servicedeskapi/request/OPS-3", nil, nil)

	var cm struct {
		ID     string
		Public bool
	}
	e.must(201, "POST", "/rest/servicedeskapi/request/OPS-1/comment", map[string]any{"body": "internal note", "public": false}, &cm)
	if cm.Public {
		t.Error("public:false must make an internal comment")
	}
	e.must(201, "POST", "/rest/servicedeskapi/request/OPS-1/comment", map[string]any{"body": "hello"}, &cm)
	e.must(400, "POST", "/rest/servicedeskapi/request/OPS-1/comment", map[string]any{"body": " "}, nil)

	var tr struct {
		Values []struct{ ID, Name string }
	}
	e.must(200, "GET", "/rest/servicedeskapi/request/OPS-1/transition", nil, &tr)
	names := map[string]string{}
	for _, v := range tr.Values {
		names[v.Name] = v.ID
	}
	if names["Resolve"] != "761" || names["Start work"] != "" {
		t.Fatalf("customer transitions %v (agent-only ones must be hidden)", names)
	}
	e.must(400, "POST", "/rest/servicedeskapi/request/OPS-1/transition", map[string]any{"id": "911"}, nil)
	e.must(204, "POST", "/rest/servicedeskapi/request/OPS-1/transition", map[string]any{"id": "761", "additionalComment": map[string]any{"body": "done"}}, nil)
	tk, _ = e.emu.Ticket("OPS-1")
	if tk.Status != "Resolved" || tk.Resolution != "Done" || len(tk.Comments) != 3 || tk.Comments[0].Public || !tk.Comments[1].Public {
		t.Errorf("after customer transition: %+v", tk)
	}
}

type aqlResp struct {
	Total  int
	IsLast bool
	Values []struct {
		ID         string
		Label      string
		ObjectKey  string
		ObjectType struct{ ID, Name string }
		Attributes []struct {
			ObjectTypeAttributeID string
			ObjectAttributeValues []struct{ Value string }
		}
	}
}

func TestAssets(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	var ws struct {
		Values []struct{ WorkspaceID string }
	}
	e.must(200, "GET", "/rest/servicedeskapi/assets/workspace", nil, &ws)
	if len(ws.Values) != 1 || ws.Values[0].WorkspaceID != emulator.SeedWorkspaceID {
		t.Fatalf("workspaces %+v", ws)
	}
	base := "/jsm/assets/workspace/" + emulator.SeedWorkspaceID + "/v1"
	var schemas struct {
		Values []struct{ ID, Name string }
	}
	e.must(200, "GET", base+"/objectschema/list", nil, &schemas)
	var types []struct{ ID, Name string }
	e.must(200, "GET", base+"/objectschema/"+schemas.Values[0].ID+"/objecttypes/flat", nil, &types)
	var attrs []struct {
		ID, Name string
		Label    bool
	}
	e.must(200, "GET", base+"/objecttype/"+emulator.SeedObjectTypeID+"/attributes", nil, &attrs)
	attr := map[string]string{}
	for _, a := range attrs {
		attr[a.Name] = a.ID
	}
	if len(types) != 2 || types[0].Name != "Azure Resource" || attr["Resource ID"] == "" || attr["Name"] == "" {
		t.Fatalf("types %+v attrs %+v", types, attrs)
	}
	e.must(404, "GET", "/jsm/assets/workspace/other/v1/objectschema/list", nil, nil)

	vm := "/subscriptions/sub-1/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm-prod-01"
	var created struct{ ID, ObjectKey, Label string }
	e.must(201, "POST", base+"/object/create", map[string]any{"objectTypeId": emulator.SeedObjectTypeID, "attributes": []any{
		map[string]any{"objectTypeAttributeId": attr["Name"], "objectAttributeValues": []any{map[string]any{"value": "vm-prod-01"}}},
		map[string]any{"objectTypeAttributeId": attr["Resource ID"], "objectAttributeValues": []any{map[string]any{"value": vm}}},
	}}, &created)
	if created.ID == "" || created.Label != "vm-prod-01" || !strings.HasPrefix(created.ObjectKey, "AZ-") {
		t.Fatalf("created %+v", created)
	}
	e.emu.SeedCI(emulator.CI{Name: "sql-prod", ResourceID: "/subscriptions/sub-1/x/sql-prod", ResourceType: "microsoft.sql/servers"})
	e.must(400, "POST", base+"/object/create", map[string]any{"objectTypeId": emulator.SeedObjectTypeID, "attributes": []any{
		map[string]any{"objectTypeAttributeId": attr["Resource ID"], "objectAttributeValues": []any{map[string]any{"value": "x"}}}}}, nil)
	e.must(400, "POST", base+"/object/create", map[string]any{"objectTypeId": "404", "attributes": []any{}}, nil)

	tests := []struct {
		aql  string
		want []string // labels
	}{
		{`objectType = "Azure Resource"`, []string{"vm-prod-01", "sql-prod"}},
		{`objectType = "Azure Resource" AND "Resource ID" = "` + vm + `"`, []string{"vm-prod-01"}},
		{`objectType = "Azure Resource" AND "Resource ID" = "` + strings.ToUpper(vm) + `"`, []string{"vm-prod-01"}},
		{`objectType = "Azure Resource" AND "Resource ID" == "` + strings.ToUpper(vm) + `"`, nil},
		{`Name = "VM-PROD-01"`, []string{"vm-prod-01"}},
		{`Name LIKE prod`, []string{"vm-prod-01", "sql-prod"}},
		{`Name IN ("sql-prod", "nothing")`, []string{"sql-prod"}},
		{`"Resource Type" IS EMPTY`, []string{"vm-prod-01"}},
		{`"Resource Type" IS NOT EMPTY`, []string{"sql-prod"}},
		{`(Name = "sql-prod" OR Name = "vm-prod-01") AND objectType = "Business Service"`, nil},
		{`objectTypeId = ` + emulator.SeedObjectTypeID + ` AND Key = "` + created.ObjectKey + `"`, []string{"vm-prod-01"}},
		{`Name != "sql-prod" AND objectType = "Azure Resource"`, []string{"vm-prod-01"}},
	}
	for _, tt := range tests {
		t.Run(tt.aql, func(t *testing.T) {
			var r aqlResp
			e.must(200, "POST", base+"/object/aql?startAt=0&maxResults=50&includeAttributes=true", map[string]any{"qlQuery": tt.aql}, &r)
			var got []string
			for _, v := range r.Values {
				got = append(got, v.Label)
			}
			if !slices.Equal(got, tt.want) || r.Total != len(tt.want) {
				t.Errorf("got %v (total %d), want %v", got, r.Total, tt.want)
			}
		})
	}
	for _, bad := range []string{``, `Colour = red`, `Name = `, `Name ~ x`} {
		e.must(400, "POST", base+"/object/aql", map[string]any{"qlQuery": bad}, nil)
	}
	var page aqlResp
	e.must(200, "POST", base+"/object/aql?maxResults=1&includeAttributes=false", map[string]any{"qlQuery": `objectType = "Azure Resource"`}, &page)
	if len(page.Values) != 1 || page.IsLast || page.Total != 2 || len(page.Values[0].Attributes) != 0 {
		t.Errorf("paged AQL %+v", page)
	}

	var got struct{ ID, Label string }
	e.must(200, "GET", base+"/object/"+created.ID, nil, &got)
	e.must(404, "GET", base+"/object/999", nil, nil)
	e.must(200, "PUT", base+"/object/"+created.ID, map[string]any{"objectTypeId": emulator.SeedObjectTypeID, "attributes": []any{
		map[string]any{"objectTypeAttributeId": attr["Resource Type"], "objectAttributeValues": []any{map[string]any{"value": "microsoft.compute/virtualmachines"}}}}}, nil)

	// Link the object to an issue through the Assets field and read it back.
	key := e.createIssue("bind", nil)
	e.must(204, "PUT", "/rest/api/3/issue/"+key, map[string]any{"update": map[string]any{emulator.SeedAssetsField: []any{
		map[string]any{"add": map[string]any{"workspaceId": emulator.SeedWorkspaceID, "id": emulator.SeedWorkspaceID + ":" + created.ID, "objectId": created.ID}}}}}, nil)
	var tickets struct {
		Tickets []struct{ Key string }
	}
	e.must(200, "GET", base+"/objectconnectedtickets/"+created.ID+"/tickets", nil, &tickets)
	if len(tickets.Tickets) != 1 || tickets.Tickets[0].Key != key {
		t.Errorf("connected tickets %+v", tickets)
	}
	if keys := e.searchKeys(`"Affected CIs" is not EMPTY`); !slices.Equal(keys, []string{key}) {
		t.Errorf("search by Assets field: %v", keys)
	}
	// Assets exchanges are recorded as skipped, never validated.
	skipped := 0
	for _, x := range e.rec.Exchanges() {
		if strings.HasPrefix(x.Path, "/jsm/assets/") {
			if x.Skipped != contract.AssetsSkipReason {
				t.Errorf("Assets exchange %s was not skipped", x.Path)
			}
			skipped++
		}
	}
	if skipped == 0 {
		t.Error("no Assets exchange recorded")
	}
}

func TestFaultsAndRateLimits(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	key := e.createIssue("f", nil)
	e.emu.InjectFault(emulator.Fault{Status: 429, Count: 2, RetryAfterSeconds: 7})
	for i := 0; i < 2; i++ {
		st, body, h := e.do("GET", "/rest/api/3/issue/"+key, nil)
		if st != 429 || h.Get("Retry-After") != "7" || h.Get("X-RateLimit-Reset") == "" || h.Get("RateLimit-Reason") == "" || h.Get("X-RateLimit-Remaining") != "0" {
			t.Fatalf("429 #%d: %d %v %s", i, st, h, body)
		}
	}
	e.must(200, "GET", "/rest/api/3/issue/"+key, nil, nil)

	e.emu.InjectFault(emulator.Fault{Status: 503, Count: 1, RetryAfterSeconds: 2, PathPrefix: "/rest/servicedeskapi/"})
	e.must(200, "GET", "/rest/api/3/issue/"+key, nil, nil) // other paths unaffected
	st, body, h := e.do("GET", "/rest/servicedeskapi/servicedesk", nil)
	var je struct{ ErrorMessage string }
	if st != 503 || h.Get("Retry-After") != "2" || json.Unmarshal(body, &je) != nil || je.ErrorMessage == "" {
		t.Fatalf("JSM 503: %d %v %s", st, h, body)
	}
	e.emu.InjectFault(emulator.Fault{LatencyMS: 1, Count: 1})
	e.must(200, "GET", "/rest/api/3/myself", nil, nil) // latency only: still answers
	e.emu.InjectFault(emulator.Fault{Status: 500})
	e.must(500, "GET", "/rest/api/3/myself", nil, nil)
	e.must(500, "GET", "/rest/api/3/myself", nil, nil) // unlimited until cleared
	e.emu.ClearFaults()
	e.must(200, "GET", "/rest/api/3/myself", nil, nil)

	// The token bucket: burst 1, practically no refill.
	rl := newEnv(t, emulator.Options{RateLimit: 0.001, RateBurst: 1})
	rl.must(200, "GET", "/rest/api/3/myself", nil, nil)
	st, _, h = rl.do("GET", "/rest/api/3/myself", nil)
	if st != 429 || h.Get("Retry-After") == "" {
		t.Fatalf("rate limit: %d %v", st, h)
	}
}

func TestControlSurface(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	post := func(path, body string) *http.Response {
		t.Helper()
		resp, err := http.Post(e.srv.URL+path, "application/json", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	get := func(path string, out any) {
		t.Helper()
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	e.createIssue("one", map[string]any{"labels": []string{"corr-1"}})
	var tickets struct {
		Count   int
		Tickets []emulator.Ticket
	}
	get("/_emulator/tickets?correlation=corr-1", &tickets)
	if tickets.Count != 1 || tickets.Tickets[0].Key != "OPS-1" {
		t.Fatalf("tickets %+v", tickets)
	}
	if r := post("/_emulator/faults", `{"status":429,"count":1,"retry_after_seconds":4}`); r.StatusCode != 204 {
		t.Fatalf("faults: %d", r.StatusCode)
	}
	if st, _, h := e.do("GET", "/rest/api/3/myself", nil); st != 429 || h.Get("Retry-After") != "4" {
		t.Fatalf("injected over HTTP: %d", st)
	}
	if r := post("/_emulator/faults", `{"status":500,"rate":2}`); r.StatusCode != 400 {
		t.Errorf("rate 2 accepted: %d", r.StatusCode)
	}
	post("/_emulator/faults", `{"status":500}`)
	req, _ := http.NewRequest("DELETE", e.srv.URL+"/_emulator/faults", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("delete faults: %v", err)
	}
	e.must(200, "GET", "/rest/api/3/myself", nil, nil)
	var calls struct{ Calls []emulator.Call }
	get("/_emulator/calls", &calls)
	if len(calls.Calls) < 3 || calls.Calls[0].Method != "POST" || calls.Calls[0].Path != "/rest/api/3/issue" || calls.Calls[0].Status != 201 || !strings.Contains(calls.Calls[0].RequestBody, "corr-1") {
		t.Fatalf("calls %+v", calls.Calls)
	}
	var seeded struct{ Objects []struct{ ID, Key string } }
	resp, err := http.Post(e.srv.URL+"/_emulator/seed", "application/json", bytes.NewBufferString(`{"objects":[{"name":"vm-9","resource_id":"/subscriptions/s/vm-9"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&seeded)
	resp.Body.Close()
	if len(seeded.Objects) != 1 || e.emu.ObjectCount() != 1 {
		t.Fatalf("seed %+v", seeded)
	}
	if r := post("/_emulator/seed", `{"objects":[{}]}`); r.StatusCode != 400 {
		t.Errorf("nameless object accepted")
	}
	if r := post("/_emulator/search-lag", `{"ms":60000}`); r.StatusCode != 204 {
		t.Fatalf("search-lag: %d", r.StatusCode)
	}
	e.createIssue("two", map[string]any{"labels": []string{"corr-2"}})
	if keys := e.searchKeys("labels = corr-2"); keys != nil {
		t.Errorf("lag not applied: %v", keys)
	}
	post("/_emulator/flush-index", ``)
	if keys := e.searchKeys("labels = corr-2"); len(keys) != 1 {
		t.Errorf("flush-index: %v", keys)
	}
	if r := post("/_emulator/reset", ``); r.StatusCode != 204 {
		t.Fatal("reset")
	}
	get("/_emulator/tickets", &tickets)
	if tickets.Count != 0 || e.emu.ObjectCount() != 0 || len(e.emu.Calls()) != 0 {
		t.Errorf("after reset: %d tickets", tickets.Count)
	}
	if r := post("/_emulator/nope", ``); r.StatusCode != 404 {
		t.Errorf("unknown control endpoint: %d", r.StatusCode)
	}
	// Unknown vendor paths answer Jira's 404; they are outside the
	// descriptions, so the request is invalid on purpose.
	e.must(404, "GET", "/rest/api/3/nothing-here", nil, nil, invalidOnPurpose("no such operation"))
}
