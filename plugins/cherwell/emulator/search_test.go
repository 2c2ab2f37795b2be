package emulator

import (
	"sort"
	"strings"
	"testing"
)

func TestSearchFilters(t *testing.T) {
	v := newEnv(t, Options{})
	v.login()
	incID := v.e.BusObID("Incident")
	// pub ids 101001..101004
	v.createIncident("Disk full on vm1", "k1", v.field("Incident", "Priority", "1"))
	v.createIncident("CPU high on vm2", "k2", v.field("Incident", "Priority", "2"))
	v.createIncident("disk slow on vm3", "k3", v.field("Incident", "Priority", "4"))
	v.createIncident("Memory on vm1", "K1-other", v.field("Incident", "Priority", "5"), v.field("Incident", "Status", "Pending"))

	fid := func(n string) string { return v.e.FieldID("Incident", n) }
	f := func(field, op, val string) map[string]any {
		return map[string]any{"fieldId": fid(field), "operator": op, "value": val}
	}
	tests := []struct {
		name    string
		filters []map[string]any
		want    []string // correlation keys
	}{
		{"no filter", nil, []string{"k1", "k2", "k3", "K1-other"}},
		{"eq is case-insensitive", []map[string]any{f("CorrelationID", "eq", "K1")}, []string{"k1"}},
		{"contains", []map[string]any{f("ShortDescription", "contains", "DISK")}, []string{"k1", "k3"}},
		{"startswith", []map[string]any{f("CorrelationID", "startswith", "k1")}, []string{"k1", "K1-other"}},
		{"gt numeric", []map[string]any{f("Priority", "gt", "2")}, []string{"k3", "K1-other"}},
		{"lt numeric (not lexical)", []map[string]any{f("Priority", "lt", "10")}, []string{"k1", "k2", "k3", "K1-other"}},
		{"same field OR-ed", []map[string]any{f("Status", "eq", "New"), f("Status", "eq", "Pending")}, []string{"k1", "k2", "k3", "K1-other"}},
		{"different fields AND-ed", []map[string]any{f("ShortDescription", "contains", "vm1"), f("Status", "eq", "New")}, []string{"k1"}},
		{"OR within AND", []map[string]any{f("Priority", "eq", "1"), f("Priority", "eq", "5"), f("ShortDescription", "contains", "memory")}, []string{"K1-other"}},
		{"operator case", []map[string]any{{"fieldId": fid("CorrelationID"), "operator": "EQ", "value": "k2"}}, []string{"k2"}},
		{"long-form field id", []map[string]any{{"fieldId": "BO:" + incID + ",FI:" + fid("CorrelationID"), "operator": "eq", "value": "k3"}}, []string{"k3"}},
		{"no match", []map[string]any{f("CorrelationID", "eq", "zzz")}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out searchResponse
			filters := append([]map[string]any{}, tc.filters...)
			st := v.call("POST", "/api/V1/getsearchresults", map[string]any{"busObId": incID, "filters": filters,
				"fields": []string{fid("CorrelationID")}, "pageNumber": 1, "pageSize": 50}, &out)
			if st != 200 || out.HasError {
				t.Fatalf("%d %+v", st, out)
			}
			var got []string
			for _, bo := range out.BusinessObjects {
				if len(bo.Fields) != 1 {
					t.Fatalf("fields = %+v, want only CorrelationID", bo.Fields)
				}
				got = append(got, bo.Fields[0].Value)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || out.TotalRows != len(tc.want) {
				t.Errorf("got %v (totalRows %d), want %v", got, out.TotalRows, tc.want)
			}
		})
	}
}

func TestSearchPagingAndErrors(t *testing.T) {
	v := newEnv(t, Options{})
	v.login()
	incID := v.e.BusObID("Incident")
	for i := range 7 {
		v.createIncident("t", string(rune('a'+i)))
	}
	pageOf := func(n, size int) ([]string, int) {
		var out searchResponse
		v.call("POST", "/api/V1/getsearchresults", map[string]any{"busObId": incID, "includeAllFields": true, "pageNumber": n, "pageSize": size}, &out)
		var ids []string
		for _, bo := range out.BusinessObjects {
			ids = append(ids, bo.BusObPublicID)
			if len(bo.Fields) != len(v.e.cat.byID[incID].fields) {
				t.Errorf("includeAllFields returned %d fields", len(bo.Fields))
			}
		}
		return ids, out.TotalRows
	}
	p1, total := pageOf(1, 3)
	p3, _ := pageOf(3, 3)
	p4, _ := pageOf(4, 3)
	if strings.Join(p1, ",") != "101001,101002,101003" || strings.Join(p3, ",") != "101007" || len(p4) != 0 || total != 7 {
		t.Errorf("pages: %v %v %v total %d", p1, p3, p4, total)
	}

	// Sorting descending by public id.
	var out searchResponse
	v.call("POST", "/api/V1/getsearchresults", map[string]any{"busObId": incID, "pageSize": 2,
		"sorting": []map[string]any{{"fieldId": v.e.FieldID("Incident", "IncidentID"), "sortDirection": -1}}}, &out)
	if len(out.BusinessObjects) != 2 || out.BusinessObjects[0].BusObPublicID != "101007" {
		t.Errorf("sorted: %+v", out.BusinessObjects)
	}

	for name, body := range map[string]map[string]any{
		"bad operator":  {"busObId": incID, "filters": []map[string]any{{"fieldId": v.e.FieldID("Incident", "Status"), "operator": "ne", "value": "x"}}},
		"unknown field": {"busObId": incID, "filters": []map[string]any{{"fieldId": "nope", "operator": "eq", "value": "x"}}},
		"unknown bo":    {"busObId": "nope"},
	} {
		var out searchResponse
		if st := v.call("POST", "/api/V1/getsearchresults", body, &out); st != 400 || !out.HasError || out.ErrorMessage == "" {
			t.Errorf("%s: %d %+v", name, st, out)
		}
	}
}

func TestSearchGroupFindsMembers(t *testing.T) {
	v := newEnv(t, Options{})
	v.login()
	if _, err := v.e.SeedConfigItem(SeedCI{Type: "Config - Server", Name: "vm1", ResourceID: "/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.e.SeedConfigItem(SeedCI{Type: "ConfigComputer", Name: "laptop"}); err != nil {
		t.Fatal(err)
	}
	search := func(busOb, field, val string) []string {
		var out searchResponse
		v.call("POST", "/api/V1/getsearchresults", map[string]any{"busObId": v.e.BusObID(busOb), "includeAllFields": true,
			"filters": []map[string]any{{"fieldId": v.e.FieldID(busOb, field), "operator": "eq", "value": val}}}, &out)
		var names []string
		for _, bo := range out.BusinessObjects {
			names = append(names, fieldValue(bo, "FriendlyName")+"/"+fieldValue(bo, "ConfigItemTypeName"))
		}
		sort.Strings(names)
		return names
	}
	if got := search("ConfigItem", "Status", "Active"); strings.Join(got, ",") != "laptop/Config - Computer,vm1/Config - Server" {
		t.Errorf("group search = %v", got)
	}
	if got := search("Config - Server", "AzureResourceID", "/SUBSCRIPTIONS/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"); len(got) != 1 {
		t.Errorf("resource id search = %v", got)
	}
	if got := search("Config - Computer", "FriendlyName", "vm1"); len(got) != 0 {
		t.Errorf("member search leaked other types: %v", got)
	}
}

func TestMatchOne(t *testing.T) {
	num := &fieldDef{typ: typeNumber}
	dt := &fieldDef{typ: typeDateTime}
	txt := &fieldDef{typ: typeText}
	tests := []struct {
		f              *fieldDef
		have, op, want string
		ok             bool
	}{
		{num, "10", "gt", "9", true},
		{num, "10", "lt", "9", false},
		{num, "", "lt", "9", false},
		{num, "abc", "gt", "1", false},
		{dt, "3/1/2025 10:00:00 AM", "gt", "2/28/2025 11:00:00 PM", true},
		{dt, "3/1/2025 10:00:00 AM", "lt", "2025-03-01T09:00:00Z", false},
		{txt, "beta", "gt", "Alpha", true},
		{txt, "Hello", "eq", " hello ", true},
		{txt, "Hello", "contains", "LL", true},
		{txt, "Hello", "startswith", "el", false},
	}
	for _, tc := range tests {
		if got := matchOne(tc.f, tc.have, tc.op, tc.want); got != tc.ok {
			t.Errorf("matchOne(%s %q %s %q) = %v", tc.f.typ, tc.have, tc.op, tc.want, got)
		}
	}
}
