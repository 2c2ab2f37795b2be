// Command itsmbridge-plugin-cherwell is the itsmbridge backend for Cherwell
// Service Management (CSM, now Ivanti), served over go-plugin by sdk.Serve.
//
// It speaks the classic CSM REST API under /CherwellAPI: OAuth2 password
// login with refresh-token rotation (renewed before expiry and once on 401),
// business object discovery by name at Configure (object, field, state and
// relationship ids), savebusinessobject for create / resolve / reopen,
// getsearchresults on a site-added correlation field for idempotent creates,
// journal notes through "Incident Owns Journals", and configuration items
// found by Azure resource id then name, created on demand and linked through
// "Incident Links Configuration Items".
//
// CSM reports many failures with HTTP 200 and hasError=true; the plugin
// treats every hasError as an error (permanent under 2xx and whenever field
// validation failed, otherwise classified by status).
//
// Minimal config:
//
//	backend "cherwell" "prod" {
//	  config {
//	    url       = "https://csm.example.com/CherwellAPI"
//	    client_id = env("CSM_CLIENT_ID")
//	    username  = env("CSM_USER")
//	    password  = env("CSM_PASSWORD")
//	  }
//	}
//
// The emulator in ./emulator serves the same API in memory for tests and the
// sandbox.
package main
