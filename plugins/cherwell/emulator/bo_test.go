package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

var hex42 = regexp.MustCompile(`^[0-9a-f]{42}$`)

func TestDiscovery(t *testing.T) {
	v := newEnv(t, Options{})
	v.login()

	var sums []summary
	if st := v.call("GET", "/api/V1/getbusinessobjectsummary/busobname/Incident", nil, &sums); st != 200 || len(sums) != 1 {
		t.Fatalf("summary Incident: %d %+v", st, sums)
	}
	inc := sums[0]
	if !hex42.MatchString(inc.BusObID) || !hex42.MatchString(inc.StateFieldID) {
		t.Errorf("ids not 42-hex: %+v", inc)
	}
	if inc.States != "New,Assigned,In Progress,Pending,Resolved,Closed,Reopened" {
		t.Errorf("states = %q", inc.States)
	}

	// Unknown names and display names give an empty array.
	for _, name := range []string{"NoSuchThing", "Config - Server"} {
		sums = nil
		if st := v.call("GET", "/api/V1/getbusinessobjectsummary/busobname/"+url.PathEscape(name), nil, &sums); st != 200 || len(sums) != 0 {
			t.Errorf("summary %q: %d %+v, want 200 []", name, st, sums)
		}
	}

	// Groups list their members.
	sums = nil
	v.call("GET", "/api/V1/getbusinessobjectsummary/busobname/Journal", nil, &sums)
	if len(sums) != 1 || !sums[0].Group || len(sums[0].GroupSummaries) == 0 || sums[0].GroupSummaries[0].DisplayName != "Journal - Note" {
		t.Errorf("Journal summary: %+v", sums)
	}
	sums = nil
	v.call("GET", "/api/V1/getbusinessobjectsummaries/type/All", nil, &sums)
	var members []string
	for _, s := range sums {
		if s.Name == "ConfigItem" {
			for _, m := range s.GroupSummaries {
				members = append(members, m.DisplayName)
			}
		}
	}
	if strings.Join(members, "|") != "Config - Server|Config - Computer|Config - Network Device|Config - Cloud Resource" {
		t.Errorf("ConfigItem members = %v", members)
	}
	sums = nil
	v.call("GET", "/api/V1/getbusinessobjectsummary/busobid/"+inc.BusObID, nil, &sums)
	if len(sums) != 1 || sums[0].Name != "Incident" {
		t.Errorf("summary by id: %+v", sums)
	}

	// Schema, with and without relationships.
	var sch schemaResponse
	v.call("GET", "/api/V1/getbusinessobjectschema/busobid/"+inc.BusObID+"?includerelationships=true", nil, &sch)
	rels := map[string]string{}
	for _, r := range sch.Relationships {
		rels[r.DisplayName] = r.Target
		if !hex42.MatchString(r.RelationshipID) {
			t.Errorf("relationship id %q not 42-hex", r.RelationshipID)
		}
	}
	if rels[JournalRelationship] != v.e.BusObID("Journal") || rels[CIRelationship] != v.e.BusObID("ConfigItem") {
		t.Errorf("relationships = %v", rels)
	}
	names := map[string]bool{}
	for _, f := range sch.FieldDefinitions {
		names[f.Name] = true
		if !hex42.MatchString(f.FieldID) {
			t.Errorf("field id %q not 42-hex", f.FieldID)
		}
	}
	for _, n := range []string{"ShortDescription", "Description", "Priority", "Status", "CloseDescription", "ConfigItemRecID", "ConfigItemDisplayName", "CorrelationID"} {
		if !names[n] {
			t.Errorf("Incident schema lacks %s", n)
		}
	}
	sch = schemaResponse{}
	v.call("GET", "/api/V1/getbusinessobjectschema/busobid/"+inc.BusObID, nil, &sch)
	if len(sch.Relationships) != 0 {
		t.Errorf("relationships without includerelationships: %d", len(sch.Relationships))
	}
	sch = schemaResponse{}
	if st := v.call("GET", "/api/V1/getbusinessobjectschema/busobid/"+strings.Repeat("0", 42), nil, &sch); st != 400 || !sch.HasError || sch.ErrorCode != codeBusObNotFound {
		t.Errorf("unknown schema: %d %+v", st, sch)
	}

	// The CI members carry the Azure resource id attribute.
	sch = schemaResponse{}
	v.call("GET", "/api/V1/getbusinessobjectschema/busobid/"+v.e.BusObID("Config - Server"), nil, &sch)
	found := false
	for _, f := range sch.FieldDefinitions {
		found = found || f.Name == ResourceIDField
	}
	if !found {
		t.Error("Config - Server lacks AzureResourceID")
	}

	// Template: required fields carry defaults.
	var tpl templateResponse
	v.call("POST", "/api/V1/getbusinessobjecttemplate", map[string]any{"busObId": inc.BusObID, "includeRequired": true}, &tpl)
	got := map[string]string{}
	for _, f := range tpl.Fields {
		got[f.Name] = f.Value
	}
	if len(got) != 4 || got["Priority"] != "3" || got["Status"] != "New" {
		t.Errorf("template required = %v", got)
	}
	tpl = templateResponse{}
	v.call("POST", "/api/V1/getbusinessobjecttemplate", map[string]any{"busObId": inc.BusObID, "fieldNames": []string{"CloseDescription"}}, &tpl)
	if len(tpl.Fields) != 1 || tpl.Fields[0].Name != "CloseDescription" {
		t.Errorf("template by name = %+v", tpl.Fields)
	}
}

func TestSaveCreateAndUpdate(t *testing.T) {
	v := newEnv(t, Options{})
	v.login()
	incID := v.e.BusObID("Incident")

	rec1, pub1 := v.createIncident("disk full", "key-1")
	_, pub2 := v.createIncident("cpu high", "key-2")
	if !hex42.MatchString(rec1) || pub1 != "101001" || pub2 != "101002" {
		t.Fatalf("ids: rec %q pub %q %q", rec1, pub1, pub2)
	}

	var rd readResponse
	if st := v.call("GET", "/api/V1/getbusinessobject/busobid/"+incID+"/busobrecid/"+rec1, nil, &rd); st != 200 || rd.HasError {
		t.Fatalf("get by rec id: %d %+v", st, rd)
	}
	if fieldValue(rd, "ShortDescription") != "disk full" || fieldValue(rd, "Status") != "New" || fieldValue(rd, "Priority") != "3" ||
		fieldValue(rd, "IncidentID") != pub1 || fieldValue(rd, "RecID") != rec1 || fieldValue(rd, "CreatedDateTime") == "" {
		t.Errorf("record = %+v", rd.Fields)
	}

	// Update by public id: only dirty fields are written.
	notDirty := v.field("Incident", "Description", "should not be written")
	notDirty["dirty"] = false
	var sv saveResponse
	st := v.call("POST", "/api/V1/savebusinessobject", map[string]any{"busObId": incID, "busObPublicId": pub1, "persist": true,
		"fields": []map[string]any{v.field("Incident", "Priority", "1"), notDirty}}, &sv)
	if st != 200 || sv.HasError || sv.BusObRecID != rec1 {
		t.Fatalf("update: %d %+v", st, sv)
	}
	rd = readResponse{}
	v.call("GET", "/api/V1/getbusinessobject/busobid/"+incID+"/publicid/"+pub1, nil, &rd)
	if fieldValue(rd, "Priority") != "1" || fieldValue(rd, "Description") != "desc of disk full" {
		t.Errorf("after update: Priority %q Description %q", fieldValue(rd, "Priority"), fieldValue(rd, "Description"))
	}

	// Resolve needs a close description.
	sv = saveResponse{}
	st = v.call("POST", "/api/V1/savebusinessobject", map[string]any{"busObId": incID, "busObRecId": rec1,
		"fields": []map[string]any{v.field("Incident", "Status", "Resolved")}}, &sv)
	if st != 200 || !sv.HasError || len(sv.FieldValidationErrors) != 1 || sv.FieldValidationErrors[0].FieldID != v.e.FieldID("Incident", "CloseDescription") {
		t.Fatalf("resolve without close description: %d %+v", st, sv)
	}
	sv = saveResponse{}
	v.call("POST", "/api/V1/savebusinessobject", map[string]any{"busObId": incID, "busObRecId": rec1,
		"fields": []map[string]any{v.field("Incident", "Status", "resolved"), v.field("Incident", "CloseDescription", "fixed")}}, &sv)
	if sv.HasError {
		t.Fatalf("resolve: %+v", sv)
	}
	rd = readResponse{}
	v.call("GET", "/api/V1/getbusinessobject/busobid/"+incID+"/busobrecid/"+rec1, nil, &rd)
	if fieldValue(rd, "Status") != "Resolved" || fieldValue(rd, "ClosedDateTime") == "" {
		t.Errorf("resolved record: Status %q ClosedDateTime %q", fieldValue(rd, "Status"), fieldValue(rd, "ClosedDateTime"))
	}
	sv = saveResponse{}
	v.call("POST", "/api/V1/savebusinessobject", map[string]any{"busObId": incID, "busObRecId": rec1,
		"fields": []map[string]any{v.field("Incident", "Status", "Reopened")}}, &sv)
	rd = readResponse{}
	v.call("GET", "/api/V1/getbusinessobject/busobid/"+incID+"/busobrecid/"+rec1, nil, &rd)
	if sv.HasError || fieldValue(rd, "Status") != "Reopened" || fieldValue(rd, "ClosedDateTime") != "" {
		t.Errorf("reopen: %+v Status %q", sv, fieldValue(rd, "Status"))
	}

	// Missing records.
	rd = readResponse{}
	if st := v.call("GET", "/api/V1/getbusinessobject/busobid/"+incID+"/publicid/999", nil, &rd); st != 404 || rd.ErrorCode != codeRecNotFound {
		t.Errorf("missing public id: %d %+v", st, rd)
	}
	sv = saveResponse{}
	if st := v.call("POST", "/api/V1/savebusinessobject", map[string]any{"busObId": incID, "busObRecId": strings.Repeat("a", 42),
		"fields": []map[string]any{v.field("Incident", "Priority", "2")}}, &sv); st != 200 || sv.ErrorCode != codeRecNotFound {
		t.Errorf("update missing: %d %+v", st, sv)
	}
}

func TestSaveValidation(t *testing.T) {
	v := newEnv(t, Options{})
	v.login()
	incID := v.e.BusObID("Incident")
	f := v.field
	tests := []struct {
		name   string
		fields []map[string]any
		codes  []string
	}{
		{"required missing", []map[string]any{f("Incident", "ShortDescription", "x")}, []string{codeRequired}},
		{"bad priority", []map[string]any{f("Incident", "ShortDescription", "x"), f("Incident", "Description", "d"), f("Incident", "Priority", "9")}, []string{codeInvalid}},
		{"bad status", []map[string]any{f("Incident", "ShortDescription", "x"), f("Incident", "Description", "d"), f("Incident", "Status", "Done")}, []string{codeInvalid}},
		{"read-only", []map[string]any{f("Incident", "ShortDescription", "x"), f("Incident", "Description", "d"), f("Incident", "RecID", "abc")}, []string{codeReadOnly}},
		{"too long", []map[string]any{f("Incident", "ShortDescription", strings.Repeat("x", 251)), f("Incident", "Description", "d")}, []string{codeTooLong, codeRequired}},
		{"unknown field", []map[string]any{f("Incident", "ShortDescription", "x"), f("Incident", "Description", "d"), {"fieldId": strings.Repeat("b", 42), "value": "v", "dirty": true}}, []string{codeFieldNotFound}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var sv saveResponse
			st := v.call("POST", "/api/V1/savebusinessobject", map[string]any{"busObId": incID, "fields": tc.fields, "persist": true}, &sv)
			if st != 200 || !sv.HasError || sv.ErrorCode != codeValidation || sv.BusObRecID != "" {
				t.Fatalf("got %d %+v", st, sv)
			}
			var codes []string
			for _, fe := range sv.FieldValidationErrors {
				codes = append(codes, fe.ErrorCode)
			}
			if strings.Join(codes, ",") != strings.Join(tc.codes, ",") {
				t.Errorf("codes = %v, want %v", codes, tc.codes)
			}
		})
	}
	if n := v.e.CountTickets(""); n != 0 {
		t.Errorf("failed saves stored %d incidents", n)
	}

	// ValidationStatus moves validation failures off HTTP 200.
	v2 := newEnv(t, Options{ValidationStatus: http.StatusBadRequest})
	v2.login()
	var sv saveResponse
	if st := v2.call("POST", "/api/V1/savebusinessobject", map[string]any{"busObId": incID, "fields": []map[string]any{}}, &sv); st != 400 || !sv.HasError {
		t.Errorf("ValidationStatus 400: %d %+v", st, sv)
	}

	// Long-form field ids are accepted; persist=false stores nothing.
	long := "BO:" + incID + ",FI:" + v.e.FieldID("Incident", "ShortDescription")
	sv = saveResponse{}
	v.call("POST", "/api/V1/savebusinessobject", map[string]any{"busObId": incID, "persist": false, "fields": []map[string]any{
		{"fieldId": long, "value": "x", "dirty": true}, f("Incident", "Description", "d")}}, &sv)
	if sv.HasError || sv.CacheKey == "" || v.e.CountTickets("") != 0 {
		t.Errorf("persist=false: %+v, %d tickets", sv, v.e.CountTickets(""))
	}
}

func TestSaveUnknownObjectAndBadJSON(t *testing.T) {
	v := newEnv(t, Options{})
	v.login()
	var sv saveResponse
	if st := v.call("POST", "/api/V1/savebusinessobject", map[string]any{"busObId": "nope"}, &sv); st != 400 || sv.ErrorCode != codeBusObNotFound {
		t.Errorf("unknown busObId: %d %+v", st, sv)
	}
	// A group holds no records of its own.
	sv = saveResponse{}
	v.call("POST", "/api/V1/savebusinessobject", map[string]any{"busObId": v.e.BusObID("ConfigItem"),
		"fields": []map[string]any{v.field("ConfigItem", "FriendlyName", "x")}}, &sv)
	if !sv.HasError {
		t.Errorf("save on group: %+v", sv)
	}

	raw := rawEnv(t, Options{})
	tok, _ := raw.login()
	req, _ := http.NewRequest("POST", raw.srv.URL+BasePath+"/api/V1/savebusinessobject", strings.NewReader("{not json"))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("bad JSON: %d", resp.StatusCode)
	}
	var msg apiMessage
	if st := raw.call("GET", "/api/V1/nosuchthing", nil, &msg); st != 404 || !strings.Contains(msg.Message, "No HTTP resource") {
		t.Errorf("unknown route: %d %+v", st, msg)
	}
}

func TestConcurrentCreatesGetUniqueNumbers(t *testing.T) {
	v := newEnv(t, Options{})
	v.login()
	const n = 24
	var wg sync.WaitGroup
	pubs := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, pubs[i] = v.createIncident(fmt.Sprintf("t%d", i), fmt.Sprintf("k%d", i))
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, p := range pubs {
		if seen[p] {
			t.Fatalf("duplicate public id %s", p)
		}
		seen[p] = true
	}
	if v.e.CountTickets("") != n {
		t.Errorf("CountTickets = %d", v.e.CountTickets(""))
	}
}
