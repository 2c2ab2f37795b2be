// Package vendorhttp is the HTTP client a vendor plugin uses to talk to its
// ITSM REST API. It sends one request, reads the body (bounded) and classifies
// the outcome the way the host needs it:
//
//   - network errors, timeouts, 408, 429 and 5xx are sdk.Retryable, with the
//     vendor's Retry-After (delta-seconds or HTTP-date; X-RateLimit-Reset as a
//     fallback on 429/503) carried in the error;
//   - every other 4xx is sdk.Permanent;
//   - 2xx and 3xx are success.
//
// Failed statuses are returned as a *StatusError wrapped in the sdk
// classification, so plugins use errors.As to detect 401 or to read the
// vendor's error body. Error texts never contain a configured secret, the
// request's credentials, URL userinfo or secret-looking query values.
//
// The client never retries: the host owns retries, back-off and the DLQ, and a
// hidden retry inside a plugin would multiply the host's attempts and blow
// through its call deadlines.
package vendorhttp
