// Command itsmbridge-plugin-servicenow is the ServiceNow backend of
// itsmbridge: an out-of-process plugin (sdk.Serve) that opens, comments,
// resolves and reopens incidents through the Table API and binds Azure
// resources from the CMDB to them.
//
// Minimum config (everything else defaulted):
//
//	backend "servicenow" "prod" {
//	  config {
//	    instance_url = "https://acme.service-now.com"
//	    username     = env("SNOW_USER")
//	    password     = env("SNOW_PASSWORD")
//	  }
//	}
//
// Route ticket fields: the standard incident fields it declares (reference
// fields such as assignment_group may name the record), and any custom
// column of the u_* family (u_environment = "production"), sent as given.
//
// Requests it sends (checked by the recorded-traffic test against the
// emulator's call log):
//
//	find      GET   /api/now/table/incident?sysparm_query=correlation_id=KEY^stateNOT IN…^ORDERBYDESCsys_created_on
//	create    POST  /api/now/table/incident {short_description, description, impact, urgency, correlation_id, …}
//	comment   PATCH /api/now/table/incident/{sys_id} {work_notes}
//	resolve   GET   /api/now/table/incident/{sys_id}, then PATCH {state:"6", close_code, close_notes}
//	reopen    GET   /api/now/table/incident/{sys_id}, then PATCH {state:"2", work_notes}
//	find CI   GET   /api/now/table/<class>?sysparm_query=object_id=<ARM id>, then cmdb_ci by name
//	create CI POST  /api/now/identifyreconcile?sysparm_data_source=ServiceNow
//	bind CI   PATCH incident {cmdb_ci} (primary) or GET+POST /api/now/table/task_ci {task, ci_item}
//	OAuth     POST  /oauth_token.do (form: password / refresh_token / client_credentials)
//
// Idempotency: the ticket key is written to correlation_field (a SHA-256 of
// it when longer than the column's 100 characters) and looked up before every
// create. Because ServiceNow silently drops query conditions on unknown
// fields, every lookup also checks the returned rows client-side, so a typo
// in correlation_field or ci_lookup.id_field fails loudly instead of matching
// every record.
//
// Errors: 429, 5xx and network failures are retryable with the instance's
// Retry-After; 400, 403 and 404 are permanent and carry ServiceNow's own
// message (e.g. "Data Policy Exception: …"); 401 is permanent, except that
// with OAuth the token is refreshed and the request retried once.
package main
