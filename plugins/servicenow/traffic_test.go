package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/servicenow/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// documentedIncidentFields are the incident fields ServiceNow's Table API
// documentation names (shared/vendors/SERVICENOW.md §3) that a client may
// write. priority is deliberately absent: it is computed.
var documentedIncidentFields = []string{
	"short_description", "description", "urgency", "impact", "caller_id", "assignment_group", "assigned_to",
	"cmdb_ci", "business_service", "category", "subcategory", "contact_type", "correlation_id",
	"correlation_display", "state", "comments", "work_notes", "close_code", "close_notes",
}

// request is one documented request shape.
type request struct {
	name   string
	method string
	path   *regexp.Regexp
	query  map[string]*regexp.Regexp // required parameters
	body   []string                  // exact set of JSON keys; nil: no body
	// bodyCheck validates the decoded body further.
	bodyCheck func(map[string]any) error
	status    int
}

var (
	sysIDPath    = `[0-9a-f]{32}`
	incidentList = regexp.MustCompile(`^/api/now/table/incident$`)
	incidentOne  = regexp.MustCompile(`^/api/now/table/incident/` + sysIDPath + `$`)
)

func q(pairs ...string) map[string]*regexp.Regexp {
	m := map[string]*regexp.Regexp{}
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = regexp.MustCompile(pairs[i+1])
	}
	return m
}

func allStrings(m map[string]any) error {
	for k, v := range m {
		if _, ok := v.(string); !ok {
			return fmt.Errorf("field %s is %T; the Table API takes strings", k, v)
		}
	}
	return nil
}

// TestRecordedTraffic runs a full create → comment → bind → resolve →
// reopen flow and checks every request the plugin sent, from the emulator's
// call log, against ServiceNow's documented method, path, parameters and
// fields.
func TestRecordedTraffic(t *testing.T) {
	f := newFixture(t, emulator.Options{SeedDemo: true}, "")
	f.emu.ClearCalls() // the Configure probe is checked in TestConfigureTraffic
	key := "traffic-1"

	ref := f.create(key)
	if err := f.p.Comment(ctx(t), &sdk.CommentRequest{Ref: *ref, TicketKey: key, Text: "fired again"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.BindCI(ctx(t), &sdk.BindCIRequest{Ref: *ref, TicketKey: key, Primary: true,
		Item: sdk.ConfigurationItem{ResourceID: demoVM, Name: "test-vm", ResourceType: "microsoft.compute/virtualmachines"}}); err != nil {
		t.Fatal(err)
	}
	extra := sdk.ConfigurationItem{ResourceID: "/subscriptions/s/resourcegroups/rg/providers/microsoft.sql/servers/new-db",
		Name: "new-db", ResourceType: "microsoft.sql/servers"}
	if _, err := f.p.BindCI(ctx(t), &sdk.BindCIRequest{Ref: *ref, TicketKey: key, Item: extra, CreateMissing: true}); err != nil {
		t.Fatal(err)
	}
	if err := f.p.Resolve(ctx(t), &sdk.ResolveRequest{Ref: *ref, TicketKey: key, Alert: resolvedAlert()}); err != nil {
		t.Fatal(err)
	}
	if err := f.p.Reopen(ctx(t), &sdk.ReopenRequest{Ref: *ref, TicketKey: key, Alert: sampleAlert()}); err != nil {
		t.Fatal(err)
	}

	read := func(name string, path *regexp.Regexp, query map[string]*regexp.Regexp) request {
		return request{name: name, method: "GET", path: path, query: query, status: 200}
	}
	ciQuery := func(class string) request {
		return read("find CI in "+class, regexp.MustCompile(`^/api/now/table/`+class+`$`),
			q("sysparm_query", `^object_id=/subscriptions/`, "sysparm_fields", `(^|,)object_id(,|$)`))
	}
	getIncident := read("read incident state", incidentOne, q("sysparm_fields", `(^|,)state(,|$)`))
	want := []request{
		read("dedup lookup", incidentList, q(
			"sysparm_query", `^correlation_id=traffic-1\^stateNOT IN6,7,8\^ORDERBYDESCsys_created_on$`,
			"sysparm_fields", `(^|,)correlation_id(,|$)`, "sysparm_limit", `^\d+$`)),
		{name: "create incident", method: "POST", path: incidentList, status: 201,
			body: []string{"short_description", "description", "impact", "urgency", "correlation_id", "correlation_display"},
			bodyCheck: func(m map[string]any) error {
				if m["correlation_id"] != key || m["impact"] != "1" || m["urgency"] != "2" {
					return fmt.Errorf("unexpected values %v", m)
				}
				return allStrings(m)
			}},
		{name: "comment (work_notes)", method: "PATCH", path: incidentOne, status: 200, body: []string{"work_notes"}, bodyCheck: allStrings},
		ciQuery("cmdb_ci_vm_instance"),
		{name: "primary CI", method: "PATCH", path: incidentOne, status: 200, body: []string{"cmdb_ci"},
			bodyCheck: func(m map[string]any) error {
				if !sysIDRe.MatchString(fmt.Sprint(m["cmdb_ci"])) {
					return fmt.Errorf("cmdb_ci %v is not a sys_id", m["cmdb_ci"])
				}
				return nil
			}},
		ciQuery("cmdb_ci_cloud_database"), // the mapped class first, then the others
		ciQuery("cmdb_ci_vm_instance"), ciQuery("cmdb_ci_cloud_storage_account"), ciQuery("cmdb_ci_kubernetes_cluster"),
		ciQuery("cmdb_ci_cloud_function"), ciQuery("cmdb_ci_cloud_load_balancer"), ciQuery("cmdb_ci_compute_security_group"),
		ciQuery("cmdb_ci_resource_group"),
		read("find CI by name", regexp.MustCompile(`^/api/now/table/cmdb_ci$`), q("sysparm_query", `^name=new-db\^sys_class_nameINcmdb_ci_cloud_database`)),
		{name: "create CI (IRE)", method: "POST", path: regexp.MustCompile(`^/api/now/identifyreconcile$`), status: 200,
			query: q("sysparm_data_source", `^ServiceNow$`), body: []string{"items", "relations"},
			bodyCheck: func(m map[string]any) error {
				items, _ := m["items"].([]any)
				if len(items) != 1 {
					return fmt.Errorf("items = %v", m["items"])
				}
				it := items[0].(map[string]any)
				vals, _ := it["values"].(map[string]any)
				if it["className"] != "cmdb_ci_cloud_database" || vals["object_id"] != extra.ResourceID || vals["name"] != "new-db" {
					return fmt.Errorf("item = %v", it)
				}
				return nil
			}},
		read("affected CI dedup", regexp.MustCompile(`^/api/now/table/task_ci$`), q("sysparm_query", `^task=[0-9a-f]{32}\^ci_item=[0-9a-f]{32}$`)),
		{name: "affected CI", method: "POST", path: regexp.MustCompile(`^/api/now/table/task_ci$`), status: 201,
			body: []string{"task", "ci_item"}, bodyCheck: allStrings},
		getIncident,
		{name: "resolve", method: "PATCH", path: incidentOne, status: 200, body: []string{"state", "close_code", "close_notes"},
			bodyCheck: func(m map[string]any) error {
				if m["state"] != "6" || !slices.Contains(currentCloseCodes, fmt.Sprint(m["close_code"])) || m["close_notes"] == "" {
					return fmt.Errorf("resolve body %v", m)
				}
				return nil
			}},
		getIncident,
		{name: "reopen", method: "PATCH", path: incidentOne, status: 200, body: []string{"state", "work_notes"},
			bodyCheck: func(m map[string]any) error {
				if m["state"] != "2" {
					return fmt.Errorf("reopen state %v, want 2 (In Progress)", m["state"])
				}
				return nil
			}},
	}
	checkTraffic(t, f.emu.Calls(), want)
	if rec := f.incident(ref.ID); rec["reopen_count"] != "1" || rec["state"] != "2" {
		t.Errorf("incident after the flow: %v", rec)
	}
}

// TestConfigureTraffic checks the requests Configure sends.
func TestConfigureTraffic(t *testing.T) {
	f := newFixture(t, emulator.Options{}, `assignment_group = "Cloud Ops"`)
	checkTraffic(t, f.emu.Calls(), []request{
		{name: "probe", method: "GET", path: incidentList, status: 200, query: q("sysparm_limit", `^1$`, "sysparm_fields", `^sys_id,correlation_id$`)},
		{name: "resolve group", method: "GET", path: regexp.MustCompile(`^/api/now/table/sys_user_group$`), status: 200,
			query: q("sysparm_query", `^name=Cloud Ops$`)},
	})
}

func checkTraffic(t *testing.T, calls []emulator.Call, want []request) {
	t.Helper()
	if len(calls) != len(want) {
		for _, c := range calls {
			t.Logf("  %s %s?%s → %d", c.Method, c.Path, c.Query, c.Status)
		}
		t.Fatalf("%d requests sent, the documented flow has %d", len(calls), len(want))
	}
	for i, c := range calls {
		w := want[i]
		where := fmt.Sprintf("request %d (%s): %s %s", i+1, w.name, c.Method, c.Path)
		if c.Method != w.method || !w.path.MatchString(c.Path) {
			t.Errorf("%s: want %s %s", where, w.method, w.path)
			continue
		}
		if c.Status != w.status {
			t.Errorf("%s: status %d, want %d", where, c.Status, w.status)
		}
		if c.Accept != "application/json" {
			t.Errorf("%s: Accept %q, want application/json", where, c.Accept)
		}
		vals, err := url.ParseQuery(c.Query)
		if err != nil {
			t.Errorf("%s: bad query %q", where, c.Query)
		}
		for k, re := range w.query {
			if !re.MatchString(vals.Get(k)) {
				t.Errorf("%s: %s=%q does not match %s", where, k, vals.Get(k), re)
			}
		}
		for k := range vals {
			if !strings.HasPrefix(k, "sysparm_") {
				t.Errorf("%s: undocumented parameter %s", where, k)
			}
		}
		if w.body == nil {
			if c.Body != "" {
				t.Errorf("%s: unexpected body %s", where, c.Body)
			}
			continue
		}
		if c.ContentType != "application/json" {
			t.Errorf("%s: Content-Type %q, want application/json", where, c.ContentType)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(c.Body), &m); err != nil {
			t.Errorf("%s: body is not a JSON object: %s", where, c.Body)
			continue
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		wantKeys := slices.Sorted(slices.Values(w.body))
		if !slices.Equal(keys, wantKeys) {
			t.Errorf("%s: body fields %v, want %v", where, keys, wantKeys)
		}
		if incidentList.MatchString(c.Path) || incidentOne.MatchString(c.Path) {
			for _, k := range keys {
				if !slices.Contains(documentedIncidentFields, k) {
					t.Errorf("%s: field %s is not a documented incident field", where, k)
				}
			}
		}
		if w.bodyCheck != nil {
			if err := w.bodyCheck(m); err != nil {
				t.Errorf("%s: %v", where, err)
			}
		}
	}
}
