package emulator_test

import (
	"slices"
	"sort"
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/jira/emulator"
)

// TestContract drives every operation the emulator serves through the
// validating middleware: each request and response must validate against
// Atlassian's official descriptions (testdata/, see SOURCES.md), and the test
// fails if an operation was not exercised, so the check cannot pass vacuously.
// Every other test in this package runs behind the same middleware.
//
// Not covered: the Assets API (/jsm/assets/...), for which Atlassian
// publishes no OpenAPI description; its exchanges are recorded as skipped.
func TestContract(t *testing.T) {
	e := newEnv(t, emulator.Options{BearerTokens: []string{"pat"}})
	obj, _ := e.emu.SeedCI(emulator.CI{Name: "vm-1", ResourceID: "/subscriptions/s/vm-1"})

	e.must(200, "GET", "/rest/api/3/myself", nil, nil, withAuth("Bearer pat"))
	e.must(200, "GET", "/rest/api/3/serverInfo", nil, nil)
	e.must(200, "GET", "/rest/api/3/project/OPS", nil, nil)
	e.must(404, "GET", "/rest/api/3/project/NOPE", nil, nil)
	e.must(200, "GET", "/rest/api/3/field", nil, nil)
	e.must(200, "GET", "/rest/api/3/priority", nil, nil)
	e.must(200, "GET", "/rest/api/3/resolution", nil, nil)
	key := e.createIssue("contract", map[string]any{
		"labels": []string{"c-1"}, "priority": map[string]any{"name": "High"}, emulator.SeedCorrelationField: "c-1",
		emulator.SeedImpactField: map[string]any{"value": "Minor / Localized"},
		emulator.SeedAssetsField: []any{map[string]any{"workspaceId": emulator.SeedWorkspaceID, "id": emulator.SeedWorkspaceID + ":" + obj, "objectId": obj}},
	})
	e.must(400, "POST", "/rest/api/3/issue", map[string]any{"fields": map[string]any{"project": map[string]any{"key": "OPS"}}}, nil)
	e.must(200, "GET", "/rest/api/3/issue/"+key+"?fields=*all&properties=itsmbridge", nil, nil)
	e.must(204, "PUT", "/rest/api/3/issue/"+key, map[string]any{"update": map[string]any{"labels": []any{map[string]any{"add": "c-2"}}}}, nil)
	e.must(400, "PUT", "/rest/api/3/issue/"+key, map[string]any{"fields": map[string]any{"nope": 1}}, nil)
	e.must(200, "GET", "/rest/api/3/issue/"+key+"/transitions?expand=transitions.fields", nil, nil)
	e.must(400, "POST", "/rest/api/3/issue/"+key+"/transitions", map[string]any{"transition": map[string]any{"id": "801"}}, nil)
	e.must(201, "POST", "/rest/api/3/issue/"+key+"/comment", map[string]any{"body": adf("note")}, nil)
	e.must(200, "GET", "/rest/api/3/issue/"+key+"/comment", nil, nil)
	e.must(201, "PUT", "/rest/api/3/issue/"+key+"/properties/itsmbridge", map[string]any{"ticketKey": "c-1"}, nil)
	e.must(200, "GET", "/rest/api/3/issue/"+key+"/properties/itsmbridge", nil, nil)
	e.must(404, "GET", "/rest/api/3/issue/"+key+"/properties/none", nil, nil)
	e.must(204, "DELETE", "/rest/api/3/issue/"+key+"/properties/itsmbridge", nil, nil)
	user := "/rest/api/3/user/properties/itsmbridge.x?accountId=" + emulator.DefaultAccountID
	e.must(201, "PUT", user, map[string]any{"state": "pending"}, nil)
	e.must(200, "GET", user, nil, nil)
	e.must(204, "DELETE", user, nil, nil)
	e.must(200, "POST", "/rest/api/3/search/jql", map[string]any{"jql": `project = OPS AND labels = "c-1" AND statusCategory != Done`,
		"fields": []string{"summary", "status", "labels", emulator.SeedCorrelationField}, "properties": []string{"itsmbridge"}, "maxResults": 1}, nil)
	e.must(400, "POST", "/rest/api/3/search/jql", map[string]any{"jql": `project = `}, nil)
	e.must(410, "POST", "/rest/api/3/search", map[string]any{"jql": "project = OPS"}, nil)
	e.must(204, "POST", "/rest/api/3/issue/"+key+"/transitions", map[string]any{"transition": map[string]any{"id": "761"}, "fields": map[string]any{"resolution": map[string]any{"name": "Done"}}}, nil)
	e.must(404, "GET", "/rest/api/3/issue/OPS-999", nil, nil)
	e.emu.InjectFault(emulator.Fault{Status: 429, Count: 1, RetryAfterSeconds: 1})
	e.must(429, "POST", "/rest/api/3/search/jql", map[string]any{"jql": "project = OPS"}, nil)

	e.must(200, "GET", "/rest/servicedeskapi/servicedesk", nil, nil)
	e.must(200, "GET", "/rest/servicedeskapi/servicedesk/1/requesttype", nil, nil)
	e.must(200, "GET", "/rest/servicedeskapi/servicedesk/1/requesttype/11/field", nil, nil)
	var req struct{ IssueKey string }
	e.must(201, "POST", "/rest/servicedeskapi/request", map[string]any{"serviceDeskId": "1", "requestTypeId": "11",
		"requestFieldValues": map[string]any{"summary": "jsm", "description": "text", "labels": []string{"c-3"}, "priority": map[string]any{"name": "High"}}}, &req)
	e.must(400, "POST", "/rest/servicedeskapi/request", map[string]any{"serviceDeskId": "1", "requestTypeId": "11", "requestFieldValues": map[string]any{}}, nil)
	e.must(200, "GET", "/rest/servicedeskapi/request/"+req.IssueKey, nil, nil)
	e.must(404, "GET", "/rest/servicedeskapi/request/OPS-999", nil, nil)
	e.must(201, "POST", "/rest/servicedeskapi/request/"+req.IssueKey+"/comment", map[string]any{"body": "x", "public": true}, nil)
	e.must(200, "GET", "/rest/servicedeskapi/request/"+req.IssueKey+"/transition", nil, nil)
	e.must(204, "POST", "/rest/servicedeskapi/request/"+req.IssueKey+"/transition", map[string]any{"id": "761"}, nil)
	e.must(400, "POST", "/rest/servicedeskapi/request/"+req.IssueKey+"/transition", map[string]any{"id": "761"}, nil)
	e.must(200, "GET", "/rest/servicedeskapi/assets/workspace", nil, nil)
	e.emu.InjectFault(emulator.Fault{Status: 429, Count: 1, RetryAfterSeconds: 1})
	e.must(429, "GET", "/rest/servicedeskapi/request/"+req.IssueKey, nil, nil)

	want := []string{
		"getCurrentUser", "getServerInfo", "getProject", "getFields", "getPriorities", "getResolutions",
		"createIssue", "getIssue", "editIssue", "getTransitions", "doTransition", "addComment", "getComments",
		"setIssueProperty", "getIssueProperty", "deleteIssueProperty", "setUserProperty", "getUserProperty", "deleteUserProperty",
		"searchAndReconsileIssuesUsingJqlPost", "searchForIssuesUsingJqlPost",
		"getServiceDesks", "getRequestTypes", "getRequestTypeFields", "createCustomerRequest", "getCustomerRequestByIdOrKey",
		"createRequestComment", "getCustomerTransitions", "performCustomerTransition", "getAssetsWorkspaces",
	}
	got := e.rec.Operations()
	var missing []string
	for _, op := range want {
		if got[op] == 0 {
			missing = append(missing, op)
		}
	}
	if len(missing) > 0 {
		t.Errorf("operations not validated: %v", missing)
	}
	var ops []string
	for op := range got {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	if !slices.Equal(ops, func() []string { s := slices.Clone(want); sort.Strings(s); return s }()) {
		t.Logf("validated operations: %v", ops)
	}
	t.Logf("%d exchanges validated against the official descriptions (load time %v)", len(e.rec.Exchanges()), specs(t).LoadTime)
}
