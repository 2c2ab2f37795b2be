package alert

import (
	"strings"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// ConfigurationItems expands a.ConfigurationItems (strings) into the
// sdk.ConfigurationItem values plugins bind, so they can look a CI up by its
// Azure resource id first and by name and class second (DESIGN §7).
//
// An item that is itself an ARM id is parsed. An item that is a name is
// matched against the alert's targets, by resource name (case-insensitively,
// since ARM names are), and takes the matching target's id, type,
// subscription and resource group. A name that matches no target keeps only
// its name. The result is never nil.
func ConfigurationItems(a *Alert) []sdk.ConfigurationItem {
	targets := make([]ResourceID, 0, len(a.Targets))
	for _, t := range a.Targets {
		if r, err := ParseResourceID(t); err == nil {
			targets = append(targets, r)
		}
	}
	out := make([]sdk.ConfigurationItem, 0, len(a.ConfigurationItems))
	for _, ci := range a.ConfigurationItems {
		if strings.HasPrefix(ci, "/") {
			if r, err := ParseResourceID(ci); err == nil {
				out = append(out, fromResource(r, r.Name))
				continue
			}
		}
		item := sdk.ConfigurationItem{Name: ci}
		for _, t := range targets {
			if strings.EqualFold(t.Name, ci) {
				item = fromResource(t, ci)
				break
			}
		}
		out = append(out, item)
	}
	return out
}

func fromResource(r ResourceID, name string) sdk.ConfigurationItem {
	return sdk.ConfigurationItem{
		ResourceID:    r.ID,
		Name:          name,
		ResourceType:  r.Type,
		Subscription:  r.Subscription,
		ResourceGroup: r.ResourceGroup,
	}
}
