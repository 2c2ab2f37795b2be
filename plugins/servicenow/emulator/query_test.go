package emulator

import (
	"reflect"
	"testing"
)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		in    string
		want  string // Query.String() round trip
		conds int
	}{
		{"", "", 0},
		{"correlation_id=abc", "correlation_id=abc", 1},
		{"correlation_id=abc^stateNOT IN7,8", "correlation_id=abc^stateNOT IN7,8", 2},
		{"state=1^ORstate=2^active=true", "state=1^ORstate=2^active=true", 3},
		{"nameSTARTSWITHweb^ORDERBYDESCsys_created_on", "nameSTARTSWITHweb^ORDERBYDESCsys_created_on", 1},
		{"short_descriptionLIKEdisk^cmdb_ciISEMPTY", "short_descriptionLIKEdisk^cmdb_ciISEMPTY", 2},
		{"state=1^NQstate=2", "state=1^NQstate=2", 2},
		{"caller_id.user_name=sandbox^EQ", "caller_id.user_name=sandbox", 1},
		{"descriptionLIKEa^^b", "descriptionLIKEa^^b", 1},
		{"ORDERBYnumber", "ORDERBYnumber", 0},
	}
	for _, tt := range tests {
		q := ParseQuery(tt.in)
		if got := q.String(); got != tt.want {
			t.Errorf("ParseQuery(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		n := 0
		for _, b := range q.Blocks {
			for _, g := range b {
				n += len(g)
			}
		}
		if n != tt.conds {
			t.Errorf("ParseQuery(%q): %d conditions, want %d", tt.in, n, tt.conds)
		}
	}
}

func TestParseCondition(t *testing.T) {
	tests := []struct {
		in   string
		want Condition
	}{
		{"stateNOT IN7,8", Condition{Field: "state", Op: "NOT IN", Value: "7,8"}},
		{"stateIN1,2", Condition{Field: "state", Op: "IN", Value: "1,2"}},
		{"incident_state!=6", Condition{Field: "incident_state", Op: "!=", Value: "6"}},
		{"object_id=/subscriptions/A=B", Condition{Field: "object_id", Op: "=", Value: "/subscriptions/A=B"}},
		{"cmdb_ciISEMPTY", Condition{Field: "cmdb_ci", Op: "ISEMPTY"}},
		{"priority<=2", Condition{Field: "priority", Op: "<=", Value: "2"}},
		{"nameENDSWITH-vm", Condition{Field: "name", Op: "ENDSWITH", Value: "-vm"}},
		{"garbage", Condition{Field: "garbage", Malformed: true}},
		{"=x", Condition{Op: "=", Value: "x", Malformed: true}},
	}
	for _, tt := range tests {
		got := parseCondition(tt.in)
		got.Raw = ""
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseCondition(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestQueryMatch(t *testing.T) {
	row := map[string]string{
		"correlation_id": "Key-1", "state": "6", "name": "web-01", "cmdb_ci": "", "priority": "3",
		"short_description": "Disk full on web-01",
	}
	known := func(_, f string) bool { _, ok := row[f]; return ok }
	get := func(f string) string { return row[f] }
	tests := []struct {
		q    string
		want bool
	}{
		{"correlation_id=key-1", true}, // case-insensitive like the instance
		{"correlation_id=key-2", false},
		{"correlation_id=Key-1^stateNOT IN7,8", true},
		{"correlation_id=Key-1^stateNOT IN6,7,8", false},
		{"stateIN1,2^ORname=web-01", true},
		{"stateIN1,2^ORname=web-02", false},
		{"state!=6", false},
		{"short_descriptionLIKEdisk", true},
		{"short_descriptionNOTLIKEdisk", false},
		{"nameSTARTSWITHWEB", true},
		{"nameENDSWITH01", true},
		{"cmdb_ciISEMPTY", true},
		{"cmdb_ciISNOTEMPTY", false},
		{"priority<4^priority>=3", true},
		{"priority>3", false},
		{"state=1^NQname=web-01", true},
		{"state=1^NQname=web-02", false},
		// THE TRAP: unknown fields are dropped, the rest still runs.
		{"correlation_idd=nothing-matches-this", true},
		{"correlation_idd=x^state=1", false},
		{"bogus=1^ORstate=6", true},
		{"garbage", true},
	}
	for _, tt := range tests {
		cq := compile(ParseQuery(tt.q), "t", known, false)
		if got := cq.match(get); got != tt.want {
			t.Errorf("match(%q) = %v, want %v (ignored %v)", tt.q, got, tt.want, cq.ignored)
		}
	}
}

func TestQueryStrictMode(t *testing.T) {
	known := func(_, f string) bool { return f == "state" }
	get := func(string) string { return "1" }
	for _, q := range []string{"correlation_idd=x", "state=1^bogus=2"} {
		cq := compile(ParseQuery(q), "t", known, true)
		if cq.match(get) {
			t.Errorf("strict %q matched; glide.invalid_query.returns_no_rows must return no rows", q)
		}
		if len(cq.ignored) != 1 {
			t.Errorf("strict %q: ignored = %v, want one", q, cq.ignored)
		}
	}
	if !compile(ParseQuery("state=1"), "t", known, true).match(get) {
		t.Error("strict valid query did not match")
	}
}

func TestSortRows(t *testing.T) {
	rows := []map[string]string{{"n": "10", "s": "b"}, {"n": "9", "s": "a"}, {"n": "10", "s": "a"}}
	get := func(r map[string]string, f string) string { return r[f] }
	sortRows(rows, ParseQuery("ORDERBYDESCn^ORDERBYs").Order, get)
	var got []string
	for _, r := range rows {
		got = append(got, r["n"]+r["s"])
	}
	if want := []string{"10a", "10b", "9a"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("order = %v, want %v (numeric desc, then string asc)", got, want)
	}
}

func TestPriorityMatrix(t *testing.T) {
	want := map[[2]string]string{
		{"1", "1"}: "1", {"1", "2"}: "2", {"2", "1"}: "2", {"1", "3"}: "3", {"2", "2"}: "3", {"3", "1"}: "3",
		{"2", "3"}: "4", {"3", "2"}: "4", {"3", "3"}: "5", {"x", "1"}: "3",
	}
	for in, p := range want {
		if got := Priority(in[0], in[1]); got != p {
			t.Errorf("Priority(%s,%s) = %s, want %s", in[0], in[1], got, p)
		}
	}
}

func TestDataPolicy(t *testing.T) {
	codes := map[string]bool{"Solution provided": true}
	tests := []struct {
		name string
		v    map[string]string
		want string
	}{
		{"open needs nothing", map[string]string{"state": "2"}, ""},
		{"resolved without both", map[string]string{"state": "6"},
			"Data Policy Exception: The following fields are mandatory: Resolution code, Resolution notes"},
		{"resolved without notes", map[string]string{"state": "6", "close_code": "Solution provided"},
			"Data Policy Exception: The following fields are mandatory: Resolution notes"},
		{"closed without code", map[string]string{"state": "7", "close_notes": "done"},
			"Data Policy Exception: The following fields are mandatory: Resolution code"},
		{"blank notes count as missing", map[string]string{"state": "6", "close_code": "Solution provided", "close_notes": "  "},
			"Data Policy Exception: The following fields are mandatory: Resolution notes"},
		{"resolved ok", map[string]string{"state": "6", "close_code": "Solution provided", "close_notes": "x"}, ""},
		{"unknown close code", map[string]string{"state": "6", "close_code": "Solved (Permanently)", "close_notes": "x"},
			"Data Policy Exception: Invalid value 'Solved (Permanently)' for Resolution code"},
	}
	for _, tt := range tests {
		if got := DataPolicyError(tt.v, codes); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}
