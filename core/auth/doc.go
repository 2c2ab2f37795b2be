// Package auth authenticates Azure Monitor Secure Webhook calls: it verifies
// the Entra ID (Azure AD) bearer token an action group sends, as configured by
// a source's `azure_ad` block (DESIGN §4, §9).
//
// A token is accepted only when all of these hold, in this order:
//
//   - the Authorization header is "Bearer <token>" and the token is not
//     larger than the size limit;
//   - it is a compact JWS signed with RS256 (no "none", no HMAC, nothing
//     else) whose header carries no key material (jwk, jku, x5u, x5c);
//   - its tid claim is one of the configured tenants;
//   - its kid names a key in that tenant's JWKS, found through the configured
//     authority's OpenID discovery documents (v1 and v2), and the signature
//     verifies with that key;
//   - iss is https://sts.windows.net/{tid}/ or {authority}/{tid}/v2.0 (or the
//     issuer the tenant's own discovery document declares), for the same
//     tenant as tid;
//   - exp and nbf hold with the configured clock skew (at most 5 minutes);
//   - aud is one of the configured audiences;
//   - appid (v1) or azp (v2) is an allowed app id (by default Azure Monitor's
//     "AzNS AAD Webhook" application);
//   - roles contains every required role (by default ActionGroupsSecureWebhook).
//
// Signing keys are fetched per tenant on first use and shared through a
// KeySets; they are refreshed in the background, at once when a token names an
// unknown kid (one fetch in flight per tenant, at most one forced fetch per
// short interval), and the last good keys are kept when a refresh fails. When
// no keys can be had at all, Verify returns an error matching ErrUnavailable:
// the ingress answers 503 so that Azure retries, instead of 401 which would
// lose the alert.
//
// Verified tokens are cached (Azure reuses one token for many calls) in a
// bounded cache keyed by the SHA-256 of the token, never past the token's exp.
//
// Every refusal is an *Error whose Reason is a short stable string suitable as
// a metric label; the token itself is never logged or put into an error.
package auth
