// Package entratest is a local stand-in for Entra ID (Azure AD) as Azure
// Monitor's Secure Webhook sees it: OpenID discovery documents (v1 and v2)
// and the JWKS they point to, for any tenant, in Entra's exact shapes and
// issuer formats; a signer that makes tokens shaped like those an action
// group sends (ActionGroupToken); key rotation; and a switch that makes
// discovery fail. Tests (core/auth, ingest) and the sandbox binary use it.
//
// It is test infrastructure: it signs whatever it is asked to.
package entratest
