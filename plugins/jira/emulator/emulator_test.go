package emulator_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/jira/emulator"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestAuth(t *testing.T) {
	e := newEnv(t, emulator.Options{BearerTokens: []string{"pat-123"}})
	tests := []struct {
		name string
		path string
		opts []reqOpt
		want int
	}{
		{"basic username", "/rest/api/3/myself", []reqOpt{withAuth(basic("sandbox", "sandbox"))}, 200},
		{"basic email", "/rest/api/3/myself", []reqOpt{withAuth(basic("sandbox@example.com", "sandbox"))}, 200},
		{"basic email any case", "/rest/api/3/myself", []reqOpt{withAuth(basic("Sandbox@Example.com", "sandbox"))}, 200},
		{"wrong token", "/rest/api/3/myself", []reqOpt{withAuth(basic("sandbox", "nope"))}, 401},
		{"wrong user", "/rest/api/3/myself", []reqOpt{withAuth(basic("other", "sandbox"))}, 401},
		{"bearer", "/rest/api/3/myself", []reqOpt{withAuth("Bearer pat-123")}, 200},
		{"wrong bearer", "/rest/api/3/myself", []reqOpt{withAuth("Bearer sandbox")}, 401},
		{"garbage basic", "/rest/api/3/myself", []reqOpt{withAuth("Basic !!!")}, 401},
		// The platform allows anonymous calls in its description; the site does not.
		{"anonymous platform", "/rest/api/3/issue/OPS-1", []reqOpt{noAuth()}, 401},
		{"anonymous JSM", "/rest/servicedeskapi/servicedesk", []reqOpt{noAuth(), invalidOnPurpose("no credentials")}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body, hdr := e.do("GET", tt.path, nil, tt.opts...)
			if st != tt.want {
				t.Fatalf("status %d, want %d: %s", st, tt.want, body)
			}
			if st != 401 {
				return
			}
			if hdr.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			var jsm struct{ ErrorMessage string }
			var platform struct{ ErrorMessages []string }
			if strings.HasPrefix(tt.path, "/rest/servicedeskapi/") {
				if json.Unmarshal(body, &jsm) != nil || jsm.ErrorMessage == "" {
					t.Errorf("JSM 401 body %s is not {errorMessage, i18nErrorMessage}", body)
				}
			} else if json.Unmarshal(body, &platform) != nil || len(platform.ErrorMessages) == 0 {
				t.Errorf("platform 401 body %s is not an ErrorCollection", body)
			}
		})
	}
}

func TestCreateIssueValidation(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	obj, _ := e.emu.SeedCI(emulator.CI{Name: "vm1", ResourceID: "/subscriptions/s/vm1"})
	base := func() map[string]any {
		return map[string]any{
			"project": map[string]any{"key": "OPS"}, "issuetype": map[string]any{"name": "Incident"},
			"summary": "s", "description": adf("d"),
		}
	}
	tests := []struct {
		name     string
		mutate   func(f map[string]any)
		want     int
		errField string
	}{
		{"minimal", func(map[string]any) {}, 201, ""},
		{"issue type by id", func(f map[string]any) { f["issuetype"] = map[string]any{"id": "10002"} }, 201, ""},
		{"project by id", func(f map[string]any) { f["project"] = map[string]any{"id": "10000"} }, 201, ""},
		{"no summary", func(f map[string]any) { delete(f, "summary") }, 400, "summary"},
		{"blank summary", func(f map[string]any) { f["summary"] = "  " }, 400, "summary"},
		{"plain description", func(f map[string]any) { f["description"] = "plain text" }, 400, "description"},
		{"not ADF", func(f map[string]any) { f["description"] = map[string]any{"type": "paragraph"} }, 400, "description"},
		{"priority by name", func(f map[string]any) { f["priority"] = map[string]any{"name": "High"} }, 201, ""},
		{"bad priority", func(f map[string]any) { f["priority"] = map[string]any{"name": "Urgent!"} }, 400, "priority"},
		{"labels", func(f map[string]any) { f["labels"] = []string{"a", "b", "a"} }, 201, ""},
		{"label with space", func(f map[string]any) { f["labels"] = []string{"a b"} }, 400, "labels"},
		{"unknown field", func(f map[string]any) { f["customfield_99999"] = "x" }, 400, "customfield_99999"},
		{"resolution not on create screen", func(f map[string]any) { f["resolution"] = map[string]any{"name": "Done"} }, 400, "resolution"},
		{"text field", func(f map[string]any) { f[emulator.SeedCorrelationField] = "k-1" }, 201, ""},
		{"text field wrong type", func(f map[string]any) { f[emulator.SeedCorrelationField] = 5 }, 400, emulator.SeedCorrelationField},
		{"select by value", func(f map[string]any) { f[emulator.SeedImpactField] = map[string]any{"value": "Minor / Localized"} }, 201, ""},
		{"select bad value", func(f map[string]any) { f[emulator.SeedImpactField] = map[string]any{"value": "Huge"} }, 400, emulator.SeedImpactField},
		{"assets ref", func(f map[string]any) {
			f[emulator.SeedAssetsField] = []any{map[string]any{"workspaceId": emulator.SeedWorkspaceID, "id": emulator.SeedWorkspaceID + ":" + obj, "objectId": obj}}
		}, 201, ""},
		{"assets unknown object", func(f map[string]any) {
			f[emulator.SeedAssetsField] = []any{map[string]any{"workspaceId": emulator.SeedWorkspaceID, "id": emulator.SeedWorkspaceID + ":999", "objectId": "999"}}
		}, 400, emulator.SeedAssetsField},
		{"unknown project", func(f map[string]any) { f["project"] = map[string]any{"key": "NOPE"} }, 400, "project"},
		{"issue type of another project", func(f map[string]any) { f["issuetype"] = map[string]any{"name": "Task"} }, 400, "issuetype"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base()
			tt.mutate(f)
			st, body, _ := e.do("POST", "/rest/api/3/issue", map[string]any{"fields": f})
			if st != tt.want {
				t.Fatalf("status %d, want %d: %s", st, tt.want, body)
			}
			if tt.errField != "" {
				var ec struct{ Errors map[string]string }
				if err := json.Unmarshal(body, &ec); err != nil || ec.Errors[tt.errField] == "" {
					t.Errorf("errors = %s, want an entry for %s", body, tt.errField)
				}
			}
		})
	}
	// Failed creates do not burn issue numbers.
	var created struct{ Key string }
	e.must(201, "POST", "/rest/api/3/issue", map[string]any{"fields": base()}, &created)
	if n := e.emu.CountTickets(""); created.Key != fmt.Sprintf("OPS-%d", n) {
		t.Errorf("key %s after %d issues", created.Key, n)
	}
}

func TestCreateWithPropertiesAndGet(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	var c struct{ ID, Key, Self string }
	e.must(201, "POST", "/rest/api/3/issue", map[string]any{
		"fields": map[string]any{
			"project": map[string]any{"key": "OPS"}, "issuetype": map[string]any{"name": "Incident"},
			"summary": "CPU high", "description": adf("line"), "labels": []string{"azmon-k1"},
		},
		"properties": []any{map[string]any{"key": "itsmbridge", "value": map[string]any{"ticketKey": "k1"}}},
	}, &c)
	if c.Key != "OPS-1" || c.ID == "" || !strings.HasSuffix(c.Self, "/rest/api/3/issue/"+c.ID) {
		t.Fatalf("created %+v", c)
	}
	var got struct {
		ID     string
		Key    string
		Fields struct {
			Summary string
			Status  struct {
				Name           string
				StatusCategory struct{ Key string }
			}
			Labels     []string
			Resolution *struct{ Name string }
			Priority   struct{ Name string }
		}
		Properties map[string]json.RawMessage
	}
	e.must(200, "GET", "/rest/api/3/issue/"+c.ID+"?fields=summary,status,labels,resolution,priority&properties=itsmbridge", nil, &got)
	if got.Key != "OPS-1" || got.Fields.Summary != "CPU high" || got.Fields.Status.Name != "Open" || got.Fields.Status.StatusCategory.Key != "new" ||
		!slices.Equal(got.Fields.Labels, []string{"azmon-k1"}) || got.Fields.Resolution != nil || got.Fields.Priority.Name != "Medium" {
		t.Errorf("issue = %+v", got)
	}
	if string(got.Properties["itsmbridge"]) != `{"ticketKey":"k1"}` {
		t.Errorf("properties = %s", got.Properties)
	}
	if n := e.emu.CountTickets("k1"); n != 1 {
		t.Errorf("CountTickets(k1) = %d", n)
	}
	e.must(404, "GET", "/rest/api/3/issue/OPS-404", nil, nil)
	e.must(404, "GET", "/rest/api/3/issue/999999", nil, nil)
}

func TestEditIssue(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	key := e.createIssue("edit me", map[string]any{"labels": []string{"a"}})
	o1, _ := e.emu.SeedCI(emulator.CI{Name: "vm1"})
	o2, _ := e.emu.SeedCI(emulator.CI{Name: "vm2"})
	ref := func(id string) map[string]any {
		return map[string]any{"workspaceId": emulator.SeedWorkspaceID, "id": emulator.SeedWorkspaceID + ":" + id, "objectId": id}
	}
	e.must(204, "PUT", "/rest/api/3/issue/"+key, map[string]any{
		"fields": map[string]any{"summary": "edited"},
		"update": map[string]any{
			"labels":                 []any{map[string]any{"add": "b"}, map[string]any{"remove": "a"}},
			emulator.SeedAssetsField: []any{map[string]any{"add": ref(o1)}},
		},
	}, nil)
	// add is idempotent; a second object accumulates.
	for _, id := range []string{o1, o2} {
		e.must(204, "PUT", "/rest/api/3/issue/"+key, map[string]any{"update": map[string]any{emulator.SeedAssetsField: []any{map[string]any{"add": ref(id)}}}}, nil)
	}
	tk, _ := e.emu.Ticket(key)
	var refs []map[string]string
	_ = json.Unmarshal(tk.Fields[emulator.SeedAssetsField], &refs)
	if tk.Summary != "edited" || !slices.Equal(tk.Labels, []string{"b"}) || len(refs) != 2 || refs[0]["objectId"] != o1 {
		t.Fatalf("ticket = %+v refs %v", tk, refs)
	}
	e.must(204, "PUT", "/rest/api/3/issue/"+key, map[string]any{"update": map[string]any{emulator.SeedAssetsField: []any{map[string]any{"set": []any{ref(o2)}}}}}, nil)
	tk, _ = e.emu.Ticket(key)
	if string(tk.Fields[emulator.SeedAssetsField]) != `[{"workspaceId":"`+emulator.SeedWorkspaceID+`","id":"`+emulator.SeedWorkspaceID+`:`+o2+`","objectId":"`+o2+`"}]` {
		t.Errorf("after set: %s", tk.Fields[emulator.SeedAssetsField])
	}
	// A failed edit changes nothing.
	e.must(400, "PUT", "/rest/api/3/issue/"+key, map[string]any{"fields": map[string]any{"summary": "again", "status": map[string]any{"name": "Closed"}}}, nil)
	if tk, _ := e.emu.Ticket(key); tk.Summary != "edited" {
		t.Errorf("failed edit applied: %q", tk.Summary)
	}
	var full struct{ Fields map[string]any }
	e.must(200, "PUT", "/rest/api/3/issue/"+key+"?returnIssue=true", map[string]any{"fields": map[string]any{"summary": "returned"}}, &full)
	if full.Fields["summary"] != "returned" {
		t.Errorf("returnIssue: %v", full.Fields["summary"])
	}
}

type transitionsResp struct {
	Transitions []struct {
		ID   string
		Name string
		To   struct {
			Name           string
			StatusCategory struct{ Key string }
		}
		HasScreen bool
		Fields    map[string]struct {
			Required bool
		}
	}
}

func TestWorkflowTransitions(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	key := e.createIssue("wf", nil)
	var tr transitionsResp
	e.must(200, "GET", "/rest/api/3/issue/"+key+"/transitions?expand=transitions.fields", nil, &tr)
	byName := map[string]string{}
	for _, x := range tr.Transitions {
		byName[x.Name] = x.ID
		if x.ID == x.Name {
			t.Errorf("transition %q has its name as id", x.Name)
		}
	}
	if byName["Resolve"] != "761" || byName["Start work"] == "" || byName["Reopen"] != "" {
		t.Fatalf("transitions from Open: %v", byName)
	}
	for _, x := range tr.Transitions {
		if x.Name == "Resolve" && (!x.HasScreen || !x.Fields["resolution"].Required) {
			t.Errorf("Resolve must have the resolution on its screen: %+v", x)
		}
	}
	// Move to Work in progress: "Resolve" now has another id.
	e.must(204, "POST", "/rest/api/3/issue/"+key+"/transitions", map[string]any{"transition": map[string]any{"id": byName["Start work"]}}, nil)
	e.must(200, "GET", "/rest/api/3/issue/"+key+"/transitions", nil, &tr)
	ids := map[string]string{}
	for _, x := range tr.Transitions {
		ids[x.Name] = x.ID
	}
	if ids["Resolve"] != "781" {
		t.Fatalf("Resolve from Work in progress = %q, want 781", ids["Resolve"])
	}
	tests := []struct {
		name string
		body map[string]any
		want int
		msg  string
	}{
		{"no transition", map[string]any{}, 400, "Transition id must be specified"},
		{"unavailable from this status", map[string]any{"transition": map[string]any{"id": "761"}}, 400, "is not valid for this issue"},
		{"resolution required", map[string]any{"transition": map[string]any{"id": "781"}}, 400, "Resolution is required"},
		{"unknown resolution", map[string]any{"transition": map[string]any{"id": "781"}, "fields": map[string]any{"resolution": map[string]any{"name": "Magic"}}}, 400, "resolution"},
		{"field not on screen", map[string]any{"transition": map[string]any{"id": "781"}, "fields": map[string]any{"resolution": map[string]any{"name": "Done"}, "summary": "x"}}, 400, "cannot be set"},
		{"resolve", map[string]any{"transition": map[string]any{"id": "781"}, "fields": map[string]any{"resolution": map[string]any{"name": "Done"}},
			"update": map[string]any{"comment": []any{map[string]any{"add": map[string]any{"body": adf("fixed")}}}}}, 204, ""},
		{"resolve again", map[string]any{"transition": map[string]any{"id": "781"}, "fields": map[string]any{"resolution": map[string]any{"name": "Done"}}}, 400, "is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body, _ := e.do("POST", "/rest/api/3/issue/"+key+"/transitions", tt.body)
			if st != tt.want || !strings.Contains(string(body), tt.msg) {
				t.Fatalf("status %d body %s; want %d %q", st, body, tt.want, tt.msg)
			}
		})
	}
	tk, _ := e.emu.Ticket(key)
	if tk.Status != "Resolved" || tk.StatusCategory != "done" || tk.Resolution != "Done" || len(tk.Comments) != 1 {
		t.Fatalf("after resolve: %+v", tk)
	}
	e.must(204, "POST", "/rest/api/3/issue/"+key+"/transitions", map[string]any{"transition": map[string]any{"id": "801"}}, nil)
	if tk, _ := e.emu.Ticket(key); tk.Status != "Open" || tk.Resolution != "" {
		t.Fatalf("reopen must clear the resolution: %+v", tk)
	}

	// The software workflow: other ids, no screen, resolution by post-function.
	var dev struct{ Key string }
	e.must(201, "POST", "/rest/api/3/issue", map[string]any{"fields": map[string]any{
		"project": map[string]any{"key": "DEV"}, "issuetype": map[string]any{"name": "Task"}, "summary": "t"}}, &dev)
	e.must(200, "GET", "/rest/api/3/issue/"+dev.Key+"/transitions?expand=transitions.fields", nil, &tr)
	for _, x := range tr.Transitions {
		if x.Name == "Done" && (x.ID != "31" || x.HasScreen) {
			t.Errorf("DEV Done = %+v", x)
		}
	}
	st, body, _ := e.do("POST", "/rest/api/3/issue/"+dev.Key+"/transitions", map[string]any{"transition": map[string]any{"id": "31"}, "fields": map[string]any{"resolution": map[string]any{"name": "Done"}}})
	if st != 400 || !strings.Contains(string(body), "not on the appropriate screen") {
		t.Fatalf("resolution without screen: %d %s", st, body)
	}
	e.must(204, "POST", "/rest/api/3/issue/"+dev.Key+"/transitions", map[string]any{"transition": map[string]any{"id": "31"}}, nil)
	if tk, _ := e.emu.Ticket(dev.Key); tk.Status != "Done" || tk.Resolution != "Done" {
		t.Fatalf("post-function resolution: %+v", tk)
	}
	e.must(404, "POST", "/rest/api/3/issue/OPS-999/transitions", map[string]any{"transition": map[string]any{"id": "761"}}, nil)
	e.must(404, "GET", "/rest/api/3/issue/OPS-999/transitions", nil, nil)
}

func TestComments(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	key := e.createIssue("c", nil)
	var c struct {
		ID        string
		JsdPublic bool
		Body      map[string]any
	}
	e.must(201, "POST", "/rest/api/3/issue/"+key+"/comment", map[string]any{"body": adf("public note")}, &c)
	if c.ID == "" || !c.JsdPublic || c.Body["type"] != "doc" {
		t.Errorf("comment %+v", c)
	}
	e.must(201, "POST", "/rest/api/3/issue/"+key+"/comment", map[string]any{"body": adf("internal"),
		"properties": []any{map[string]any{"key": "sd.public.comment", "value": map[string]any{"internal": true}}}}, &c)
	if c.JsdPublic {
		t.Error("sd.public.comment internal=true must make an internal comment")
	}
	e.must(400, "POST", "/rest/api/3/issue/"+key+"/comment", map[string]any{"body": "plain text"}, nil)
	var page struct {
		Total    int
		Comments []struct{ ID string }
	}
	e.must(200, "GET", "/rest/api/3/issue/"+key+"/comment", nil, &page)
	if page.Total != 2 {
		t.Errorf("comments page %+v", page)
	}
	tk, _ := e.emu.Ticket(key)
	if len(tk.Comments) != 2 || tk.Comments[0].Text != "public note" || tk.Comments[1].Public {
		t.Errorf("comments %+v", tk.Comments)
	}
}
