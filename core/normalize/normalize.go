package normalize

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/itsmbridge/itsmbridge/core/alert"
)

// ErrMalformed is matched (errors.Is) when the payload is not valid JSON.
var ErrMalformed = errors.New("malformed JSON")

// ErrUnknownSchema is matched (errors.Is) when the payload is valid JSON but
// no known alert schema: no family recognizes it, or the family it announces
// (by schemaId) finds a structure that schema does not allow. The concrete
// error is a *SchemaError saying why. Ingest quarantines these (DESIGN §8).
var ErrUnknownSchema = errors.New("unknown alert schema")

// SchemaError explains an ErrUnknownSchema.
type SchemaError struct {
	// Schema is how the payload announced itself (its schemaId, or the
	// family recognized by its fields); empty when nothing matched.
	Schema string
	// Path is the JSON path of the offending value, e.g.
	// "data.essentials.alertTargetIDs"; empty for the payload as a whole.
	Path string
	// Reason says what is wrong, for people.
	Reason string
}

func (e *SchemaError) Error() string {
	var b strings.Builder
	b.WriteString(ErrUnknownSchema.Error())
	b.WriteString(": ")
	if e.Schema != "" {
		b.WriteString(e.Schema)
		b.WriteString(" payload: ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Is makes errors.Is(err, ErrUnknownSchema) hold.
func (e *SchemaError) Is(target error) bool { return target == ErrUnknownSchema }

// family is one schema family: a detector and a parser. Each family lives in
// its own file and registers itself from init, so supporting a new schema is
// one new file. Detectors must be mutually exclusive (a test checks this on
// every sample).
type family struct {
	// name is how the payload announces the family (its schemaId), for
	// error messages.
	name string
	// detect looks at the decoded payload only; it must be cheap.
	detect func(root val) bool
	// parse fills a from the payload and reports structural problems
	// through c. It sets Schema and may leave everything finalize derives
	// (severity name, dedup key, resource fields, CI fallback) empty.
	parse func(root val, c *check, a *alert.Alert)
}

var families []family

func register(f family) { families = append(families, f) }

// detect returns the family that recognizes root, or nil.
func detect(root val) *family {
	for i := range families {
		if families[i].detect(root) {
			return &families[i]
		}
	}
	return nil
}

// Normalize turns one Azure Monitor webhook payload into the canonical alert.
//
// The payload is decoded once. Source is left empty (ingest sets it); slices
// and maps are never nil. Invalid JSON yields an error matching
// ErrMalformed; valid JSON of no known schema an error matching
// ErrUnknownSchema (a *SchemaError). Normalize never panics and keeps no
// reference to raw.
func Normalize(raw []byte) (*alert.Alert, error) {
	p := getParser()
	defer putParser(p)
	root, err := p.parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrMalformed, oneLine(err.Error()))
	}
	if k := root.kind(); k != '{' {
		return nil, &SchemaError{Reason: "the payload is " + kindName(k) + ", not a JSON object"}
	}
	f := detect(root)
	if f == nil {
		return nil, &SchemaError{Reason: unknownReason(root)}
	}
	var c check
	a := &alert.Alert{}
	f.parse(root, &c, a)
	if c.err != nil {
		c.err.Schema = f.name
		return nil, c.err
	}
	finalize(a)
	return a, nil
}

// unknownReason explains why no family recognized root.
func unknownReason(root val) string {
	if id := root.get("schemaId"); id.exists() {
		s, ok := id.text()
		if !ok {
			return "schemaId is " + kindName(id.kind()) + ", not a string"
		}
		return fmt.Sprintf("unsupported schemaId %q", s)
	}
	return "no schemaId, and not a legacy Log Analytics alert (no AlertRuleName and SearchQuery)"
}

// schemaIDIs is the detector of the families that announce themselves.
func schemaIDIs(want string) func(val) bool {
	return func(root val) bool {
		s, ok := root.get("schemaId").text()
		return ok && strings.EqualFold(strings.TrimSpace(s), want)
	}
}

// finalize derives what is common to every schema and enforces the
// invariants of sdk.Alert.
func finalize(a *alert.Alert) {
	// Targets are compared and kept lower-cased, but parsed as sent so
	// resource group and resource names keep the case Azure used.
	var targets uniq
	var names []string
	resourceSet := false
	for _, t := range a.Targets {
		t = strings.TrimSuffix(strings.TrimSpace(t), "/")
		if t == "" || !targets.add(strings.ToLower(t)) {
			continue
		}
		r, err := alert.ParseResourceID(t)
		if err != nil {
			continue
		}
		if !resourceSet { // the first target that is an ARM id
			a.Subscription, a.ResourceGroup, a.ResourceType, a.ResourceName = r.Subscription, r.ResourceGroup, r.Type, r.Name
			resourceSet = true
		}
		names = append(names, r.Name)
	}
	a.Subscription = strings.ToLower(a.Subscription)
	a.Targets = targets.list()

	cis := a.ConfigurationItems
	if len(nonEmpty(cis)) == 0 {
		cis = names // last resort: the targets' resource names
	}
	var out uniq
	for _, ci := range cis {
		ci = strings.TrimSpace(ci)
		if strings.HasPrefix(ci, "/") {
			if _, err := alert.ParseResourceID(ci); err == nil {
				ci = strings.ToLower(strings.TrimSuffix(ci, "/"))
			}
		}
		if ci != "" {
			out.add(ci)
		}
	}
	a.ConfigurationItems = out.list()

	a.SeverityName = alert.SeverityName(a.Severity)
	if a.Status != alert.StatusResolved {
		a.ResolvedAt = ""
	}
	if a.Custom == nil {
		a.Custom = map[string]string{}
	}
	if len(a.Context) == 0 {
		a.Context = []byte("{}")
	}
	a.DedupKey = alert.DedupKey(a)
}

// dedupe drops repeated strings, keeping the first occurrence.
func dedupe(in []string) []string {
	var u uniq
	for _, s := range in {
		u.add(s)
	}
	return u.list()
}

// uniq collects distinct strings in order. Lists are usually a few entries,
// where a linear scan is cheapest; a map takes over for long ones so a
// hostile payload with thousands of targets stays linear.
type uniq struct {
	out  []string
	seen map[string]struct{}
}

// add appends s unless it is already there and reports whether it did.
func (u *uniq) add(s string) bool {
	if u.seen == nil && len(u.out) < 16 {
		for _, t := range u.out {
			if t == s {
				return false
			}
		}
	} else {
		if u.seen == nil {
			u.seen = make(map[string]struct{}, 2*len(u.out))
			for _, t := range u.out {
				u.seen[t] = struct{}{}
			}
		}
		if _, ok := u.seen[s]; ok {
			return false
		}
		u.seen[s] = struct{}{}
	}
	u.out = append(u.out, s)
	return true
}

// list returns the strings collected, never nil.
func (u *uniq) list() []string {
	if u.out == nil {
		return []string{}
	}
	return u.out
}

func nonEmpty(in []string) []string {
	for _, s := range in {
		if strings.TrimSpace(s) != "" {
			return in
		}
	}
	return nil
}

// rawContext copies the alert context as sent (the alert must not alias the
// caller's buffer). Null and missing become nil, which finalize turns into {}.
func rawContext(v val) []byte {
	if v.isNull() {
		return nil
	}
	return bytes.Clone(v.raw())
}

// oneLine keeps error messages on one line, as the CLI promises.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
