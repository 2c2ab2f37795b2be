package auth

import "testing"

func TestSubscriptionAllowed(t *testing.T) {
	const (
		subA = "11111111-1111-1111-1111-111111111111"
		subB = "22222222-2222-2222-2222-222222222222"
	)
	alertA := "/subscriptions/" + subA + "/providers/Microsoft.AlertsManagement/alerts/12345678-1234-1234-1234-1234567890ab"
	vmA := "/subscriptions/" + subA + "/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"
	vmB := "/subscriptions/" + subB + "/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm2"
	cases := []struct {
		name    string
		allowed []string
		alertID string
		targets []string
		want    bool
	}{
		{"empty list allows all", nil, alertA, []string{vmB}, true},
		{"empty list allows an alert without ids", nil, "", nil, true},
		{"alert and target inside", []string{subA}, alertA, []string{vmA}, true},
		{"upper-case ARM id", []string{subA}, "/SUBSCRIPTIONS/" + subA + "/PROVIDERS/x", nil, true},
		{"entry as ARM path", []string{"/subscriptions/" + subA}, alertA, nil, true},
		{"entry with trailing slash", []string{"/subscriptions/" + subA + "/"}, alertA, nil, true},
		{"upper-case entry", []string{"AAAAAAAA-1111-1111-1111-111111111111"}, "/subscriptions/aaaaaaaa-1111-1111-1111-111111111111/x", nil, true},
		{"alert outside", []string{subB}, alertA, nil, false},
		{"one target outside", []string{subA}, alertA, []string{vmA, vmB}, false},
		{"targets only", []string{subB}, "", []string{vmB}, true},
		{"both subscriptions allowed", []string{subA, subB}, alertA, []string{vmB}, true},
		{"no subscription named at all", []string{subA}, "", nil, false},
		{"only ids outside any subscription", []string{subA}, "/providers/Microsoft.Management/managementGroups/mg1", nil, false},
		{"management group id ignored", []string{subA}, alertA, []string{"/providers/Microsoft.Management/managementGroups/mg1"}, true},
		{"nested 'subscriptions' segment is not the subscription", []string{subA}, alertA,
			[]string{"/subscriptions/" + subA + "/resourceGroups/rg/providers/Microsoft.ServiceBus/namespaces/ns/topics/t/subscriptions/" + subB}, true},
		{"empty subscription segment", []string{subA}, "/subscriptions//x", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := SubscriptionAllowed(tc.allowed, tc.alertID, tc.targets); got != tc.want {
				t.Fatalf("SubscriptionAllowed(%q, %q, %q) = %v, want %v", tc.allowed, tc.alertID, tc.targets, got, tc.want)
			}
		})
	}
}
