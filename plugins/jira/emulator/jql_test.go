package emulator

import (
	"strings"
	"testing"
)

func TestParseJQL(t *testing.T) {
	tests := []struct {
		jql     string
		wantErr string // substring; "" = must parse
		order   int    // number of ORDER BY keys
	}{
		{jql: `project = OPS`},
		{jql: `project = "OPS" AND labels = "azmon-1"`},
		{jql: `project in (OPS, DEV) and status != Done or (labels is EMPTY)`},
		{jql: `"Alert correlation" ~ "\"k-1\"" AND statusCategory != Done`},
		{jql: `issue.property[itsmbridge].ticketKey = 'k 1'`},
		{jql: `cf[10050] is not empty`},
		{jql: `labels not in (a, b) ORDER BY created DESC, key ASC`, order: 2},
		{jql: `ORDER BY key`, order: 1},
		{jql: `not (status = Open)`},
		{jql: `project = OPS AND`, wantErr: "Expecting a field name"},
		{jql: `project OPS`, wantErr: "Expecting operator but got 'OPS'"},
		{jql: `project = "OPS`, wantErr: "has not been completed"},
		{jql: `labels in (a, b`, wantErr: "Expecting ')'"},
		{jql: `status is Open`, wantErr: "Expecting 'EMPTY'"},
		{jql: `project = OPS order key`, wantErr: "Expecting 'by'"},
		{jql: `(project = OPS`, wantErr: "Expecting ')'"},
		{jql: `project = OPS status = Open`, wantErr: "Expecting either 'OR' or 'AND'"},
		{jql: `a ! b`, wantErr: "reserved JQL character"},
		{jql: `project = and`, wantErr: "either a value"},
	}
	for _, tt := range tests {
		t.Run(tt.jql, func(t *testing.T) {
			q, err := parseJQL(tt.jql)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if len(q.Order) != tt.order {
				t.Errorf("order = %v, want %d keys", q.Order, tt.order)
			}
		})
	}
}

func TestParseJQLStructure(t *testing.T) {
	q, err := parseJQL(`a = 1 OR b = 2 AND c = 3`)
	if err != nil {
		t.Fatal(err)
	}
	or, ok := q.Where.(jqlOr)
	if !ok {
		t.Fatalf("AND must bind tighter than OR: %#v", q.Where)
	}
	if _, ok := or.R.(jqlAnd); !ok {
		t.Fatalf("right side = %#v, want AND", or.R)
	}
	q, err = parseJQL(`issue.property[com.acme.x].a.b != "v"`)
	if err != nil {
		t.Fatal(err)
	}
	c := q.Where.(*jqlClause)
	if c.Field != "issue.property[com.acme.x].a.b" || c.Op != "!=" || c.Values[0] != "v" {
		t.Fatalf("clause = %+v", c)
	}
}

func TestParseAQL(t *testing.T) {
	tests := []struct {
		aql, op string
	}{
		{`"Resource ID" == "/x"`, "=="},
		{`Name LIKE vm`, "like"},
		{`Name NOT LIKE vm`, "not like"},
		{`Name = vm`, "="},
	}
	for _, tt := range tests {
		q, err := parseAQL(tt.aql)
		if err != nil {
			t.Fatalf("%s: %v", tt.aql, err)
		}
		if c := q.Where.(*jqlClause); c.Op != tt.op {
			t.Errorf("%s: op %q, want %q", tt.aql, c.Op, tt.op)
		}
	}
	if _, err := parseJQL(`Name LIKE vm`); err == nil {
		t.Error("JQL must not accept LIKE")
	}
}

func TestContainsWords(t *testing.T) {
	tests := []struct {
		text, q string
		want    bool
	}{
		{"Disk full on vm-prod-01", "disk", true},
		{"Disk full on vm-prod-01", "vm-prod-01", true},
		{"Disk full on vm-prod-01", "full disk", true},
		{"Disk full on vm-prod-01", "cpu", false},
		{"Disk full", "dis*", true},
		{"k-7f3a", `"k-7f3a"`, true},
	}
	for _, tt := range tests {
		if got := containsWords(tt.text, tt.q); got != tt.want {
			t.Errorf("containsWords(%q, %q) = %v", tt.text, tt.q, got)
		}
	}
}
