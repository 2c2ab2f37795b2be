package alert

import (
	"errors"
	"fmt"
	"strings"
)

// ResourceID is a parsed Azure Resource Manager id.
//
// ARM ids are case-insensitive: ID, Subscription, Provider and Type are
// lower-cased so they compare equal across schemas, while ResourceGroup and
// Name keep the case they were sent with (they are shown to people and looked
// up in CMDBs).
type ResourceID struct {
	// ID is the whole id, lower-cased, without a trailing slash.
	ID string
	// Subscription is the subscription id; empty for tenant-level resources.
	Subscription string
	// ResourceGroup is empty for subscription- and tenant-level resources.
	ResourceGroup string
	// Provider is the namespace of the resource's type, e.g. "microsoft.sql".
	// For an extension resource (a second /providers/ segment) it is the
	// extension's namespace.
	Provider string
	// Type is the full resource type including parent types, e.g.
	// "microsoft.sql/servers/databases". Subscriptions and resource groups
	// get the types ARM itself uses: "microsoft.resources/subscriptions" and
	// "microsoft.resources/resourcegroups".
	Type string
	// Name is the last name segment: "db1" in .../servers/s1/databases/db1.
	Name string
}

// ErrInvalidResourceID is matched (errors.Is) by every ParseResourceID error.
var ErrInvalidResourceID = errors.New("invalid ARM resource id")

// ParseResourceID parses an ARM id of any of these shapes (keywords match
// case-insensitively, a trailing slash is ignored):
//
//	/subscriptions/{sub}
//	/subscriptions/{sub}/resourceGroups/{rg}
//	[/subscriptions/{sub}[/resourceGroups/{rg}]]/providers/{ns}/{type}/{name}[/{type}/{name}]...
//	... followed by any number of extension segments /providers/{ns}/{type}/{name}...
func ParseResourceID(id string) (ResourceID, error) {
	fail := func(reason string) (ResourceID, error) {
		return ResourceID{}, fmt.Errorf("%w %q: %s", ErrInvalidResourceID, id, reason)
	}
	trimmed := strings.TrimSuffix(id, "/")
	if !strings.HasPrefix(trimmed, "/") {
		return fail("must start with /")
	}
	segs := strings.Split(trimmed[1:], "/")
	for _, s := range segs {
		if s == "" {
			return fail("empty segment")
		}
	}
	var r ResourceID
	i := 0
	if strings.EqualFold(segs[0], "subscriptions") {
		if len(segs) < 2 {
			return fail("subscriptions without an id")
		}
		r.Subscription = strings.ToLower(segs[1])
		r.Provider, r.Type, r.Name = "microsoft.resources", "microsoft.resources/subscriptions", segs[1]
		i = 2
		if i < len(segs) && strings.EqualFold(segs[i], "resourceGroups") {
			if i+1 >= len(segs) {
				return fail("resourceGroups without a name")
			}
			r.ResourceGroup = segs[i+1]
			r.Type, r.Name = "microsoft.resources/resourcegroups", segs[i+1]
			i += 2
		}
	}
	if i == 0 && !strings.EqualFold(segs[0], "providers") {
		return fail("must start with /subscriptions/ or /providers/")
	}
	for i < len(segs) {
		if !strings.EqualFold(segs[i], "providers") {
			return fail(fmt.Sprintf("want \"providers\" at segment %d, got %q", i+1, segs[i]))
		}
		if i+1 >= len(segs) {
			return fail("providers without a namespace")
		}
		ns := segs[i+1]
		i += 2
		typ := []string{ns}
		name := ""
		// Type/name pairs up to the next "providers" keyword. A name may
		// itself be "providers", so only type positions are checked.
		for i < len(segs) && !strings.EqualFold(segs[i], "providers") {
			if i+1 >= len(segs) {
				return fail(fmt.Sprintf("resource type %q without a name", segs[i]))
			}
			typ = append(typ, segs[i])
			name = segs[i+1]
			i += 2
		}
		if len(typ) == 1 {
			return fail(fmt.Sprintf("provider %q without a resource type and name", ns))
		}
		r.Provider = strings.ToLower(ns)
		r.Type = strings.ToLower(strings.Join(typ, "/"))
		r.Name = name
	}
	r.ID = strings.ToLower(trimmed)
	return r, nil
}

// String returns the lower-cased id.
func (r ResourceID) String() string { return r.ID }
