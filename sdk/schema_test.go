package sdk

import "testing"

func TestTicketField(t *testing.T) {
	s := Schema{TicketFields: []Attribute{
		{Name: "u_*", Type: "string"},
		{Name: "u_count_*", Type: "number"},
		{Name: "u_count_total", Type: "bool"},
		{Name: "category", Type: "string"},
	}}
	tests := []struct {
		name, wantType string // "" = not declared
	}{
		{"category", "string"},
		{"u_environment", "string"}, // family u_*
		{"u_count_hosts", "number"}, // the longest family wins
		{"u_count_total", "bool"},   // an exact name wins over families
		{"u_", ""},                  // a family needs more than its prefix
		{"u_*", ""},                 // a family's own name is not a field
		{"u_count_*", ""},           // nor is any other name with a *
		{"x_environment", ""},       // no family
		{"categoryx", ""},           // a plain name is not a prefix
		{"U_environment", ""},       // case-sensitive, as vendor columns are
		{"u_count_", "string"},      // u_count_* needs more; u_* matches
	}
	for _, tt := range tests {
		a, ok := s.TicketField(tt.name)
		switch {
		case tt.wantType == "" && ok:
			t.Errorf("TicketField(%q) = %s, want undeclared", tt.name, a.Name)
		case tt.wantType != "" && !ok:
			t.Errorf("TicketField(%q) undeclared, want type %s", tt.name, tt.wantType)
		case ok && a.Type != tt.wantType:
			t.Errorf("TicketField(%q) = %s (%s), want type %s", tt.name, a.Name, a.Type, tt.wantType)
		}
	}
}
