package auth

import (
	"errors"
	"fmt"
)

// Reasons a token is refused. They are stable: the ingress uses them as a
// metric label and operators grep logs for them.
const (
	ReasonMissingHeader    = "missing_header"     // no Authorization header
	ReasonBadScheme        = "bad_scheme"         // not "Bearer <token>"
	ReasonTokenTooLarge    = "token_too_large"    // over the size limit
	ReasonMalformed        = "malformed"          // not a compact JWS with JSON claims
	ReasonBadAlg           = "bad_alg"            // alg other than RS256
	ReasonBadHeader        = "bad_header"         // key material in the header (jwk, jku, x5u, x5c)
	ReasonTenantNotAllowed = "tenant_not_allowed" // tid missing or not a configured tenant
	ReasonKeysUnavailable  = "keys_unavailable"   // no signing keys could be had (503, see ErrUnavailable)
	ReasonUnknownKID       = "unknown_kid"        // kid missing or not in the tenant's keys
	ReasonBadSignature     = "bad_signature"      // signature does not verify
	ReasonBadIssuer        = "bad_issuer"         // iss not in an accepted form
	ReasonTenantMismatch   = "tenant_mismatch"    // iss names another tenant than tid
	ReasonExpired          = "expired"            // past exp (+ skew)
	ReasonNotYetValid      = "not_yet_valid"      // before nbf or iat (- skew)
	ReasonBadAudience      = "bad_audience"       // aud not configured
	ReasonBadAppID         = "bad_app_id"         // appid/azp not allowed
	ReasonMissingRole      = "missing_role"       // a required role is missing
)

// Reasons lists every Reason value, for pre-registering metric labels.
func Reasons() []string {
	return []string{
		ReasonMissingHeader, ReasonBadScheme, ReasonTokenTooLarge, ReasonMalformed,
		ReasonBadAlg, ReasonBadHeader, ReasonTenantNotAllowed, ReasonKeysUnavailable,
		ReasonUnknownKID, ReasonBadSignature, ReasonBadIssuer, ReasonTenantMismatch,
		ReasonExpired, ReasonNotYetValid, ReasonBadAudience, ReasonBadAppID, ReasonMissingRole,
	}
}

// ErrUnavailable is matched (errors.Is) by a Verify error when the tenant's
// signing keys cannot be had, so the token can be neither accepted nor
// refused. The ingress answers 503 with Retry-After: Azure retries 503, while
// a 401 would lose the alert.
var ErrUnavailable = errors.New("signing keys unavailable")

// Challenge is the WWW-Authenticate value for a 401 answer (DESIGN §6). The
// body of that answer carries no detail; the Reason goes to the log.
const Challenge = `Bearer error="invalid_token"`

// Error is a refused (or, for ReasonKeysUnavailable, undecidable) token.
type Error struct {
	// Reason is one of the Reason* constants; safe as a metric label.
	Reason string
	// Detail says what exactly was wrong, for logs and `auth check`. It
	// never contains the token; it may contain claim values.
	Detail string
	// Err is the underlying cause, if any.
	Err error
}

// Error renders "auth: <reason>: <detail>: <cause>".
func (e *Error) Error() string {
	msg := "auth: " + e.Reason
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap exposes the cause and, for ReasonKeysUnavailable, ErrUnavailable.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Reason == ReasonKeysUnavailable {
		errs = append(errs, ErrUnavailable)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

func refuse(reason, format string, args ...any) *Error {
	return &Error{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

func refuseErr(reason string, err error, format string, args ...any) *Error {
	return &Error{Reason: reason, Detail: fmt.Sprintf(format, args...), Err: err}
}

// ReasonOf returns the Reason of an *Error in err's chain, or "" if none.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
