package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// harness is an emulator behind a real HTTP server plus a tiny client.
type harness struct {
	t   *testing.T
	e   *Emulator
	srv *httptest.Server
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	e := New(opts)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &harness{t: t, e: e, srv: srv}
}

type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// do sends a JSON request as sandbox/sandbox unless hdr sets Authorization.
func (h *harness) do(method, path string, body any, hdr ...string) resp {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			js, _ := json.Marshal(b)
			rd = strings.NewReader(string(js))
		}
	}
	if p, q, ok := strings.Cut(path, "?"); ok {
		path = p + "?" + strings.ReplaceAll(q, " ", "%20")
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.SetBasicAuth("sandbox", "sandbox")
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Authorization" && hdr[i+1] == "" {
			req.Header.Del("Authorization")
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (r resp) result() map[string]any {
	m, _ := r.body["result"].(map[string]any)
	return m
}

func (r resp) results() []any {
	l, _ := r.body["result"].([]any)
	return l
}

func (r resp) errDetail() string {
	e, _ := r.body["error"].(map[string]any)
	d, _ := e["detail"].(string)
	return d
}

func (r resp) errMessage() string {
	e, _ := r.body["error"].(map[string]any)
	m, _ := e["message"].(string)
	return m
}

func (h *harness) createIncident(fields map[string]any) map[string]any {
	h.t.Helper()
	r := h.do("POST", "/api/now/table/incident", fields)
	if r.status != http.StatusCreated {
		h.t.Fatalf("create: %d %s", r.status, r.raw)
	}
	return r.result()
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestCreateIncident(t *testing.T) {
	h := newHarness(t, Options{})
	r := h.do("POST", "/api/now/table/incident", map[string]any{
		"short_description": "CPU high", "impact": 1, "urgency": "2", "priority": "5",
		"correlation_id": "key-1", "assignment_group": "Cloud Ops", "u_unknown": "ignored",
	})
	if r.status != http.StatusCreated {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	res := r.result()
	id, _ := res["sys_id"].(string)
	if !hex32.MatchString(id) {
		t.Errorf("sys_id %q is not 32 hex", id)
	}
	if got := r.header.Get("Location"); got != h.srv.URL+"/api/now/table/incident/"+id {
		t.Errorf("Location = %q", got)
	}
	want := map[string]any{
		"number": "INC0010001", "state": "1", "incident_state": "1", "active": "true",
		"impact": "1", "urgency": "2", "priority": "2", // computed, the client's "5" ignored
		"reopen_count": "0", "sys_class_name": "incident", "work_notes": "", "sys_mod_count": "0",
		"correlation_id": "key-1",
	}
	for k, v := range want {
		if res[k] != v {
			t.Errorf("%s = %#v, want %#v", k, res[k], v)
		}
	}
	if _, ok := res["u_unknown"]; ok {
		t.Error("unknown input field was stored")
	}
	grp, ok := res["assignment_group"].(map[string]any)
	if !ok || grp["value"] != stableID("sys_user_group", "Cloud Ops") ||
		grp["link"] != h.srv.URL+"/api/now/table/sys_user_group/"+stableID("sys_user_group", "Cloud Ops") {
		t.Errorf("assignment_group = %#v, want {link,value} resolved from the display value", res["assignment_group"])
	}
	if res["caller_id"] != "" {
		t.Errorf("empty reference = %#v, want \"\"", res["caller_id"])
	}
	for k, v := range res {
		switch v.(type) {
		case string, map[string]any:
		default:
			t.Errorf("%s is %T, every value must be a string", k, v)
		}
	}
	if n := h.createIncident(map[string]any{"short_description": "2"})["number"]; n != "INC0010002" {
		t.Errorf("second number = %v", n)
	}
}

func TestRenderingOptions(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.createIncident(map[string]any{"short_description": "x", "assignment_group": stableID("sys_user_group", "Network"), "impact": "2"})["sys_id"].(string)
	base := "/api/now/table/incident/" + id
	r := h.do("GET", base+"?sysparm_exclude_reference_link=true&sysparm_fields=assignment_group,number,nonexistent", nil)
	if got := r.result(); len(got) != 2 || got["assignment_group"] != stableID("sys_user_group", "Network") {
		t.Errorf("exclude_reference_link + fields: %s", r.raw)
	}
	r = h.do("GET", base+"?sysparm_display_value=true&sysparm_fields=assignment_group,state,impact", nil)
	got := r.result()
	if got["state"] != "New" || got["impact"] != "2 - Medium" {
		t.Errorf("display_value=true: %s", r.raw)
	}
	if g, _ := got["assignment_group"].(map[string]any); g["display_value"] != "Network" {
		t.Errorf("display_value=true reference: %s", r.raw)
	}
	r = h.do("GET", base+"?sysparm_display_value=all&sysparm_fields=state", nil)
	if s, _ := r.result()["state"].(map[string]any); s["value"] != "1" || s["display_value"] != "New" {
		t.Errorf("display_value=all: %s", r.raw)
	}
	r = h.do("GET", base+"?sysparm_fields=caller_id.user_name,opened_by.user_name", nil)
	if r.result()["opened_by.user_name"] != "sandbox" {
		t.Errorf("dot-walked field: %s", r.raw)
	}
	if r := h.do("GET", base+"?sysparm_display_value=maybe", nil); r.status != http.StatusBadRequest {
		t.Errorf("bad display_value: %d", r.status)
	}
}

func TestListPaginationAndQuery(t *testing.T) {
	h := newHarness(t, Options{})
	for i := 0; i < 5; i++ {
		h.createIncident(map[string]any{"short_description": "n", "correlation_id": []string{"a", "b", "a", "c", "a"}[i]})
	}
	r := h.do("GET", "/api/now/table/incident?sysparm_query=correlation_id=A^ORDERBYDESCnumber&sysparm_limit=2&sysparm_offset=0&sysparm_fields=number", nil)
	if r.status != 200 || r.header.Get("X-Total-Count") != "3" {
		t.Fatalf("status %d total %q", r.status, r.header.Get("X-Total-Count"))
	}
	res := r.results()
	if len(res) != 2 || res[0].(map[string]any)["number"] != "INC0010005" || res[1].(map[string]any)["number"] != "INC0010003" {
		t.Errorf("page 1 = %s", r.raw)
	}
	link := r.header.Get("Link")
	for _, rel := range []string{`rel="first"`, `rel="next"`, `rel="last"`} {
		if !strings.Contains(link, rel) {
			t.Errorf("Link %q lacks %s", link, rel)
		}
	}
	if strings.Contains(link, `rel="prev"`) {
		t.Errorf("first page has prev: %s", link)
	}
	next := regexp.MustCompile(`<([^>]+)>;rel="next"`).FindStringSubmatch(link)
	u, _ := url.Parse(next[1])
	r = h.do("GET", u.RequestURI(), nil)
	if res := r.results(); len(res) != 1 || res[0].(map[string]any)["number"] != "INC0010001" {
		t.Errorf("next page = %s", r.raw)
	}
	if !strings.Contains(r.header.Get("Link"), `rel="prev"`) || strings.Contains(r.header.Get("Link"), `rel="next"`) {
		t.Errorf("last page Link = %s", r.header.Get("Link"))
	}
	// name=value parameters are an alternative to sysparm_query.
	r = h.do("GET", "/api/now/table/incident?correlation_id=b&sysparm_no_count=true&sysparm_suppress_pagination_header=true", nil)
	if len(r.results()) != 1 || r.header.Get("X-Total-Count") != "" || r.header.Get("Link") != "" {
		t.Errorf("name=value: %d results, headers %v", len(r.results()), r.header)
	}
	// no match is an empty array, not 404
	r = h.do("GET", "/api/now/table/incident?sysparm_query=correlation_id=zzz", nil)
	if r.status != 200 || string(r.raw) != "{\"result\":[]}\n" {
		t.Errorf("empty result: %d %s", r.status, r.raw)
	}
	if r := h.do("GET", "/api/now/table/incident?sysparm_limit=x", nil); r.status != 400 {
		t.Errorf("bad limit: %d", r.status)
	}
	if r := h.do("GET", "/api/now/v2/table/incident?sysparm_limit=1", nil); r.status != 200 || len(r.results()) != 1 {
		t.Errorf("v2 path: %d %s", r.status, r.raw)
	}
}

// TestUnknownFieldTrap documents ServiceNow's behaviour that makes a typo in
// a dedup query match every record.
func TestUnknownFieldTrap(t *testing.T) {
	for _, strict := range []bool{false, true} {
		h := newHarness(t, Options{InvalidQueryReturnsNoRows: strict})
		h.createIncident(map[string]any{"correlation_id": "one"})
		h.createIncident(map[string]any{"correlation_id": "two"})
		vm, _ := h.e.SeedCI(CI{Class: "cmdb_ci_vm_instance", Values: map[string]string{"name": "vm1", "object_id": "/subscriptions/s/vm1"}})
		h.e.SeedCI(CI{Class: "cmdb_ci_cloud_database", Values: map[string]string{"name": "db1", "object_id": "/subscriptions/s/db1"}})

		typo := h.do("GET", "/api/now/table/incident?sysparm_query=correlation_idd=nothing^stateNOT IN7,8", nil)
		parent := h.do("GET", "/api/now/table/cmdb_ci?sysparm_query=object_id=/subscriptions/s/vm1", nil)
		class := h.do("GET", "/api/now/table/cmdb_ci_vm_instance?sysparm_query=object_id=/SUBSCRIPTIONS/S/VM1", nil)
		want := 2
		if strict {
			want = 0
		}
		if got := len(typo.results()); got != want {
			t.Errorf("strict=%v: typo query returned %d incidents, want %d", strict, got, want)
		}
		if got := len(parent.results()); got != want {
			t.Errorf("strict=%v: object_id on cmdb_ci returned %d CIs, want %d", strict, got, want)
		}
		if res := class.results(); len(res) != 1 || res[0].(map[string]any)["sys_id"] != vm {
			t.Errorf("strict=%v: object_id on its class (case-insensitive) = %s", strict, class.raw)
		}
	}
}

func TestCMDBHierarchy(t *testing.T) {
	h := newHarness(t, Options{SeedDemo: true})
	r := h.do("GET", "/api/now/table/cmdb_ci?sysparm_query=nameSTARTSWITHtest-^ORDERBYname&sysparm_fields=name,sys_class_name,object_id", nil)
	res := r.results()
	if len(res) != 2 {
		t.Fatalf("parent query: %s", r.raw)
	}
	first := res[0].(map[string]any)
	if first["name"] != "test-storageAccount" || first["sys_class_name"] != "cmdb_ci_cloud_storage_account" {
		t.Errorf("child row via parent = %v", first)
	}
	if _, ok := first["object_id"]; ok {
		t.Errorf("object_id rendered on a cmdb_ci query: base cmdb_ci has no such column")
	}
	if len(cloudClasses) < 5 {
		t.Fatalf("only %d cloud classes", len(cloudClasses))
	}
	for _, c := range cloudClasses {
		if !h.e.cat.isA(c, "cmdb_ci") {
			t.Errorf("%s does not extend cmdb_ci", c)
		}
		if _, ok := h.e.cat.field(c, "object_id"); !ok {
			t.Errorf("%s lacks object_id", c)
		}
	}
	r = h.do("GET", "/api/now/cmdb/instance/cmdb_ci_vm_instance?sysparm_query=name=test-VM", nil)
	if res := r.results(); len(res) != 1 || res[0].(map[string]any)["name"] != "test-VM" {
		t.Errorf("instance api list: %s", r.raw)
	}
}

func TestResolveDataPolicyAndStateModel(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.createIncident(map[string]any{"short_description": "x"})["sys_id"].(string)
	path := "/api/now/table/incident/" + id

	r := h.do("PATCH", path, map[string]any{"state": "6"})
	if r.status != http.StatusForbidden || r.body["status"] != "failure" ||
		r.errDetail() != "Data Policy Exception: The following fields are mandatory: Resolution code, Resolution notes" {
		t.Fatalf("resolve without close fields: %d %s", r.status, r.raw)
	}
	r = h.do("PATCH", path, map[string]any{"state": "6", "close_code": "Not a code", "close_notes": "n"})
	if r.status != http.StatusForbidden || !strings.Contains(r.errDetail(), "Resolution code") {
		t.Fatalf("unknown close code: %d %s", r.status, r.raw)
	}
	r = h.do("PATCH", path, map[string]any{"state": "6", "close_code": "Solution provided", "close_notes": "fixed", "resolved_at": "now"})
	res := r.result()
	if r.status != 200 || res["state"] != "6" || res["incident_state"] != "6" || res["active"] != "true" ||
		res["resolved_at"] == "" || res["resolved_at"] == "now" {
		t.Fatalf("resolve: %d %s", r.status, r.raw)
	}
	if rb, _ := res["resolved_by"].(map[string]any); rb["value"] != stableID("sys_user", "sandbox") {
		t.Errorf("resolved_by = %v", res["resolved_by"])
	}
	r = h.do("PATCH", path, map[string]any{"state": "2", "work_notes": "fired again"})
	res = r.result()
	if r.status != 200 || res["state"] != "2" || res["reopen_count"] != "1" || res["resolved_at"] != "" || res["work_notes"] != "" {
		t.Fatalf("reopen: %d %s", r.status, r.raw)
	}
	// closing needs itil_admin; sandbox only has itil
	if r := h.do("PATCH", path, map[string]any{"state": "7", "close_code": "Solution provided", "close_notes": "x"}); r.status != http.StatusForbidden {
		t.Errorf("close as itil: %d", r.status)
	}
	if r := h.do("PATCH", "/api/now/table/incident/"+strings.Repeat("0", 32), map[string]any{"state": "2"}); r.status != 404 ||
		r.errMessage() != "No Record found" {
		t.Errorf("patch missing: %d %s", r.status, r.raw)
	}
	if r := h.do("PUT", path, map[string]any{"urgency": "1", "impact": "1"}); r.status != 200 || r.result()["priority"] != "1" {
		t.Errorf("PUT priority recompute: %d %s", r.status, r.raw)
	}
	if r := h.do("PATCH", path, `{"state":`); r.status != 400 {
		t.Errorf("bad JSON: %d", r.status)
	}
	if r := h.do("PATCH", path, map[string]any{"state": "2"}, "Content-Type", "text/plain"); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("bad content type: %d", r.status)
	}
	if r := h.do("GET", path, nil, "Accept", "application/xml"); r.status != http.StatusNotAcceptable && r.status != 200 {
		t.Errorf("xml accept: %d", r.status)
	}
}

func TestClosedIncidentIsReadOnlyForNonAdmin(t *testing.T) {
	h := newHarness(t, Options{Users: []User{
		{UserName: "sandbox", Password: "sandbox", Roles: []string{"itil"}},
		{UserName: "boss", Password: "boss", Roles: []string{"itil_admin"}},
	}})
	id := h.createIncident(map[string]any{"short_description": "x"})["sys_id"].(string)
	path := "/api/now/table/incident/" + id
	boss := "Basic Ym9zczpib3Nz" // boss:boss
	if r := h.do("PATCH", path, map[string]any{"state": "7", "close_code": "Duplicate", "close_notes": "dup"}, "Authorization", boss); r.status != 200 ||
		r.result()["active"] != "false" || r.result()["closed_at"] == "" {
		t.Fatalf("admin close: %d %s", r.status, r.raw)
	}
	if r := h.do("PATCH", path, map[string]any{"state": "2"}); r.status != http.StatusForbidden {
		t.Errorf("non-admin reopen of closed: %d", r.status)
	}
}

func TestJournal(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.createIncident(map[string]any{"short_description": "x", "comments": "opened"})["sys_id"].(string)
	h.do("PATCH", "/api/now/table/incident/"+id, map[string]any{"work_notes": "note 1"})
	h.do("PATCH", "/api/now/table/incident/"+id, map[string]any{"work_notes": "note 2"})
	r := h.do("GET", "/api/now/table/sys_journal_field?sysparm_query=element_id="+id+"^element=work_notes^ORDERBYsys_created_on", nil)
	if res := r.results(); len(res) != 2 || res[0].(map[string]any)["value"] != "note 1" || res[0].(map[string]any)["name"] != "incident" {
		t.Errorf("journal rows: %s", r.raw)
	}
	if j := h.e.Journal(id); len(j) != 3 || j[0].Element != "comments" {
		t.Errorf("Journal() = %+v", j)
	}
	r = h.do("GET", "/api/now/table/incident/"+id+"?sysparm_display_value=true&sysparm_fields=work_notes", nil)
	wn, _ := r.result()["work_notes"].(string)
	if !strings.Contains(wn, "note 2") || strings.Index(wn, "note 2") > strings.Index(wn, "note 1") {
		t.Errorf("work_notes display value (newest first) = %q", wn)
	}
}

func TestDeleteAndErrors(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.createIncident(map[string]any{"short_description": "x"})["sys_id"].(string)
	if r := h.do("DELETE", "/api/now/table/incident/"+id, nil); r.status != http.StatusNoContent {
		t.Errorf("delete: %d", r.status)
	}
	r := h.do("GET", "/api/now/table/incident/"+id, nil)
	if r.status != 404 || r.body["status"] != "failure" || r.errMessage() == "" {
		t.Errorf("get deleted: %d %s", r.status, r.raw)
	}
	if r := h.do("GET", "/api/now/table/no_such_table", nil); r.status != 400 || r.errMessage() != "Invalid table no_such_table" {
		t.Errorf("invalid table: %d %s", r.status, r.raw)
	}
	if r := h.do("GET", "/api/now/nothing", nil); r.status != 400 {
		t.Errorf("unknown URI: %d", r.status)
	}
	// a task_ci row links a CI to the incident
	ci, _ := h.e.SeedCI(CI{Class: "cmdb_ci_vm_instance", Values: map[string]string{"name": "vm"}})
	inc := h.createIncident(map[string]any{"short_description": "y"})["sys_id"].(string)
	if r := h.do("POST", "/api/now/table/task_ci", map[string]any{"task": inc, "ci_item": ci}); r.status != 201 {
		t.Errorf("task_ci: %d %s", r.status, r.raw)
	}
	if r := h.do("GET", "/api/now/table/task_ci?sysparm_query=task="+inc+"^ci_item="+ci, nil); len(r.results()) != 1 {
		t.Errorf("task_ci query: %s", r.raw)
	}
}

func TestBasicAuth(t *testing.T) {
	h := newHarness(t, Options{})
	tests := []struct {
		name, auth string
		want       int
	}{
		{"none", "", 401},
		{"wrong password", "Basic c2FuZGJveDp4", 401},
		{"good", "Basic c2FuZGJveDpzYW5kYm94", 200},
		{"unknown bearer", "Bearer nope", 401},
	}
	for _, tt := range tests {
		r := h.do("GET", "/api/now/table/incident", nil, "Authorization", tt.auth)
		if r.status != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, r.status, tt.want)
		}
		if tt.want == 401 && (r.body["status"] != "failure" || r.errMessage() != "User Not Authenticated") {
			t.Errorf("%s: body %s", tt.name, r.raw)
		}
	}
}

func (h *harness) token(form url.Values, contentType string) (int, map[string]any) {
	h.t.Helper()
	res, err := http.Post(h.srv.URL+"/oauth_token.do", contentType, strings.NewReader(form.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func TestOAuth(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := newHarness(t, Options{Now: clock})
	form := url.Values{"grant_type": {"password"}, "client_id": {"sandbox"}, "client_secret": {"sandbox"},
		"username": {"sandbox"}, "password": {"sandbox"}}
	const formCT = "application/x-www-form-urlencoded"

	st, tok := h.token(form, formCT)
	if st != 200 || tok["token_type"] != "Bearer" || tok["expires_in"] != float64(1799) || tok["refresh_token"] == "" || tok["scope"] != "useraccount" {
		t.Fatalf("password grant: %d %v", st, tok)
	}
	_, again := h.token(form, formCT)
	if again["access_token"] != tok["access_token"] {
		t.Error("password grant while valid must return the same access token")
	}
	bearer := "Bearer " + tok["access_token"].(string)
	if r := h.do("GET", "/api/now/table/incident", nil, "Authorization", bearer); r.status != 200 {
		t.Fatalf("bearer: %d", r.status)
	}

	// JSON bodies are rejected
	if st, _ := h.token(form, "application/json"); st != 400 {
		t.Errorf("JSON body: %d, want 400", st)
	}
	bad := url.Values{"grant_type": {"password"}, "client_id": {"sandbox"}, "client_secret": {"nope"}, "username": {"sandbox"}, "password": {"sandbox"}}
	if st, _ := h.token(bad, formCT); st != 401 {
		t.Errorf("bad client secret: %d", st)
	}
	badUser := url.Values{"grant_type": {"password"}, "client_id": {"sandbox"}, "client_secret": {"sandbox"}, "username": {"sandbox"}, "password": {"x"}}
	if st, _ := h.token(badUser, formCT); st != 401 {
		t.Errorf("bad password: %d", st)
	}
	if st, _ := h.token(url.Values{"grant_type": {"implicit"}, "client_id": {"sandbox"}, "client_secret": {"sandbox"}}, formCT); st != 400 {
		t.Errorf("unknown grant: %d", st)
	}

	// expiry, then refresh
	mu.Lock()
	now = now.Add(1800 * time.Second)
	mu.Unlock()
	if r := h.do("GET", "/api/now/table/incident", nil, "Authorization", bearer); r.status != 401 {
		t.Errorf("expired token: %d", r.status)
	}
	st, ref := h.token(url.Values{"grant_type": {"refresh_token"}, "client_id": {"sandbox"}, "client_secret": {"sandbox"},
		"refresh_token": {tok["refresh_token"].(string)}}, formCT)
	if st != 200 || ref["access_token"] == tok["access_token"] || ref["refresh_token"] != nil {
		t.Fatalf("refresh grant: %d %v", st, ref)
	}
	if r := h.do("GET", "/api/now/table/incident", nil, "Authorization", "Bearer "+ref["access_token"].(string)); r.status != 200 {
		t.Errorf("refreshed token: %d", r.status)
	}
	if st, _ := h.token(url.Values{"grant_type": {"refresh_token"}, "client_id": {"sandbox"}, "client_secret": {"sandbox"},
		"refresh_token": {"forged"}}, formCT); st != 401 {
		t.Errorf("forged refresh token: %d", st)
	}
	st, cc := h.token(url.Values{"grant_type": {"client_credentials"}, "client_id": {"sandbox"}, "client_secret": {"sandbox"}}, formCT)
	if st != 200 || cc["refresh_token"] != nil {
		t.Fatalf("client_credentials: %d %v", st, cc)
	}
	if r := h.do("POST", "/api/now/table/incident", map[string]any{"short_description": "cc"}, "Authorization", "Bearer "+cc["access_token"].(string)); r.status != 201 ||
		r.result()["sys_created_by"] != "sandbox" {
		t.Errorf("client_credentials token acts as its user: %d %s", r.status, r.raw)
	}
	h.e.ExpireTokens()
	if r := h.do("GET", "/api/now/table/incident", nil, "Authorization", "Bearer "+cc["access_token"].(string)); r.status != 401 {
		t.Errorf("ExpireTokens: %d", r.status)
	}
}

func TestRateLimit(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := newHarness(t, Options{Now: func() time.Time { return now }, RateLimit: &RateRule{Limit: 2, PathPrefix: "/api/now/table/incident"}})
	for i := 0; i < 2; i++ {
		if r := h.do("GET", "/api/now/table/incident", nil); r.status != 200 || r.header.Get("X-RateLimit-Limit") != "2" {
			t.Fatalf("request %d: %d %v", i, r.status, r.header)
		}
	}
	r := h.do("GET", "/api/now/table/incident", nil)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "3600" ||
		r.header.Get("X-RateLimit-Reset") != "1767229200" || r.header.Get("X-RateLimit-Rule") == "" ||
		r.errMessage() != "Rate limit exceeded" || r.errDetail() != "Rate limit of 2 requests per hour for Table API exceeded" {
		t.Fatalf("429: %d %v %s", r.status, r.header, r.raw)
	}
	if r := h.do("GET", "/api/now/table/sys_user", nil); r.status != 200 {
		t.Errorf("other resource limited: %d", r.status)
	}
	h.e.SetRateRule(nil)
	if r := h.do("GET", "/api/now/table/incident", nil); r.status != 200 {
		t.Errorf("after rule removal: %d", r.status)
	}
}

func TestFaults(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.InjectFault(Fault{Status: 503, Count: 2, RetryAfterSeconds: 7, PathPrefix: "/api/now/table/incident", Method: "POST"})
	if r := h.do("GET", "/api/now/table/incident", nil); r.status != 200 {
		t.Errorf("GET hit a POST fault: %d", r.status)
	}
	for i := 0; i < 2; i++ {
		r := h.do("POST", "/api/now/table/incident", map[string]any{"short_description": "x"})
		if r.status != 503 || r.header.Get("Retry-After") != "7" || r.body["status"] != "failure" {
			t.Errorf("fault %d: %d %v", i, r.status, r.header)
		}
	}
	if r := h.do("POST", "/api/now/table/incident", map[string]any{"short_description": "x"}); r.status != 201 {
		t.Errorf("after count exhausted: %d", r.status)
	}
	h.e.InjectFault(Fault{Drop: true, Count: 1})
	req, _ := http.NewRequest("GET", h.srv.URL+"/api/now/table/incident", nil)
	req.SetBasicAuth("sandbox", "sandbox")
	// a fresh connection: Go's transport silently retries a GET dropped on a reused one
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if res, err := fresh.Do(req); err == nil {
		res.Body.Close()
		t.Error("drop fault: request succeeded")
	}
	calls := h.e.Calls()
	if last := calls[len(calls)-1]; last.Status != -1 {
		t.Errorf("dropped call logged with status %d", last.Status)
	}
	h.e.InjectFault(Fault{Status: 500})
	h.e.ClearFaults()
	if r := h.do("GET", "/api/now/table/incident", nil); r.status != 200 {
		t.Errorf("after clear: %d", r.status)
	}
}

func TestIdentifyReconcile(t *testing.T) {
	h := newHarness(t, Options{SeedDemo: true})
	post := func(path string, items ...map[string]any) []any {
		t.Helper()
		r := h.do("POST", path, map[string]any{"items": items, "relations": []any{}})
		if r.status != 200 {
			t.Fatalf("IRE: %d %s", r.status, r.raw)
		}
		return r.result()["items"].([]any)
	}
	item := func(class string, vals map[string]any) map[string]any {
		return map[string]any{"className": class, "values": vals}
	}
	vmID := "/subscriptions/11111111-1111-1111-1111-111111111111/resourcegroups/test-rg/providers/microsoft.compute/virtualmachines/test-vm"
	newID := "/subscriptions/s/resourcegroups/rg/providers/microsoft.sql/servers/new-db"

	res := post("/api/now/identifyreconcile?sysparm_data_source=ServiceNow",
		item("cmdb_ci_vm_instance", map[string]any{"object_id": vmID, "name": "test-VM"}),
		item("cmdb_ci_cloud_database", map[string]any{"object_id": newID, "name": "new-db"}),
		item("cmdb_ci_cloud_database", map[string]any{"name": "no-id"}),
		item("not_a_class", map[string]any{"name": "x"}),
	)
	op := func(i int) (string, string, string) {
		m := res[i].(map[string]any)
		errs, _ := m["errors"].([]any)
		code := ""
		if len(errs) > 0 {
			code = errs[0].(map[string]any)["error"].(string)
		}
		return m["operation"].(string), m["sysId"].(string), code
	}
	if o, id, _ := op(0); o != "NO_CHANGE" || id != stableID("cmdb_ci_vm_instance", demoCIs[0].Values["object_id"]) {
		t.Errorf("existing VM (case-insensitive object_id): %s %s", o, id)
	}
	o, created, _ := op(1)
	if o != "INSERT" || !hex32.MatchString(created) {
		t.Errorf("new db: %s %s", o, created)
	}
	if rec, _ := h.e.Record("cmdb_ci", created); rec["sys_class_name"] != "cmdb_ci_cloud_database" || rec["object_id"] != newID {
		t.Errorf("inserted CI = %v", rec)
	}
	if _, _, code := op(2); code != "MISSING_MATCHING_ATTRIBUTES" {
		t.Errorf("missing identifier: %s", code)
	}
	if _, _, code := op(3); code != "INVALID_INPUT_DATA" {
		t.Errorf("bad class: %s", code)
	}
	res = post("/api/now/identifyreconcile", item("cmdb_ci_cloud_database", map[string]any{"object_id": newID, "name": "renamed"}))
	if o, id, _ := op(0); o != "UPDATE" || id != created {
		t.Errorf("update: %s %s", o, id)
	}
	h.e.SeedCI(CI{Class: "cmdb_ci_cloud_database", Values: map[string]string{"name": "dup", "object_id": newID}})
	res = post("/api/now/identifyreconcile/query", item("cmdb_ci_cloud_database", map[string]any{"object_id": newID}))
	if _, _, code := op(0); code != "MULTI_MATCH" {
		t.Errorf("multi match: %s", code)
	}
	before := len(h.e.Records("cmdb_ci", ""))
	post("/api/now/identifyreconcile/query", item("cmdb_ci_vm_instance", map[string]any{"object_id": "/x/dry", "name": "dry"}))
	if after := len(h.e.Records("cmdb_ci", "")); after != before {
		t.Errorf("dry run inserted: %d → %d", before, after)
	}
}

func TestControlSurface(t *testing.T) {
	h := newHarness(t, Options{})
	ctl := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	st, b := ctl("POST", "/_emulator/seed", `{"cis":[{"class":"cmdb_ci_vm_instance","values":{"name":"vm9","object_id":"/x/vm9"}}],"records":[{"table":"sys_user_group","values":{"name":"DBA"}}]}`)
	if st != 200 || !strings.Contains(string(b), `"cis":["`) {
		t.Fatalf("seed: %d %s", st, b)
	}
	if st, _ := ctl("POST", "/_emulator/seed", `{"cis":[{"class":"incident","values":{}}]}`); st != 400 {
		t.Errorf("seed non-CI class: %d", st)
	}
	h.createIncident(map[string]any{"correlation_id": "K"})
	h.createIncident(map[string]any{"correlation_id": "K"})
	if _, b := ctl("GET", "/_emulator/tickets?correlation=K", ""); !strings.Contains(string(b), `"count":2`) {
		t.Errorf("tickets: %s", b)
	}
	if st, _ := ctl("POST", "/_emulator/faults", `{"status":429,"count":1,"retry_after_seconds":3}`); st != 204 {
		t.Errorf("fault: %d", st)
	}
	if r := h.do("GET", "/api/now/table/incident", nil); r.status != 429 || r.header.Get("Retry-After") != "3" {
		t.Errorf("injected 429: %d", r.status)
	}
	if st, _ := ctl("POST", "/_emulator/faults", `{"status":42}`); st != 400 {
		t.Errorf("bad fault accepted: %d", st)
	}
	_, b = ctl("GET", "/_emulator/calls", "")
	var calls []Call
	if err := json.Unmarshal(b, &calls); err != nil || len(calls) != 3 || calls[0].Method != "POST" || calls[0].User != "sandbox" ||
		!strings.Contains(calls[0].Body, `"correlation_id":"K"`) || calls[2].Status != 429 {
		t.Errorf("calls: %s", b)
	}
	if st, _ := ctl("POST", "/_emulator/ratelimit", `{"limit":0,"window_seconds":60}`); st != 204 {
		t.Errorf("ratelimit: %d", st)
	}
	if r := h.do("GET", "/api/now/table/incident", nil); r.status != 429 {
		t.Errorf("limit 0: %d", r.status)
	}
	ctl("DELETE", "/_emulator/ratelimit", "")
	ctl("POST", "/_emulator/reset", "")
	if h.e.CountTickets("K") != 0 || len(h.e.Calls()) != 0 || len(h.e.Records("cmdb_ci", "name=vm9")) != 0 {
		t.Error("reset left state behind")
	}
	if len(h.e.Records("sys_user_group", "name=Cloud Ops")) != 1 {
		t.Error("reset did not reseed groups")
	}
}

func TestTruncation(t *testing.T) {
	h := newHarness(t, Options{})
	long := strings.Repeat("k", 150)
	res := h.createIncident(map[string]any{"correlation_id": long, "short_description": strings.Repeat("s", 200)})
	if got := res["correlation_id"].(string); len(got) != 100 {
		t.Errorf("correlation_id length %d, want truncated to 100", len(got))
	}
	if got := res["short_description"].(string); len(got) != 160 {
		t.Errorf("short_description length %d, want 160", len(got))
	}
}

func TestConcurrentCreates(t *testing.T) {
	h := newHarness(t, Options{})
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.do("POST", "/api/now/table/incident", map[string]any{"correlation_id": "same"})
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, tk := range h.e.Tickets("same") {
		if seen[tk.Number] {
			t.Errorf("duplicate number %s", tk.Number)
		}
		seen[tk.Number] = true
	}
	if len(seen) != 20 {
		t.Errorf("%d tickets", len(seen))
	}
}

func TestCallLogBounded(t *testing.T) {
	h := newHarness(t, Options{MaxCalls: 4})
	for i := 0; i < 11; i++ {
		h.do("GET", "/api/now/table/incident?sysparm_limit="+string(rune('0'+i%10)), nil)
	}
	calls := h.e.Calls()
	if len(calls) != 4 || calls[3].Query != "sysparm_limit=0" || calls[0].Query != "sysparm_limit=7" {
		t.Fatalf("calls = %+v", calls)
	}
}

func TestNoResponseBodyAndRoles(t *testing.T) {
	h := newHarness(t, Options{Users: []User{
		{UserName: "sandbox", Password: "sandbox", Roles: []string{"itil"}},
		{UserName: "viewer", Password: "viewer", Roles: nil},
	}})
	r := h.do("POST", "/api/now/table/incident", map[string]any{"short_description": "x"}, "X-no-response-body", "true")
	if r.status != 201 || len(r.raw) != 0 || r.header.Get("Location") == "" {
		t.Errorf("X-no-response-body: %d %q", r.status, r.raw)
	}
	viewer := "Basic dmlld2VyOnZpZXdlcg==" // viewer:viewer
	if r := h.do("GET", "/api/now/table/incident", nil, "Authorization", viewer); r.status != 403 {
		t.Errorf("read incidents without itil: %d", r.status)
	}
	if r := h.do("POST", "/api/now/identifyreconcile", map[string]any{"items": []any{}}, "Authorization", viewer); r.status != 403 {
		t.Errorf("IRE without itil/asset: %d", r.status)
	}
	if r := h.do("GET", "/api/now/table/cmdb_ci", nil, "Authorization", viewer); r.status != 200 {
		t.Errorf("CMDB read: %d", r.status)
	}
}

func TestIndexFollowsUpdatesAndDeletes(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.createIncident(map[string]any{"correlation_id": "A"})["sys_id"].(string)
	count := func(q string) int {
		return len(h.do("GET", "/api/now/table/incident?sysparm_query="+q, nil).results())
	}
	if count("correlation_id=a") != 1 {
		t.Fatal("indexed lookup missed (case-insensitive)")
	}
	h.do("PATCH", "/api/now/table/incident/"+id, map[string]any{"correlation_id": "B"})
	if count("correlation_id=A") != 0 || count("correlation_id=B") != 1 || h.e.CountTickets("b") != 1 {
		t.Error("index not updated")
	}
	// an indexed equality combined with other conditions and ^OR
	if count("correlation_id=B^state=1") != 1 || count("correlation_id=B^state=2") != 0 || count("correlation_id=X^ORstate=1") != 1 {
		t.Error("indexed query semantics differ from a scan")
	}
	h.do("DELETE", "/api/now/table/incident/"+id, nil)
	if count("correlation_id=B") != 0 || h.e.CountTickets("B") != 0 {
		t.Error("index not updated on delete")
	}
}
