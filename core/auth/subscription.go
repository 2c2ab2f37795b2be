package auth

import "strings"

// SubscriptionAllowed implements a source's allowed_subscriptions: with an
// empty allow-list every alert is allowed; otherwise every subscription named
// by the alert's id and its target resource ids must be in the list, and at
// least one must be named (an alert that names none cannot be shown to be
// inside). Entries may be subscription GUIDs or "/subscriptions/<guid>";
// comparison ignores case, as ARM ids do. Ids that are not under a
// subscription (e.g. management groups) are ignored.
func SubscriptionAllowed(allowed []string, alertID string, targets []string) bool {
	if len(allowed) == 0 {
		return true
	}
	found := false
	check := func(id string) bool {
		sub, ok := subscriptionOf(id)
		if !ok {
			return true
		}
		found = true
		for _, a := range allowed {
			if strings.EqualFold(sub, normalizeSubscription(a)) {
				return true
			}
		}
		return false
	}
	if !check(alertID) {
		return false
	}
	for _, t := range targets {
		if !check(t) {
			return false
		}
	}
	return found
}

// subscriptionOf returns the subscription of an ARM id
// ("/subscriptions/<sub>/..."), if it is subscription-scoped.
func subscriptionOf(id string) (string, bool) {
	const p = "/subscriptions/"
	id = strings.TrimSpace(id)
	if len(id) <= len(p) || !strings.EqualFold(id[:len(p)], p) {
		return "", false
	}
	sub, _, _ := strings.Cut(id[len(p):], "/")
	return sub, sub != ""
}

func normalizeSubscription(s string) string {
	s = strings.TrimSpace(s)
	if sub, ok := subscriptionOf(s); ok {
		return sub
	}
	return strings.Trim(s, "/")
}
