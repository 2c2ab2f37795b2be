package emulator

import (
	"net/http"
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/cherwell/emulator/contract"
)

func TestFaults(t *testing.T) {
	v := newEnv(t, Options{})
	v.login()
	tests := []struct {
		name       string
		fault      Fault
		path       string
		wantStatus []int // per successive call
		retryAfter string
	}{
		{"count", Fault{Status: 503, Count: 2}, "/api/V1/serviceinfo", []int{503, 503, 200}, ""},
		{"retry-after", Fault{Status: 429, Count: 1, RetryAfterSeconds: 7}, "/api/V1/serviceinfo", []int{429, 200}, "7"},
		{"path prefix miss", Fault{Status: 500, Count: 1, PathPrefix: "/CherwellAPI/api/V1/savebusinessobject"}, "/api/V1/serviceinfo", []int{200}, ""},
		{"rate 1", Fault{Status: 502, Rate: 1, Count: 1}, "/api/V1/serviceinfo", []int{502, 200}, ""},
		{"latency only", Fault{LatencyMS: 1, Count: 1}, "/api/V1/serviceinfo", []int{200}, ""},
		{"200 with hasError body", Fault{Status: 200, Count: 1, Body: `{"hasError":true,"errorCode":"GENERALFAILURE","errorMessage":"boom"}`}, "/api/V1/serviceinfo", []int{200}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v.e.ClearFaults()
			v.e.InjectFault(tc.fault)
			for i, want := range tc.wantStatus {
				req, _ := http.NewRequest("GET", v.srv.URL+BasePath+tc.path, nil)
				req.Header.Set("Authorization", "Bearer "+v.tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Errorf("call %d: status %d, want %d", i, resp.StatusCode, want)
				}
				if i == 0 && resp.Header.Get("Retry-After") != tc.retryAfter {
					t.Errorf("Retry-After = %q, want %q", resp.Header.Get("Retry-After"), tc.retryAfter)
				}
			}
		})
	}
	v.e.ClearFaults()
}

func TestControlSurface(t *testing.T) {
	v := newEnv(t, Options{})
	v.login()
	v.createIncident("x", "key-a")
	v.createIncident("y", "key-a")
	v.createIncident("z", "key-b")

	var tk struct {
		Count   int      `json:"count"`
		Tickets []Ticket `json:"tickets"`
	}
	if st := v.ctl("GET", "/tickets?correlation=key-a", nil, &tk); st != 200 || tk.Count != 2 || tk.Tickets[0].ShortDescription != "x" {
		t.Errorf("tickets: %d %+v", st, tk)
	}

	// Faults through HTTP, with validation.
	if st := v.ctl("POST", "/faults", map[string]any{"status": 503, "count": 1, "retry_after_seconds": 3}, nil); st != 204 {
		t.Errorf("post fault: %d", st)
	}
	if st := v.call("GET", "/api/V1/serviceinfo", nil, nil); st != 503 {
		t.Errorf("fault not applied: %d", st)
	}
	for _, bad := range []map[string]any{{"status": 42}, {"status": 500, "rate": 2}, {}, {"status": 200, "body": "{"}} {
		if st := v.ctl("POST", "/faults", bad, nil); st != 400 {
			t.Errorf("bad fault %v accepted: %d", bad, st)
		}
	}
	v.ctl("POST", "/faults", map[string]any{"status": 500}, nil)
	if st := v.ctl("DELETE", "/faults", nil, nil); st != 204 {
		t.Errorf("delete faults: %d", st)
	}
	if st := v.call("GET", "/api/V1/serviceinfo", nil, nil); st != 200 {
		t.Errorf("after clearing faults: %d", st)
	}

	// Seed.
	var seeded struct {
		ConfigItems []SeededCI `json:"config_items"`
	}
	if st := v.ctl("POST", "/seed", map[string]any{"config_items": []map[string]any{{"type": "Config - Server", "name": "vm9", "resource_id": "/subscriptions/x/vm9"}}}, &seeded); st != 200 || len(seeded.ConfigItems) != 1 || seeded.ConfigItems[0].RecID == "" {
		t.Errorf("seed: %d %+v", st, seeded)
	}
	if st := v.ctl("POST", "/seed", map[string]any{"config_items": []map[string]any{{"type": "Incident", "name": "no"}}}, nil); st != 400 {
		t.Errorf("seed non-CI: %d", st)
	}
	if v.e.ConfigItems()[seeded.ConfigItems[0].RecID] != "vm9" {
		t.Errorf("ConfigItems = %v", v.e.ConfigItems())
	}

	// Calls: recorded with status, token secrets redacted.
	var calls struct {
		Calls []Call `json:"calls"`
	}
	v.ctl("GET", "/calls", nil, &calls)
	if len(calls.Calls) == 0 || !strings.HasSuffix(calls.Calls[0].Path, "/token") {
		t.Fatalf("calls = %+v", calls.Calls)
	}
	if strings.Contains(calls.Calls[0].Body, "password=sandbox") || !strings.Contains(calls.Calls[0].Body, "password=REDACTED") {
		t.Errorf("token body not redacted: %q", calls.Calls[0].Body)
	}
	var saw503 bool
	for _, c := range calls.Calls {
		saw503 = saw503 || c.Status == 503
	}
	if !saw503 {
		t.Error("faulted call not logged with its status")
	}

	var ids map[string]any
	if st := v.ctl("GET", "/ids", nil, &ids); st != 200 || ids["relationships"] == nil {
		t.Errorf("ids: %d", st)
	}

	if st := v.ctl("POST", "/reset", nil, nil); st != 204 {
		t.Errorf("reset: %d", st)
	}
	if v.e.CountTickets("") != 0 || len(v.e.Calls()) != 0 || v.e.TokenCount() != 0 || len(v.e.ConfigItems()) != 0 {
		t.Error("reset left state behind")
	}
}

func TestCallLogIsBounded(t *testing.T) {
	v := rawEnv(t, Options{MaxCalls: 3})
	for range 5 {
		v.callTok("", "GET", "/api/V1/serviceinfo", nil, nil)
	}
	if n := len(v.e.Calls()); n != 3 {
		t.Errorf("calls = %d, want 3", n)
	}
}

// TestContractCoverage runs one pass over every operation the emulator
// implements through a fresh validator and checks each was validated.
func TestContractCoverage(t *testing.T) {
	val, err := contract.Load(specPath)
	if err != nil {
		t.Fatal(err)
	}
	e := New(Options{})
	srv := newEnvWith(t, e, val)
	srv.login()
	incID := e.BusObID("Incident")
	srv.call("GET", "/api/V1/serviceinfo", nil, nil)
	srv.call("GET", "/api/V1/getbusinessobjectsummary/busobname/Incident", nil, nil)
	srv.call("GET", "/api/V1/getbusinessobjectsummary/busobid/"+incID, nil, nil)
	srv.call("GET", "/api/V1/getbusinessobjectsummaries/type/All", nil, nil)
	srv.call("GET", "/api/V1/getbusinessobjectschema/busobid/"+incID+"?includerelationships=true", nil, nil)
	srv.call("POST", "/api/V1/getbusinessobjecttemplate", map[string]any{"busObId": incID, "includeAll": true}, nil)
	rec, pub := srv.createIncident("x", "k")
	srv.call("GET", "/api/V1/getbusinessobject/busobid/"+incID+"/busobrecid/"+rec, nil, nil)
	srv.call("GET", "/api/V1/getbusinessobject/busobid/"+incID+"/publicid/"+pub, nil, nil)
	srv.call("POST", "/api/V1/getsearchresults", map[string]any{"busObId": incID}, nil)
	jrel := e.RelationshipID(JournalRelationship)
	srv.call("POST", "/api/V1/saverelatedbusinessobject", map[string]any{"parentBusObId": incID, "parentBusObRecId": rec, "relationshipId": jrel,
		"busObId": e.BusObID("Journal - Note"), "fields": []map[string]any{srv.field("Journal - Note", "Details", "n")}}, nil)
	srv.call("GET", "/api/V1/getrelatedbusinessobject/parentbusobid/"+incID+"/parentbusobrecid/"+rec+"/relationshipid/"+jrel, nil, nil)
	srv.call("POST", "/api/V1/getrelatedbusinessobject", map[string]any{"parentBusObId": incID, "parentBusObRecId": rec, "relationshipId": jrel}, nil)
	ci, _ := e.SeedConfigItem(SeedCI{Type: "Config - Server", Name: "vm"})
	crel := e.RelationshipID(CIRelationship)
	tail := "/parentbusobid/" + incID + "/parentbusobrecid/" + rec + "/relationshipid/" + crel + "/busobid/" + ci.BusObID + "/busobrecid/" + ci.RecID
	srv.call("GET", "/api/V1/linkrelatedbusinessobject"+tail, nil, nil)
	srv.call("DELETE", "/api/V1/unlinkrelatedbusinessobject"+tail, nil, nil)
	srv.call("DELETE", "/api/V1/logout", nil, nil)

	if err := val.Require(
		"Service_Token", "service_get_service_info_v1", "service_logout_user_v1",
		"business_object_get_business_object_summary_by_name_v1", "business_object_get_business_object_summary_by_id_v1",
		"business_object_get_business_object_summaries_v1", "business_object_get_business_object_schema_v1",
		"business_object_get_business_object_template_v1", "business_object_save_business_object_v1",
		"business_object_get_business_object_by_rec_id_v1", "business_object_get_business_object_by_public_id_v1",
		"searches_get_search_results_ad_hoc_v1", "business_object_save_related_business_object_v1",
		"business_object_get_related_business_object_v1", "business_object_get_related_business_object_by_request_v1",
		"business_object_link_related_business_object_by_rec_id_v1", "business_object_un_link_related_business_object_by_rec_id_v1",
	); err != nil {
		t.Error(err)
	}
}

// TestContractRejectsViolations proves the validator is not a rubber stamp.
func TestContractRejectsViolations(t *testing.T) {
	val := validator(t)
	mk := func(method, path, ctype, auth string) *http.Request {
		r, _ := http.NewRequest(method, path, nil)
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		return r
	}
	hdr := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name     string
		req      *http.Request
		reqBody  string
		status   int
		respBody string
	}{
		{"unknown path", mk("GET", "/CherwellAPI/api/V1/nope", "", "Bearer x"), "", 200, `{}`},
		{"missing bearer", mk("GET", "/CherwellAPI/api/V1/serviceinfo", "", ""), "", 200, `{}`},
		{"wrong response type", mk("GET", "/CherwellAPI/api/V1/getbusinessobjectsummary/busobname/Incident", "", "Bearer x"), "", 200, `{"busObId":"x"}`},
		{"wrong property type", mk("POST", "/CherwellAPI/api/V1/savebusinessobject", "application/json", "Bearer x"), `{"busObId":"x"}`, 200, `{"hasError":"no"}`},
		{"bad request body", mk("POST", "/CherwellAPI/api/V1/savebusinessobject", "application/json", "Bearer x"), `{"fields":"x"}`, 200, `{}`},
		{"error DTO under 400 still checked", mk("POST", "/CherwellAPI/api/V1/savebusinessobject", "application/json", "Bearer x"), `{}`, 400, `{"hasError":true,"errorCode":5}`},
		{"token grant outside enum", mk("POST", "/CherwellAPI/token", "application/x-www-form-urlencoded", ""), "grant_type=x&client_id=y", 200, `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := val.Exchange(tc.req, []byte(tc.reqBody), tc.status, hdr, []byte(tc.respBody)); err == nil {
				t.Error("violation accepted")
			}
		})
	}
}
