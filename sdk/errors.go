package sdk

import (
	"errors"
	"fmt"
	"time"
)

// ErrorKind classifies an operation failure. The host decides what to do from
// the kind alone and never parses vendor error text.
type ErrorKind int

const (
	// KindPermanent failures (validation, auth, not found) are dead-lettered at once.
	KindPermanent ErrorKind = iota
	// KindRetryable failures (network, 5xx, 429) are retried with back-off.
	KindRetryable
)

func (k ErrorKind) String() string {
	if k == KindRetryable {
		return "retryable"
	}
	return "permanent"
}

// Error is a classified operation error.
type Error struct {
	Kind ErrorKind
	// RetryAfter is the vendor's requested wait (Retry-After), zero when none.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Kind.String() + " error"
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable marks err as retryable, optionally after the vendor's Retry-After.
func Retryable(err error, retryAfter time.Duration) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: KindRetryable, RetryAfter: retryAfter, Err: err}
}

// Permanent marks err as permanent.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: KindPermanent, Err: err}
}

// Retryablef and Permanentf format a new classified error.
func Retryablef(format string, args ...any) error {
	return Retryable(fmt.Errorf(format, args...), 0)
}

// Permanentf formats a new permanent error.
func Permanentf(format string, args ...any) error {
	return Permanent(fmt.Errorf(format, args...))
}

// ErrNotImplemented is returned (as permanent) by operations a plugin does not implement yet.
var ErrNotImplemented = errors.New("not implemented")

// Classify returns the kind and retry-after of err. Unclassified errors are permanent.
func Classify(err error) (ErrorKind, time.Duration) {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind, e.RetryAfter
	}
	return KindPermanent, 0
}

// IsRetryable reports whether err is classified retryable.
func IsRetryable(err error) bool {
	k, _ := Classify(err)
	return k == KindRetryable
}
