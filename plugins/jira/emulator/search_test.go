package emulator_test

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/plugins/jira/emulator"
)

type searchResp struct {
	Issues []struct {
		ID     string
		Key    string
		Fields map[string]json.RawMessage
	}
	NextPageToken string
	IsLast        bool
}

func (e *env) searchKeys(jql string) []string {
	e.t.Helper()
	var r searchResp
	e.must(200, "POST", "/rest/api/3/search/jql", map[string]any{"jql": jql, "maxResults": 100}, &r)
	var keys []string
	for _, is := range r.Issues {
		keys = append(keys, is.Key)
	}
	return keys
}

func TestSearchJQL(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	// OPS-1: labels a,b; correlation field; property; open.
	e.createIssue("disk full on vm-1", map[string]any{"labels": []string{"a", "b"}, emulator.SeedCorrelationField: "k-1"})
	e.must(201, "PUT", "/rest/api/3/issue/OPS-1/properties/itsmbridge", map[string]any{"ticketKey": "k-1", "n": 3, "tags": []string{"x", "y"}}, nil)
	// OPS-2: no labels, resolved as Won't Do.
	e.createIssue("cpu high", map[string]any{"priority": map[string]any{"name": "High"}, emulator.SeedImpactField: map[string]any{"value": "Minor / Localized"}})
	e.must(204, "POST", "/rest/api/3/issue/OPS-2/transitions", map[string]any{"transition": map[string]any{"id": "761"}, "fields": map[string]any{"resolution": map[string]any{"name": "Won't Do"}}}, nil)
	// OPS-3: label c, work in progress.
	e.createIssue("memory", map[string]any{"labels": []string{"c"}})
	e.must(204, "POST", "/rest/api/3/issue/OPS-3/transitions", map[string]any{"transition": map[string]any{"id": "911"}}, nil)
	// DEV-1.
	e.must(201, "POST", "/rest/api/3/issue", map[string]any{"fields": map[string]any{"project": map[string]any{"key": "DEV"}, "issuetype": map[string]any{"name": "Bug"}, "summary": "bug"}}, nil)

	tests := []struct {
		jql  string
		want []string // in order
	}{
		{`project = OPS ORDER BY key ASC`, []string{"OPS-1", "OPS-2", "OPS-3"}},
		{`project = OPS`, []string{"OPS-3", "OPS-2", "OPS-1"}}, // default: newest first
		{`project in (OPS, DEV) order by key desc`, []string{"DEV-1", "OPS-3", "OPS-2", "OPS-1"}},
		{`project = "IT Operations" AND labels = a`, []string{"OPS-1"}},
		{`labels = "A"`, []string{"OPS-1"}},
		{`project = OPS AND labels != a`, []string{"OPS-3"}}, // != skips issues without labels, as in Jira
		{`project = OPS AND labels is EMPTY`, []string{"OPS-2"}},
		{`project = OPS AND (labels is EMPTY OR labels = c) ORDER BY key`, []string{"OPS-2", "OPS-3"}},
		{`project = OPS AND labels in (b, c) ORDER BY key`, []string{"OPS-1", "OPS-3"}},
		{`project = OPS AND labels not in (b)`, []string{"OPS-3"}},
		{`project = OPS AND status = Open`, []string{"OPS-1"}},
		{`project = OPS AND status = "Work in progress"`, []string{"OPS-3"}},
		{`project = OPS AND statusCategory != Done ORDER BY key`, []string{"OPS-1", "OPS-3"}},
		{`project = OPS AND statusCategory = "In Progress"`, []string{"OPS-3"}},
		{`project = OPS AND statusCategory = done`, []string{"OPS-2"}},
		{`project = OPS AND resolution is EMPTY ORDER BY key`, []string{"OPS-1", "OPS-3"}},
		{`project = OPS AND resolution = Unresolved ORDER BY key`, []string{"OPS-1", "OPS-3"}},
		{`project = OPS AND resolution = "Won't Do"`, []string{"OPS-2"}},
		// The Alertmanager #4295 trap: != never matches an empty resolution.
		{`project = OPS AND resolution != "Won't Do"`, nil},
		{`project = OPS AND (resolution is EMPTY OR resolution != "Won't Do") ORDER BY key`, []string{"OPS-1", "OPS-3"}},
		{`project = OPS AND priority = High`, []string{"OPS-2"}},
		{`cf[10050] ~ "k-1"`, []string{"OPS-1"}},
		{`"Alert correlation" ~ "\"k-1\""`, []string{"OPS-1"}},
		{`customfield_10050 is not EMPTY`, []string{"OPS-1"}},
		{`Impact = "Minor / Localized"`, []string{"OPS-2"}},
		{`cf[10004] in (10013)`, []string{"OPS-2"}},
		{`issue.property[itsmbridge].ticketKey = "k-1"`, []string{"OPS-1"}},
		{`issue.property[itsmbridge].n = 3`, []string{"OPS-1"}},
		{`issue.property[itsmbridge].tags = y`, []string{"OPS-1"}},
		{`project = OPS AND issue.property[itsmbridge].ticketKey is EMPTY ORDER BY key`, []string{"OPS-2", "OPS-3"}},
		{`summary ~ "disk"`, []string{"OPS-1"}},
		{`text ~ "k-1"`, []string{"OPS-1"}},
		{`project = OPS AND NOT labels = a ORDER BY key`, []string{"OPS-2", "OPS-3"}},
		{`key = OPS-2`, []string{"OPS-2"}},
		{`issuetype = Bug`, []string{"DEV-1"}},
		{`project = OPS AND created >= -1d AND created < "2999-01-01"`, []string{"OPS-3", "OPS-2", "OPS-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.jql, func(t *testing.T) {
			if got := e.searchKeys(tt.jql); !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}

	bad := []struct{ jql, msg string }{
		{``, "Unbounded JQL"},
		{`order by key`, "Unbounded JQL"},
		{`project = NOPE`, "The value 'NOPE' does not exist for the field 'project'."},
		{`status = Nowhere`, "does not exist for the field 'status'"},
		{`nofield = 1`, "Field 'nofield' does not exist"},
		{`cf[10050] = "k-1"`, "The operator '=' is not supported by the 'cf[10050]' field."},
		{`labels ~ a`, "The operator '~' is not supported"},
		{`"Affected CIs" = x`, "not supported"},
		{`key = OPS-99`, "An issue with key 'OPS-99' does not exist"},
		{`project = OPS ORDER BY bogus`, "Field 'bogus' does not exist"},
		{`created > yesterday`, "Date value 'yesterday'"},
		{`project = OPS AND`, "Error in the JQL Query"},
	}
	for _, b := range bad {
		t.Run("bad "+b.jql, func(t *testing.T) {
			st, body, _ := e.do("POST", "/rest/api/3/search/jql", map[string]any{"jql": b.jql})
			var ec struct{ ErrorMessages []string }
			if st != 400 || json.Unmarshal(body, &ec) != nil || len(ec.ErrorMessages) != 1 || !strings.Contains(ec.ErrorMessages[0], b.msg) {
				t.Errorf("status %d body %s; want 400 with %q", st, body, b.msg)
			}
		})
	}
}

func TestSearchFieldsAndPaging(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	for i := 0; i < 7; i++ {
		e.createIssue("s", map[string]any{"labels": []string{"page"}})
	}
	var r searchResp
	e.must(200, "POST", "/rest/api/3/search/jql", map[string]any{"jql": "labels = page ORDER BY key", "maxResults": 3}, &r)
	if len(r.Issues) != 3 || r.IsLast || r.NextPageToken == "" || r.Issues[0].Fields != nil {
		t.Fatalf("page 1 = %+v (default fields is id only)", r)
	}
	var keys []string
	for {
		for _, is := range r.Issues {
			keys = append(keys, is.Key)
		}
		if r.IsLast {
			break
		}
		tok := r.NextPageToken
		r = searchResp{}
		e.must(200, "POST", "/rest/api/3/search/jql", map[string]any{"jql": "labels = page ORDER BY key", "maxResults": 3, "nextPageToken": tok, "fields": []string{"summary", "status"}}, &r)
		if len(r.Issues) > 0 && (r.Issues[0].Fields["summary"] == nil || r.Issues[0].Fields["labels"] != nil) {
			t.Fatalf("fields = %v, want summary and status only", r.Issues[0].Fields)
		}
	}
	if len(keys) != 7 || keys[6] != "OPS-7" {
		t.Fatalf("paged keys %v", keys)
	}
	e.must(400, "POST", "/rest/api/3/search/jql", map[string]any{"jql": "labels = page", "nextPageToken": "garbage"}, nil)
	e.must(400, "POST", "/rest/api/3/search/jql", map[string]any{"jql": "labels = other", "nextPageToken": r.NextPageToken + "x"}, nil)
	// The removed search API answers 410.
	e.must(410, "POST", "/rest/api/3/search", map[string]any{"jql": "project = OPS"}, nil)
	e.must(410, "GET", "/rest/api/3/search?jql=project%3DOPS", nil, nil)
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestSearchLag(t *testing.T) {
	clk := &clock{t: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}
	e := newEnv(t, emulator.Options{SearchLag: 5 * time.Second, Now: clk.Now})
	var c struct{ ID, Key string }
	e.must(201, "POST", "/rest/api/3/issue", map[string]any{"fields": map[string]any{
		"project": map[string]any{"key": "OPS"}, "issuetype": map[string]any{"name": "Incident"}, "summary": "lagged", "labels": []string{"lag"}}}, &c)
	if got := e.searchKeys("labels = lag"); got != nil {
		t.Fatalf("a new issue is visible to search at once: %v", got)
	}
	// GET by key is read-after-write.
	e.must(200, "GET", "/rest/api/3/issue/"+c.Key, nil, nil)
	// reconcileIssues forces read-after-write for the listed ids.
	var r searchResp
	id := 0
	_ = json.Unmarshal([]byte(c.ID), &id)
	e.must(200, "POST", "/rest/api/3/search/jql", map[string]any{"jql": "labels = lag", "reconcileIssues": []int{id}}, &r)
	if len(r.Issues) != 1 {
		t.Fatalf("reconcileIssues did not surface the new issue: %+v", r)
	}
	clk.Add(4 * time.Second)
	if got := e.searchKeys("labels = lag"); got != nil {
		t.Fatalf("visible before the lag passed: %v", got)
	}
	clk.Add(time.Second)
	if got := e.searchKeys("labels = lag"); !slices.Equal(got, []string{c.Key}) {
		t.Fatalf("after the lag: %v", got)
	}
	// An update lags too: search sees the old version meanwhile.
	e.must(201, "PUT", "/rest/api/3/issue/"+c.Key+"/properties/itsmbridge", map[string]any{"ticketKey": "lag-1"}, nil)
	if got := e.searchKeys(`issue.property[itsmbridge].ticketKey = "lag-1"`); got != nil {
		t.Fatalf("property visible before the lag: %v", got)
	}
	if got := e.searchKeys("labels = lag"); !slices.Equal(got, []string{c.Key}) {
		t.Fatalf("the previous version must stay searchable during the lag: %v", got)
	}
	clk.Add(5 * time.Second)
	if got := e.searchKeys(`issue.property[itsmbridge].ticketKey = "lag-1"`); !slices.Equal(got, []string{c.Key}) {
		t.Fatalf("property after the lag: %v", got)
	}
	// FlushIndex and the control endpoint make everything visible at once.
	e.must(204, "PUT", "/rest/api/3/issue/"+c.Key, map[string]any{"update": map[string]any{"labels": []any{map[string]any{"add": "flushed"}}}}, nil)
	e.emu.FlushIndex()
	if got := e.searchKeys("labels = flushed"); len(got) != 1 {
		t.Fatalf("after FlushIndex: %v", got)
	}
	if keys, err := e.emu.Search("labels = flushed"); err != nil || len(keys) != 1 {
		t.Fatalf("Search() = %v, %v", keys, err)
	}
}

func TestEntityProperties(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	key := e.createIssue("p", nil)
	e.must(404, "GET", "/rest/api/3/issue/"+key+"/properties/x", nil, nil)
	e.must(201, "PUT", "/rest/api/3/issue/"+key+"/properties/x", map[string]any{"a": 1}, nil)
	e.must(200, "PUT", "/rest/api/3/issue/"+key+"/properties/x", map[string]any{"a": 2}, nil)
	var p struct {
		Key   string
		Value map[string]int
	}
	e.must(200, "GET", "/rest/api/3/issue/"+key+"/properties/x", nil, &p)
	if p.Key != "x" || p.Value["a"] != 2 {
		t.Errorf("property %+v", p)
	}
	e.must(204, "DELETE", "/rest/api/3/issue/"+key+"/properties/x", nil, nil)
	e.must(404, "DELETE", "/rest/api/3/issue/"+key+"/properties/x", nil, nil)
	e.must(400, "PUT", "/rest/api/3/issue/"+key+"/properties/big", map[string]any{"v": strings.Repeat("x", 33000)}, nil)
	e.must(404, "PUT", "/rest/api/3/issue/OPS-99/properties/x", map[string]any{"a": 1}, nil)

	// User properties: only on the caller's own record.
	me := "/rest/api/3/user/properties/itsmbridge.k?accountId=" + emulator.DefaultAccountID
	e.must(404, "GET", me, nil, nil)
	e.must(201, "PUT", me, map[string]any{"issueKey": key}, nil)
	e.must(200, "PUT", me, map[string]any{"issueKey": key, "state": "created"}, nil)
	var up struct {
		Key   string
		Value map[string]string
	}
	e.must(200, "GET", me, nil, &up)
	if up.Value["state"] != "created" {
		t.Errorf("user property %+v", up)
	}
	e.must(204, "DELETE", me, nil, nil)
	e.must(404, "GET", me, nil, nil)
	e.must(404, "GET", "/rest/api/3/user/properties/k?accountId=nobody", nil, nil)
	e.must(400, "GET", "/rest/api/3/user/properties/k", nil, nil)
}

func TestConcurrentCreates(t *testing.T) {
	e := newEnv(t, emulator.Options{})
	var wg sync.WaitGroup
	keys := make(chan string, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys <- e.createIssue("parallel", nil)
		}()
	}
	wg.Wait()
	close(keys)
	seen := map[string]bool{}
	for k := range keys {
		if seen[k] {
			t.Errorf("duplicate key %s", k)
		}
		seen[k] = true
	}
	if len(seen) != 20 {
		t.Errorf("%d distinct keys", len(seen))
	}
}
