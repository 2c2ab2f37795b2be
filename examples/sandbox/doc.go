// Command itsmbridge-sandbox is the local stand-in for everything outside the
// bridge (DESIGN §5): the ServiceNow, Jira and Cherwell emulators, each at the
// root of its own address, and an Entra ID stand-in (OIDC discovery v1 and
// v2, JWKS, key rotation, and a token endpoint that signs tokens shaped like
// an Azure Monitor action group's).
//
// Subcommands:
//
//	serve   run the emulators and the Entra ID stand-in until Ctrl-C
//	send    sign a token like an action group and POST alert payloads
//	demo    the sandbox plus bin/itsmbridge with config.hcl, a realistic
//	        sequence of official Azure samples, and a table of the tickets
//	load    a bounded load generator for the ingress, with a baseline
//
// The official Azure samples the demo sends are embedded (samples/), so
// `make demo` works from a fresh clone. Run a subcommand with -h for its flags.
//
// Exit codes follow the itsmbridge CLI: 0 ok, 1 failed check or usage,
// 2 runtime failure.
package main
