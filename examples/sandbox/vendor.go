package main

import (
	"net/url"
	"strings"
)

// serviceNowStates names ServiceNow's incident state values.
var serviceNowStates = map[string]string{
	"1": "New", "2": "In Progress", "3": "On Hold", "6": "Resolved", "7": "Closed", "8": "Canceled",
}

// VendorTickets counts the tickets carrying a correlation key in the
// emulator of plugin and returns the state of the last one, as the vendor
// shows it. n is -1 for a plugin the sandbox does not emulate.
func (s *Sandbox) VendorTickets(plugin, key string) (n int, state string) {
	switch plugin {
	case "servicenow":
		ts := s.ServiceNow.Tickets(key)
		if len(ts) == 0 {
			return 0, ""
		}
		st := ts[len(ts)-1].State
		if name, ok := serviceNowStates[st]; ok {
			st += " " + name
		}
		return len(ts), st
	case "jira":
		ts := s.Jira.Tickets(key)
		if len(ts) == 0 {
			return 0, ""
		}
		return len(ts), ts[len(ts)-1].Status
	case "cherwell":
		ts := s.Cherwell.Tickets(key)
		if len(ts) == 0 {
			return 0, ""
		}
		return len(ts), ts[len(ts)-1].Status
	}
	return -1, ""
}

// TicketURL is how to look at a ticket in its emulator: the vendor API call
// where it needs only Basic auth, else the emulator's control URL.
func (s *Sandbox) TicketURL(plugin, key, number string) string {
	q := url.Values{"correlation": {key}}.Encode()
	switch plugin {
	case "servicenow":
		// Readable rather than encoded: ticket keys are hex.
		return "curl -su sandbox:sandbox '" + s.ServiceNowURL + "/api/now/table/incident?sysparm_query=correlation_id=" +
			url.QueryEscape(key) + "&sysparm_fields=number,state,short_description,cmdb_ci,u_environment'"
	case "jira":
		if number != "" && !strings.ContainsAny(number, "/?#") {
			return "curl -su sandbox:sandbox '" + s.JiraURL + "/rest/api/3/issue/" + number + "?fields=summary,status,labels'"
		}
		return s.JiraURL + "/_emulator/tickets?" + q
	case "cherwell":
		return s.CherwellURL + "/_emulator/tickets?" + q
	}
	return ""
}
