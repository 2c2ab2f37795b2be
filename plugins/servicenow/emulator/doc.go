// Package emulator is an in-memory ServiceNow instance for tests and the
// sandbox: the Table API (/api/now/table/{table}, also under /v1 and /v2),
// POST /oauth_token.do, the Identification and Reconciliation API
// (POST /api/now/identifyreconcile and …/query) and a read-only CMDB Instance
// API (GET /api/now/cmdb/instance/{class}[/{sys_id}]).
//
// What it models, after ServiceNow's documentation (see
// shared/vendors/SERVICENOW.md):
//
//   - Basic auth on every call, or a Bearer token from /oauth_token.do
//     (form-encoded only; password, refresh_token and client_credentials
//     grants; a JSON body is rejected with 400). Default credentials:
//     user sandbox/sandbox (role itil), OAuth client sandbox/sandbox.
//   - Values are strings; reference fields render as {"link","value"} (bare
//     sys_id with sysparm_exclude_reference_link=true); sysparm_display_value
//     true|false|all; sysparm_fields (unknown names ignored); sysparm_limit,
//     sysparm_offset, X-Total-Count and Link headers.
//   - sysparm_query: =, !=, LIKE, NOTLIKE, STARTSWITH, ENDSWITH, IN, NOT IN,
//     ISEMPTY, ISNOTEMPTY, <, >, <=, >=, ^, ^OR, ^NQ, ORDERBY, ORDERBYDESC and
//     dot-walking. Comparisons are case-insensitive, like the instance's
//     database collation.
//   - THE TRAP: a condition on a field the table does not have is silently
//     dropped and the rest of the query still runs, so correlation_idd=X
//     (a typo) matches every record, and object_id=X on base cmdb_ci (which
//     lacks object_id) matches every CI. Options.InvalidQueryReturnsNoRows
//     models glide.invalid_query.returns_no_rows=true instead.
//   - Table hierarchy: incident extends task; cloud CI classes
//     (cmdb_ci_vm_instance, cmdb_ci_cloud_database, …) extend cmdb_ci and
//     define object_id. A query on a parent returns child rows with their
//     sys_class_name.
//   - Incidents: number INC0010001…, 32-hex sys_id, state model (1 New,
//     2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled) with
//     incident_state mirrored, active, resolved_at/resolved_by, closed_at,
//     reopen_count (bumped when a resolved or closed incident goes back to
//     1/2/3), priority computed from impact × urgency (client values ignored),
//     work_notes/comments stored as sys_journal_field rows and read back "".
//   - Data policy: saving an incident in state 6 or 7 without close_code and
//     close_notes answers 403 "Data Policy Exception: The following fields
//     are mandatory: Resolution code, Resolution notes". A close_code outside
//     Options.CloseCodes is refused the same way (stricter than an instance,
//     which stores unknown choice values, so misconfigured codes surface).
//   - ACLs: task tables need role itil; closing (7) and editing closed or
//     canceled incidents need itil_admin or admin.
//   - Error bodies {"error":{"message","detail"},"status":"failure"}; a per-user
//     rate rule (Options.RateLimit or POST /_emulator/ratelimit) answers 429
//     with Retry-After, X-RateLimit-Limit, X-RateLimit-Reset, X-RateLimit-Rule.
//   - String columns with a length limit (correlation_id 100,
//     short_description 160) truncate silently, as the instance does.
//
// The control surface lives under /_emulator/ (unauthenticated, not logged,
// never faulted): reset, faults, calls, seed, tickets?correlation=KEY,
// ratelimit, tokens/expire, journal?sys_id=ID. A fault is JSON
// {status, count | rate, retry_after_seconds, latency_ms, path_prefix, method,
// drop, drop_after, message}: drop closes the connection before the request
// is processed, drop_after after it was processed (a lost response). The same operations are Go
// methods (Reset, InjectFault, ClearFaults, Calls, SeedCI, SeedRecord,
// CountTickets, Tickets, Record, Records, Journal, SetRateRule, ExpireTokens).
package emulator
