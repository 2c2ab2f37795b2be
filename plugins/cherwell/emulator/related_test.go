package emulator

import (
	"strings"
	"testing"
)

func TestJournalNotes(t *testing.T) {
	v := newEnv(t, Options{})
	v.login()
	incID := v.e.BusObID("Incident")
	rel := v.e.RelationshipID(JournalRelationship)
	rec, pub := v.createIncident("x", "k")

	// A note saved on the member business object, parent by rec id.
	var rs relatedSaveResponse
	st := v.call("POST", "/api/V1/saverelatedbusinessobject", map[string]any{
		"parentBusObId": incID, "parentBusObRecId": rec, "relationshipId": rel, "busObId": v.e.BusObID("Journal - Note"), "persist": true,
		"fields": []map[string]any{v.field("Journal - Note", "Details", "first note")}}, &rs)
	if st != 200 || rs.HasError || rs.BusObRecID == "" || rs.ParentBusObPublicID != pub || rs.RelationshipID != rel {
		t.Fatalf("save related: %d %+v", st, rs)
	}
	// Opsgenie-style: the group business object plus JournalTypeID, parent by public id.
	rs = relatedSaveResponse{}
	v.call("POST", "/api/V1/saverelatedbusinessobject", map[string]any{
		"parentBusObId": incID, "parentBusObPublicId": pub, "relationshipId": rel, "busObId": v.e.BusObID("Journal"), "persist": true,
		"fields": []map[string]any{v.field("Journal", "Details", "second note"), v.field("Journal", "JournalTypeID", v.e.BusObID("Journal - Note"))}}, &rs)
	if rs.HasError {
		t.Fatalf("save related via group: %+v", rs)
	}
	// Validation still applies.
	rs = relatedSaveResponse{}
	v.call("POST", "/api/V1/saverelatedbusinessobject", map[string]any{
		"parentBusObId": incID, "parentBusObRecId": rec, "relationshipId": rel, "busObId": v.e.BusObID("Journal - Note"),
		"fields": []map[string]any{}}, &rs)
	if !rs.HasError || len(rs.FieldValidationErrors) != 1 {
		t.Errorf("empty note: %+v", rs)
	}

	var rr relatedResponse
	v.call("GET", "/api/V1/getrelatedbusinessobject/parentbusobid/"+incID+"/parentbusobrecid/"+rec+"/relationshipid/"+rel+"?allfields=true", nil, &rr)
	var details []string
	for _, bo := range rr.RelatedBusinessObjects {
		details = append(details, fieldValue(bo, "Details")+"/"+fieldValue(bo, "JournalTypeName")+"/"+fieldValue(bo, "ParentRecID"))
	}
	want := "first note/Journal - Note/" + rec + ",second note/Journal - Note/" + rec
	if strings.Join(details, ",") != want || rr.TotalRecords != 2 {
		t.Errorf("related = %v (total %d)", details, rr.TotalRecords)
	}
	rr = relatedResponse{}
	v.call("POST", "/api/V1/getrelatedbusinessobject", map[string]any{"parentBusObId": incID, "parentBusObRecId": rec, "relationshipId": rel,
		"pageNumber": 2, "pageSize": 1, "allFields": true}, &rr)
	if len(rr.RelatedBusinessObjects) != 1 || fieldValue(rr.RelatedBusinessObjects[0], "Details") != "second note" {
		t.Errorf("related page 2: %+v", rr)
	}
	if got := v.e.Tickets("k"); len(got) != 1 || strings.Join(got[0].Journals, "|") != "first note|second note" {
		t.Errorf("Tickets journals = %+v", got)
	}

	// Unknown relationship and parent.
	rs = relatedSaveResponse{}
	if st := v.call("POST", "/api/V1/saverelatedbusinessobject", map[string]any{"parentBusObId": incID, "parentBusObRecId": rec,
		"relationshipId": "nope", "busObId": v.e.BusObID("Journal - Note")}, &rs); st != 400 || rs.ErrorCode != codeRelNotFound {
		t.Errorf("unknown relationship: %d %+v", st, rs)
	}
	rs = relatedSaveResponse{}
	if st := v.call("POST", "/api/V1/saverelatedbusinessobject", map[string]any{"parentBusObId": incID, "parentBusObRecId": strings.Repeat("c", 42),
		"relationshipId": rel, "busObId": v.e.BusObID("Journal - Note")}, &rs); st != 404 || rs.ErrorCode != codeRecNotFound {
		t.Errorf("unknown parent: %d %+v", st, rs)
	}
	// A CI type is not a journal.
	rs = relatedSaveResponse{}
	if st := v.call("POST", "/api/V1/saverelatedbusinessobject", map[string]any{"parentBusObId": incID, "parentBusObRecId": rec,
		"relationshipId": rel, "busObId": v.e.BusObID("Config - Server")}, &rs); st != 400 || !rs.HasError {
		t.Errorf("wrong target: %d %+v", st, rs)
	}
}

func TestLinkUnlinkConfigItem(t *testing.T) {
	v := newEnv(t, Options{})
	v.login()
	incID := v.e.BusObID("Incident")
	srvID := v.e.BusObID("Config - Server")
	rel := v.e.RelationshipID(CIRelationship)
	rec, _ := v.createIncident("x", "k")
	ci, err := v.e.SeedConfigItem(SeedCI{Type: "Config - Server", Name: "vm1"})
	if err != nil {
		t.Fatal(err)
	}
	path := func(op, busOb, ciRec string) string {
		return "/api/V1/" + op + "/parentbusobid/" + incID + "/parentbusobrecid/" + rec + "/relationshipid/" + rel + "/busobid/" + busOb + "/busobrecid/" + ciRec
	}
	var rr relatedResponse
	if st := v.call("GET", path("linkrelatedbusinessobject", srvID, ci.RecID), nil, &rr); st != 200 || rr.HasError || rr.TotalRecords != 1 {
		t.Fatalf("link: %d %+v", st, rr)
	}
	// Linking twice keeps one link.
	rr = relatedResponse{}
	v.call("GET", path("linkrelatedbusinessobject", srvID, ci.RecID), nil, &rr)
	if rr.TotalRecords != 1 {
		t.Errorf("second link: %+v", rr)
	}
	if got := v.e.Tickets("k")[0].LinkedCIs; len(got) != 1 || got[0] != ci.RecID {
		t.Errorf("LinkedCIs = %v", got)
	}
	rr = relatedResponse{}
	v.call("GET", "/api/V1/getrelatedbusinessobject/parentbusobid/"+incID+"/parentbusobrecid/"+rec+"/relationshipid/"+rel, nil, &rr)
	if len(rr.RelatedBusinessObjects) != 1 || rr.RelatedBusinessObjects[0].BusObRecID != ci.RecID || rr.RelatedBusinessObjects[0].BusObID != srvID {
		t.Errorf("related CIs = %+v", rr.RelatedBusinessObjects)
	}

	// Wrong business object for the CI record, missing CI, wrong target type.
	rr = relatedResponse{}
	if st := v.call("GET", path("linkrelatedbusinessobject", v.e.BusObID("Config - Computer"), ci.RecID), nil, &rr); st != 404 || rr.ErrorCode != codeRecNotFound {
		t.Errorf("wrong CI type: %d %+v", st, rr)
	}
	rr = relatedResponse{}
	if st := v.call("GET", path("linkrelatedbusinessobject", v.e.BusObID("Journal - Note"), ci.RecID), nil, &rr); st != 400 || !rr.HasError {
		t.Errorf("non-CI target: %d %+v", st, rr)
	}

	rr = relatedResponse{}
	if st := v.call("DELETE", path("unlinkrelatedbusinessobject", srvID, ci.RecID), nil, &rr); st != 200 || rr.HasError || rr.TotalRecords != 0 {
		t.Errorf("unlink: %d %+v", st, rr)
	}
	if got := v.e.Tickets("k")[0].LinkedCIs; len(got) != 0 {
		t.Errorf("LinkedCIs after unlink = %v", got)
	}
}
