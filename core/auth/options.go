package auth

import (
	"net/http"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Defaults for the options below.
const (
	// DefaultRefreshInterval is how often a tenant's keys are refreshed in
	// the background once fetched.
	DefaultRefreshInterval = time.Hour
	// DefaultMinRefreshInterval is the least time between two refreshes
	// forced by unknown kids, per tenant: a flood of tokens with bogus kids
	// costs Entra at most one fetch per interval.
	DefaultMinRefreshInterval = time.Minute
	// DefaultFetchTimeout bounds one refresh (discovery + JWKS documents).
	DefaultFetchTimeout = 5 * time.Second
	// DefaultMaxTokenBytes is the token size limit. Entra app-only access
	// tokens are 1–3 KiB.
	DefaultMaxTokenBytes = 8 << 10
	// DefaultTokenCacheSize is how many verified tokens a Verifier keeps.
	DefaultTokenCacheSize = 1024

	// retryEmptyInterval is the least time between request-triggered
	// fetches while a tenant has no keys at all and the last fetch failed.
	retryEmptyInterval = 5 * time.Second
	// backgroundRetry is the first background retry delay after a failed
	// refresh; it doubles up to the refresh interval.
	backgroundRetry = 15 * time.Second
	// maxDocumentBytes bounds discovery and JWKS documents.
	maxDocumentBytes = 1 << 20
)

// Option configures NewVerifier and NewKeySets. Options that do not apply to
// the constructor they are passed to are ignored (e.g. WithKeySets to
// NewKeySets).
type Option func(*options)

type options struct {
	client             *http.Client
	logger             hclog.Logger
	now                func() time.Time
	keySets            *KeySets
	refreshInterval    time.Duration
	minRefreshInterval time.Duration
	fetchTimeout       time.Duration
	maxTokenBytes      int
	cacheSize          int
}

func buildOptions(opts []Option) options {
	o := options{
		client:             http.DefaultClient,
		logger:             hclog.NewNullLogger(),
		now:                time.Now,
		refreshInterval:    DefaultRefreshInterval,
		minRefreshInterval: DefaultMinRefreshInterval,
		fetchTimeout:       DefaultFetchTimeout,
		maxTokenBytes:      DefaultMaxTokenBytes,
		cacheSize:          DefaultTokenCacheSize,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// WithHTTPClient sets the client used to fetch discovery and JWKS documents
// (default http.DefaultClient; each fetch is bounded by the fetch timeout).
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) {
		if c != nil {
			o.client = c
		}
	}
}

// WithLogger sets the logger (default: discard). Tokens are never logged.
func WithLogger(l hclog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithClock sets the clock used for exp/nbf checks, the token cache and the
// refresh rate limits (default time.Now). Background refresh timers always
// use real time.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithKeySets makes a Verifier use a shared key cache, so that sources with
// the same authority and tenant fetch keys once. The caller closes it. Without
// it a Verifier has its own, closed by Verifier.Close.
func WithKeySets(ks *KeySets) Option {
	return func(o *options) { o.keySets = ks }
}

// WithRefreshInterval sets the background refresh interval of a KeySets
// (default DefaultRefreshInterval).
func WithRefreshInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.refreshInterval = d
		}
	}
}

// WithMinRefreshInterval sets the least time between two refreshes forced by
// unknown kids, per tenant (default DefaultMinRefreshInterval).
func WithMinRefreshInterval(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.minRefreshInterval = d
		}
	}
}

// WithFetchTimeout bounds one key refresh (default DefaultFetchTimeout).
func WithFetchTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.fetchTimeout = d
		}
	}
}

// WithMaxTokenBytes sets the token size limit (default DefaultMaxTokenBytes).
func WithMaxTokenBytes(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxTokenBytes = n
		}
	}
}

// WithTokenCacheSize sets how many verified tokens are cached (default
// DefaultTokenCacheSize); 0 or less disables the cache.
func WithTokenCacheSize(n int) Option {
	return func(o *options) { o.cacheSize = n }
}
