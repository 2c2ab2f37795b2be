package vendorhttp

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Redacted replaces a secret in texts.
const Redacted = "[REDACTED]"

// secretQueryWords mark query parameter names whose values are hidden by
// RedactURL (matched case-insensitively as substrings); secretQueryNames must
// match the whole name. "key" alone is not a substring word: Jira's issue
// "key" and "expand" parameters are not secrets worth hiding.
var (
	secretQueryWords = []string{
		"password", "passwd", "secret", "token", "apikey", "api_key", "api-key",
		"access_key", "auth", "signature", "credential", "session",
	}
	secretQueryNames = []string{"key", "sig", "code", "pwd", "pass"}
)

// Redact replaces every occurrence of each non-empty secret in s (and of its
// URL-encoded forms) with "[REDACTED]". Longer secrets are replaced first so
// a secret containing another is fully hidden.
func Redact(s string, secrets []string) string {
	if s == "" || len(secrets) == 0 {
		return s
	}
	for _, sec := range expandSecrets(secrets) {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	return s
}

// expandSecrets adds encoded variants and orders longest first.
func expandSecrets(secrets []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, s := range secrets {
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// cleanSecrets drops empty and duplicate values.
func cleanSecrets(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

// RedactURL returns raw without userinfo and with the values of
// secret-looking query parameters (token, key, password, secret, sig, code...)
// replaced by "[REDACTED]". Text that does not parse as a URL is returned with
// anything between "://" and "@" removed.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return stripUserinfo(raw)
	}
	changed := u.User != nil || u.Fragment != "" || u.RawFragment != ""
	u.User = nil
	if u.RawQuery != "" {
		q, err := url.ParseQuery(u.RawQuery)
		if err != nil {
			u.RawQuery = Redacted
			changed = true
		} else {
			qChanged := false
			for k, vs := range q {
				if !secretQueryName(k) {
					continue
				}
				for i := range vs {
					vs[i] = Redacted
				}
				qChanged = true
			}
			if qChanged {
				changed = true
				// Encode escapes the brackets; keep them readable.
				u.RawQuery = strings.ReplaceAll(q.Encode(), url.QueryEscape(Redacted), Redacted)
			}
		}
	}
	if !changed {
		return raw
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

func secretQueryName(k string) bool {
	k = strings.ToLower(k)
	for _, n := range secretQueryNames {
		if k == n {
			return true
		}
	}
	for _, w := range secretQueryWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

func stripUserinfo(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	host := rest
	if end >= 0 {
		host = rest[:end]
	}
	if at := strings.LastIndex(host, "@"); at >= 0 {
		return s[:i+3] + rest[at+1:]
	}
	return s
}

// ParseRetryAfter parses a Retry-After header value: delta-seconds ("120") or
// an HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT", also RFC 850 and asctime
// forms). A date in the past gives (0, true). Empty, negative or malformed
// values give (0, false).
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n > int64(maxRetryAfter/time.Second) {
			// Absurdly large: cap rather than overflow.
			return maxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return untilCapped(t, now), true
}

// ParseRateLimitReset parses an X-RateLimit-Reset header: a UNIX time in
// seconds (ServiceNow) or an ISO 8601 / RFC 3339 time, also without seconds
// ("2024-01-02T15:04Z", Jira). It returns the wait from now.
func ParseRateLimitReset(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if isDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		return untilCapped(time.Unix(n, 0), now), true
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return untilCapped(t, now), true
		}
	}
	return 0, false
}

// maxRetryAfter caps vendor waits so a bogus header cannot park a delivery
// for years; the host applies its own max age on top.
const maxRetryAfter = 24 * time.Hour

func untilCapped(t, now time.Time) time.Duration {
	d := t.Sub(now)
	if d < 0 {
		return 0
	}
	if d > maxRetryAfter {
		return maxRetryAfter
	}
	return d
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
