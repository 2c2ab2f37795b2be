package normalize

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/itsmbridge/itsmbridge/core/alert"
)

// check reads fields leniently about JSON types and strictly about
// structure, and keeps the first structural problem it meets. Parsers read
// everything through it and look at err once at the end.
//
// Lenient: numbers and booleans are accepted where a string is expected,
// strings where a number is expected, null as "absent", arrays and objects
// sent as JSON-encoded strings, and a lone string where a list is expected.
// Strict: an object or array where a scalar belongs, a scalar where an
// object belongs, required members missing, unreadable times and severities.
type check struct {
	err *SchemaError
}

func (c *check) fail(v val, format string, args ...any) {
	if c.err == nil {
		c.err = &SchemaError{Path: v.jsonPath(), Reason: fmt.Sprintf(format, args...)}
	}
}

func (c *check) failMember(parent val, key, reason string) {
	if c.err == nil {
		p := parent.jsonPath()
		if p != "" {
			p += "."
		}
		c.err = &SchemaError{Path: p + key, Reason: reason}
	}
}

// str reads a scalar as a string.
func (c *check) str(v val) string {
	s, ok := v.text()
	if !ok {
		c.fail(v, "want a string, got %s", kindName(v.kind()))
	}
	return s
}

// soft reads a scalar as a string for best-effort fallbacks (descriptions,
// links): anything else is simply "".
func soft(v val) string {
	s, _ := v.text()
	return s
}

// need returns member key of parent, failing when it is missing or null.
func (c *check) need(parent val, key string) val {
	v := parent.get(key)
	if v.isNull() && parent.exists() {
		c.failMember(parent, key, "missing")
	}
	return v
}

// needObject is need for a member that must be an object.
func (c *check) needObject(parent val, key string) val {
	v := c.object(c.need(parent, key))
	if !v.exists() && parent.exists() {
		c.failMember(parent, key, "missing")
	}
	return v
}

// object accepts an object, null or missing (→ missing), or an object sent as
// a JSON-encoded string.
func (c *check) object(v val) val {
	return c.container(v, '{')
}

// array is object for arrays.
func (c *check) array(v val) val {
	return c.container(v, '[')
}

func (c *check) container(v val, want jsontext.Kind) val {
	switch k := v.kind(); k {
	case want:
		return v
	case 0, 'n':
		return missing
	case '"':
		if e, ok := embedded(v, want); ok {
			return e
		}
		fallthrough
	default:
		c.fail(v, "want %s, got %s", kindName(want), kindName(k))
		return missing
	}
}

// embedded decodes a string whose content is JSON of kind want.
func embedded(v val, want jsontext.Kind) (val, bool) {
	s := []byte(strings.TrimSpace(unquote(v.raw())))
	if len(s) == 0 || jsontext.Kind(s[0]) != want {
		return missing, false
	}
	e, err := parseEmbedded(s, v.jsonPath())
	if err != nil || e.kind() != want {
		return missing, false
	}
	return e, true
}

// strs reads a list of strings: an array of scalars, an array sent as a
// JSON-encoded string, a single string (a one-element list), or null.
func (c *check) strs(v val) []string {
	switch v.kind() {
	case 0, 'n':
		return nil
	case '"':
		if e, ok := embedded(v, '['); ok {
			return c.strs(e)
		}
		if s := c.str(v); s != "" {
			return []string{s}
		}
		return nil
	case '[':
		var out []string
		for e := v.first(); e.exists(); e = e.next() {
			if s := c.str(e); s != "" {
				out = append(out, s)
			}
		}
		return out
	case '0', 't', 'f':
		return []string{c.str(v)}
	}
	c.fail(v, "want a list of strings, got %s", kindName(v.kind()))
	return nil
}

// stringMap reads an object of scalars (customProperties). Nested objects and
// arrays are kept as compact JSON text rather than rejected: custom
// properties are free-form and worth keeping.
func (c *check) stringMap(v val) map[string]string {
	v = c.object(v)
	out := make(map[string]string)
	for m := v.first(); m.exists(); m = m.next() {
		if s, ok := m.text(); ok {
			out[m.name()] = s
			continue
		}
		raw := jsontext.Value(bytes.Clone(m.raw()))
		_ = raw.Compact() // already validated; Compact cannot fail here
		out[m.name()] = string(raw)
	}
	return out
}

// timeLayouts are the time formats Azure uses across schemas. Times without
// a zone are UTC (Azure writes UTC everywhere).
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"1/2/2006 3:04:05 PM", // Log Analytics v1 SearchIntervalStartTimeUtc
	time.RFC1123,
	time.RFC1123Z,
}

// time reads a timestamp and returns it as RFC 3339 UTC ("" when absent).
func (c *check) time(v val) string {
	s := strings.TrimSpace(c.str(v))
	if s == "" {
		return ""
	}
	t, ok := parseTime(s)
	if !ok {
		c.fail(v, "unrecognized time %q", s)
		return ""
	}
	return t
}

func parseTime(s string) (string, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC().Format(time.RFC3339Nano), true
		}
	}
	return "", false
}

// firstTime returns the first of vs that holds a time.
func (c *check) firstTime(vs ...val) string {
	for _, v := range vs {
		if t := c.time(v); t != "" {
			return t
		}
	}
	return ""
}

// severity reads a severity (see alert.ParseSeverity).
func (c *check) severity(v val) int {
	s := c.str(v)
	n, err := alert.ParseSeverity(s)
	if err != nil {
		c.fail(v, "%v", err)
		return alert.DefaultSeverity
	}
	return n
}

// status maps a monitor condition or legacy status to fired/resolved.
// Absent means fired: a notification is sent because something fired.
func (c *check) status(v val) string {
	s := strings.TrimSpace(c.str(v))
	switch strings.ToLower(s) {
	case "", "fired", "activated", "active":
		return alert.StatusFired
	case "resolved", "deactivated":
		return alert.StatusResolved
	}
	c.fail(v, "unknown status %q: want Fired, Activated, Resolved or Deactivated", s)
	return alert.StatusFired
}

// looseEq compares s with want (lower-case ASCII) ignoring ASCII case and
// spaces, dashes and underscores in s, so "ServiceHealth", "Service Health"
// and "service-health" all equal "servicehealth". It does not allocate.
func looseEq(s, want string) bool {
	j := 0
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == ' ' || ch == '-' || ch == '_':
			continue
		case 'A' <= ch && ch <= 'Z':
			ch += 'a' - 'A'
		}
		if j >= len(want) || want[j] != ch {
			return false
		}
		j++
	}
	return j == len(want)
}

// canonicalSignal spells the signal types the same way across schemas
// (the Service Health test payload says "ActivityLog").
func canonicalSignal(s string) string {
	switch {
	case looseEq(s, "metric"):
		return "Metric"
	case looseEq(s, "log"):
		return "Log"
	case looseEq(s, "activitylog"):
		return "Activity Log"
	}
	return strings.TrimSpace(s)
}
