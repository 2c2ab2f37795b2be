// Package emulator is an in-memory stand-in for the Cherwell Service
// Management (CSM, now Ivanti) REST API, used by the Cherwell plugin's tests
// and by the sandbox.
//
// It serves the vendor's paths exactly as CSM 9.x/10.x has them, under
// /CherwellAPI/ (mount the handler at the root of its own address):
//
//   - POST /CherwellAPI/token: OAuth2 password and refresh_token grants with
//     form fields, auth_mode in the query (or the form). A refresh rotates both
//     tokens and invalidates the old ones; errors are the documented 400
//     invalid_grant / invalid_client_id bodies; an expired or unknown bearer
//     token gives 401 on every API call.
//   - business object discovery: getbusinessobjectsummary (by name, an array),
//     getbusinessobjectsummaries/type/{type}, getbusinessobjectschema (with
//     relationships) and getbusinessobjecttemplate. Objects, fields and
//     relationships have opaque 42-character hex ids, derived from their
//     names so they are stable across resets and restarts.
//   - savebusinessobject (create, or update by busObRecId / busObPublicId;
//     only dirty fields are written), getbusinessobject by rec id or public
//     id, getsearchresults (eq, contains, startswith, gt, lt; filters on the
//     same field are OR-ed, on different fields AND-ed; 1-based pages),
//     saverelatedbusinessobject, getrelatedbusinessobject (GET and POST),
//     GET linkrelatedbusinessobject and DELETE unlinkrelatedbusinessobject.
//
// Seeded objects: Incident (with a custom correlation field, CorrelationID by
// default), the Journal group with Journal - Note (related through
// "Incident Owns Journals"), and the ConfigItem group with Config - Server,
// Config - Computer, Config - Network Device and Config - Cloud Resource
// (related through "Incident Links Configuration Items"), all carrying an
// AzureResourceID attribute.
//
// Like the real server, responses carry hasError / errorCode / errorMessage
// and validation failures come back as fieldValidationErrors, by default with
// HTTP 200 (Options.ValidationStatus changes that).
//
// The control surface lives under /_emulator/ and is mirrored by Go methods
// on *Emulator:
//
//	POST   /_emulator/reset                 Reset()
//	POST   /_emulator/faults                InjectFault(Fault)  {status, count, rate, retry_after_seconds, latency_ms, path_prefix, body}
//	DELETE /_emulator/faults                ClearFaults()
//	GET    /_emulator/calls                 Calls()             (token secrets redacted)
//	DELETE /_emulator/calls                 ClearCalls()
//	POST   /_emulator/seed                  SeedConfigItem(SeedCI) {"config_items":[{type, name, resource_id, fields}]}
//	GET    /_emulator/tickets?correlation=K Tickets(K), CountTickets(K)
//	POST   /_emulator/tokens/expire[?refresh=true]  ExpireTokens(refresh)
//	GET    /_emulator/ids                   object, field and relationship ids by name
package emulator
