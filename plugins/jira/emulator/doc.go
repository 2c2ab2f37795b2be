// Package emulator is an in-memory Jira Cloud + Jira Service Management +
// Assets REST API for tests and the sandbox.
//
// It serves, at the root of its own address, the vendor paths the Jira plugin
// uses, with Atlassian's field names, status codes and error bodies:
//
//   - platform (`/rest/api/3/...`): myself, project, field, priority,
//     resolution, issue create/get/edit (ADF description), transitions (GET
//     and POST; 204, 400 when the transition is not available from the
//     current status, 400 when a field is not on the transition screen),
//     comments (ADF), issue and user entity properties, and
//     `POST /rest/api/3/search/jql` (nextPageToken paging) with a JQL subset
//     (=, !=, ~, !~, <, >, IN, NOT IN, IS [NOT] EMPTY, AND, OR, NOT,
//     parentheses, ORDER BY; fields project, key, issuetype, status,
//     statusCategory, resolution, priority, labels, summary, description,
//     text, dates, cf[N], customfield_N, custom field names, quoted or not,
//     and issue.property[k].path), with Jira's semantics where they bite:
//     != never matches an EMPTY field, text fields take only ~, unbounded
//     queries are rejected. A configurable search lag makes writes visible
//     to search only after Options.SearchLag, as on Jira Cloud, unless the
//     issue is named in reconcileIssues. The removed `/rest/api/3/search`
//     answers 410;
//   - JSM (`/rest/servicedeskapi/...`): service desks, request types and their
//     fields, request create/get, request comments (public or internal),
//     customer transitions and the Assets workspace;
//   - Assets (`/jsm/assets/workspace/{id}/v1/...`): object schemas, object
//     types and attributes, AQL search (the JQL grammar plus == for
//     case-sensitive equality, LIKE and NOT LIKE; objectType, objectTypeId,
//     objectSchema, Key, Label and attribute names), object create/get/update
//     and connected tickets. An Assets object custom field on issues holds
//     object references (`{workspaceId, id: "ws:oid", objectId}`).
//
// The seeded site has a JSM service project OPS (service desk 1, request type
// "Report an incident" → issue type Incident) whose workflow has statuses in
// all three status categories and transitions whose ids differ from their
// names and between workflows, and a software project DEV with a simpler
// workflow. See Seed* constants.
//
// Errors use ErrorCollection ({errorMessages, errors}) on the platform and
// Assets APIs and {errorMessage, i18nErrorMessage} on the JSM API. Injected
// 429s carry Retry-After and X-RateLimit-* headers as Jira sends them.
//
// A control surface under /_emulator/ (no auth): POST reset, POST/DELETE
// faults, GET/DELETE calls, POST seed ({"objects":[CI...]}), GET
// tickets?correlation=KEY (issues carrying KEY as a label, a text field value
// or a string in an issue property), POST search-lag ({"ms":n}) and POST
// flush-index. The same is available as Go methods (Reset, InjectFault,
// ClearFaults, Calls, SeedCI, Tickets, CountTickets, SetSearchLag,
// FlushIndex, Search).
package emulator
