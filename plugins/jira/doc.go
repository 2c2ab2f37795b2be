// Command itsmbridge-plugin-jira is the itsmbridge backend for Jira Cloud and
// Jira Service Management, with JSM Assets as the CMDB.
//
// Minimum config (everything else defaulted):
//
//	backend "jira" "ops" {
//	  config {
//	    url       = "https://acme.atlassian.net"
//	    username  = "bot@acme.com"
//	    api_token = env("JIRA_API_TOKEN")
//	    project   = "OPS"
//	  }
//	}
//
// Configure checks the credentials and resolves every name to an id: the
// project, mode (JSM request API for a service project, else the issue
// API), the request type or issue type, custom fields, priorities and the
// Assets object type, attributes and field.
//
// Create is idempotent on the ticket key: the key is written as a label (or a
// text custom field, or only the issue property, per `correlation`), an
// issue property {ticketKey, alertId} is always set, and the key is looked up
// before creating through an in-process map, a ledger in the API user's own
// entity properties and JQL search (POST /rest/api/3/search/jql); dedup.go
// explains how this holds during Jira Cloud's search lag and across plugin
// restarts.
//
// Resolve and Reopen find their transition by name or target status on each
// issue (transition ids differ per workflow) and fill the resolution when
// the transition screen has it; resolving a resolved issue does nothing.
// BindCI searches Assets with AQL by Azure resource id, then by name,
// creates the object when asked and adds it to the Assets field.
//
// Errors are classified by sdk/vendorhttp (429/5xx/network retryable with
// Retry-After, other 4xx permanent) and carry Jira's own message.
package main
