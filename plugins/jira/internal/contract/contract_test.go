package contract

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The descriptions live with the emulator that these checks serve.
var files = JiraSpecs("../../emulator/testdata")

// TestMiddlewareCatchesViolations proves the validator is not vacuous: a
// handler that answers wrongly is reported, one that answers rightly is not.
func TestMiddlewareCatchesViolations(t *testing.T) {
	v, err := Load(files...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("load time %v", v.LoadTime)
	type answer struct {
		status int
		body   string
	}
	tests := []struct {
		name    string
		method  string
		path    string
		auth    string
		reqBody string
		answer  answer
		wantErr string // substring of the violation; "" = valid
		skipped bool
	}{
		{name: "valid create", method: "POST", path: "/rest/api/3/issue", auth: "Basic eDp5", reqBody: `{"fields":{"summary":"s"}}`,
			answer: answer{201, `{"id":"1","key":"OPS-1","self":"http://x/rest/api/3/issue/1"}`}},
		{name: "create answer with a number id", method: "POST", path: "/rest/api/3/issue", auth: "Basic eDp5", reqBody: `{"fields":{}}`,
			answer: answer{201, `{"id":1,"key":"OPS-1"}`}, wantErr: "response 201"},
		{name: "create answer with an extra property", method: "POST", path: "/rest/api/3/issue", auth: "Basic eDp5", reqBody: `{"fields":{}}`,
			answer: answer{201, `{"id":"1","key":"OPS-1","bogus":true}`}, wantErr: "response 201"},
		{name: "search request with an unknown property", method: "POST", path: "/rest/api/3/search/jql", auth: "Basic eDp5", reqBody: `{"jql":"x","startAt":0}`,
			answer: answer{200, `{"issues":[],"isLast":true}`}, wantErr: "request POST"},
		{name: "search with a null token", method: "POST", path: "/rest/api/3/search/jql", auth: "Basic eDp5", reqBody: `{"jql":"x"}`,
			answer: answer{200, `{"issues":[],"isLast":true,"nextPageToken":null}`}, wantErr: "response 200"},
		{name: "undocumented 429 with a foreign error body", method: "GET", path: "/rest/api/3/myself", auth: "Basic eDp5",
			answer: answer{429, `{"error":"slow down"}`}, wantErr: "error body"},
		{name: "undocumented 429 with an ErrorCollection", method: "GET", path: "/rest/api/3/myself", auth: "Basic eDp5",
			answer: answer{429, `{"errorMessages":["Rate limit exceeded."],"errors":{}}`}},
		{name: "JSM error in platform shape", method: "GET", path: "/rest/servicedeskapi/request/OPS-1", auth: "Basic eDp5",
			answer: answer{404, `{"errorMessages":["nope"],"errors":{}}`}, wantErr: "response 404"},
		{name: "JSM error", method: "GET", path: "/rest/servicedeskapi/request/OPS-1", auth: "Basic eDp5",
			answer: answer{404, `{"errorMessage":"nope","i18nErrorMessage":{"i18nKey":"k","parameters":[]}}`}},
		{name: "JSM without credentials", method: "GET", path: "/rest/servicedeskapi/servicedesk",
			answer: answer{401, `{"errorMessage":"auth","i18nErrorMessage":{"i18nKey":"k","parameters":[]}}`}, wantErr: "security requirements failed"},
		{name: "unknown operation", method: "GET", path: "/rest/api/3/made-up", auth: "Basic eDp5",
			answer: answer{200, `{}`}, wantErr: "not an operation"},
		{name: "204 without a body", method: "POST", path: "/rest/api/3/issue/OPS-1/transitions", auth: "Basic eDp5", reqBody: `{"transition":{"id":"1"}}`,
			answer: answer{204, ``}},
		{name: "Assets is skipped", method: "POST", path: "/jsm/assets/workspace/w/v1/object/aql", auth: "Basic eDp5", reqBody: `{}`,
			answer: answer{200, `{"anything":1}`}, skipped: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &Recorder{}
			h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.answer.status)
				_, _ = io.WriteString(w, tt.answer.body)
			}), rec)
			srv := httptest.NewServer(h)
			defer srv.Close()
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.reqBody))
			if tt.reqBody != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.answer.status {
				t.Fatalf("middleware changed the status to %d", resp.StatusCode)
			}
			xs := rec.Exchanges()
			if len(xs) != 1 {
				t.Fatalf("%d exchanges recorded", len(xs))
			}
			x := xs[0]
			switch {
			case tt.skipped:
				if x.Skipped == "" || x.Err != nil {
					t.Errorf("exchange %+v, want skipped", x)
				}
			case tt.wantErr == "" && x.Err != nil:
				t.Errorf("unexpected violation: %v", x.Err)
			case tt.wantErr != "" && (x.Err == nil || !strings.Contains(x.Err.Error(), tt.wantErr)):
				t.Errorf("violation = %v, want %q", x.Err, tt.wantErr)
			}
		})
	}
}

func TestPrune(t *testing.T) {
	raw := []byte(`{"openapi":"3.0.1","info":{"title":"t","version":"1"},
	"paths":{"/a":{"get":{"responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"$ref":"#/components/schemas/A"}}}}}}},
	         "/b":{"get":{"responses":{"200":{"description":"ok","content":{"application/json":{"schema":{"$ref":"#/components/schemas/B"}}}}}}}},
	"components":{"schemas":{"A":{"type":"object","properties":{"c":{"$ref":"#/components/schemas/C"}}},"B":{"type":"string"},"C":{"type":"integer"}},
	"securitySchemes":{"basicAuth":{"type":"http","scheme":"basic"}}}}`)
	out, err := prune(raw, []string{"/a"})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]any
		Components map[string]map[string]any
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Paths) != 1 || doc.Components["schemas"]["A"] == nil || doc.Components["schemas"]["C"] == nil ||
		doc.Components["schemas"]["B"] != nil || doc.Components["securitySchemes"]["basicAuth"] == nil {
		t.Fatalf("pruned %s", out)
	}
	if _, err := prune(raw, []string{"/missing"}); err == nil {
		t.Error("a missing path must be an error")
	}
}
