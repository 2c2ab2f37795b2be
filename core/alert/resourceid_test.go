package alert

import (
	"errors"
	"testing"
)

func TestParseResourceID(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ResourceID
	}{
		{"/subscriptions/S1/resourceGroups/RG1/providers/Microsoft.Compute/virtualMachines/VM1",
			ResourceID{ID: "/subscriptions/s1/resourcegroups/rg1/providers/microsoft.compute/virtualmachines/vm1", Subscription: "s1", ResourceGroup: "RG1", Provider: "microsoft.compute", Type: "microsoft.compute/virtualmachines", Name: "VM1"}},
		{"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Sql/servers/s1/databases/db1",
			ResourceID{ID: "/subscriptions/s1/resourcegroups/rg/providers/microsoft.sql/servers/s1/databases/db1", Subscription: "s1", ResourceGroup: "rg", Provider: "microsoft.sql", Type: "microsoft.sql/servers/databases", Name: "db1"}},
		{"/SUBSCRIPTIONS/s1/RESOURCEGROUPS/rg/PROVIDERS/microsoft.web/sites/app/slots/staging",
			ResourceID{ID: "/subscriptions/s1/resourcegroups/rg/providers/microsoft.web/sites/app/slots/staging", Subscription: "s1", ResourceGroup: "rg", Provider: "microsoft.web", Type: "microsoft.web/sites/slots", Name: "staging"}},
		{"/subscriptions/s1",
			ResourceID{ID: "/subscriptions/s1", Subscription: "s1", Provider: "microsoft.resources", Type: "microsoft.resources/subscriptions", Name: "s1"}},
		{"/subscriptions/11111111-1111-1111-1111-111111111111/", // budget Scope has a trailing slash
			ResourceID{ID: "/subscriptions/11111111-1111-1111-1111-111111111111", Subscription: "11111111-1111-1111-1111-111111111111", Provider: "microsoft.resources", Type: "microsoft.resources/subscriptions", Name: "11111111-1111-1111-1111-111111111111"}},
		{"/subscriptions/s1/resourcegroups/My-RG",
			ResourceID{ID: "/subscriptions/s1/resourcegroups/my-rg", Subscription: "s1", ResourceGroup: "My-RG", Provider: "microsoft.resources", Type: "microsoft.resources/resourcegroups", Name: "My-RG"}},
		{"/subscriptions/s1/providers/Microsoft.Security/locations/centralus/alerts/Sec-1",
			ResourceID{ID: "/subscriptions/s1/providers/microsoft.security/locations/centralus/alerts/sec-1", Subscription: "s1", Provider: "microsoft.security", Type: "microsoft.security/locations/alerts", Name: "Sec-1"}},
		// An extension resource: the type is the extension's.
		{"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.ResourceHealth/availabilityStatuses/current",
			ResourceID{ID: "/subscriptions/s1/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm/providers/microsoft.resourcehealth/availabilitystatuses/current", Subscription: "s1", ResourceGroup: "rg", Provider: "microsoft.resourcehealth", Type: "microsoft.resourcehealth/availabilitystatuses", Name: "current"}},
		// A resource may be named "providers".
		{"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Web/sites/providers",
			ResourceID{ID: "/subscriptions/s1/resourcegroups/rg/providers/microsoft.web/sites/providers", Subscription: "s1", ResourceGroup: "rg", Provider: "microsoft.web", Type: "microsoft.web/sites", Name: "providers"}},
		// Tenant level.
		{"/providers/Microsoft.Management/managementGroups/MG1",
			ResourceID{ID: "/providers/microsoft.management/managementgroups/mg1", Provider: "microsoft.management", Type: "microsoft.management/managementgroups", Name: "MG1"}},
		// Placeholders from Azure's docs are just names.
		{"/subscriptions/<subscription ID>/resourcegroups/pipelinealertrg/providers/microsoft.compute/virtualmachines/wcus-r2-gen2",
			ResourceID{ID: "/subscriptions/<subscription id>/resourcegroups/pipelinealertrg/providers/microsoft.compute/virtualmachines/wcus-r2-gen2", Subscription: "<subscription id>", ResourceGroup: "pipelinealertrg", Provider: "microsoft.compute", Type: "microsoft.compute/virtualmachines", Name: "wcus-r2-gen2"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseResourceID(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseResourceIDErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"/",
		"subscriptions/s1",
		"/subscriptions",
		"/subscriptions/",
		"/subscriptions/s1/resourceGroups",
		"/subscriptions/s1/resourceGroups/",
		"/subscriptions/s1/foo/bar",
		"/subscriptions/s1/resourceGroups/rg/providers",
		"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute",
		"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines",
		"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Sql/servers/s1/databases",
		"/subscriptions/s1//resourceGroups/rg",
		"/resourceGroups/rg",
		"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm/providers/Microsoft.Insights",
		"https://portal.azure.com/#resource/subscriptions/s1",
	} {
		if r, err := ParseResourceID(in); !errors.Is(err, ErrInvalidResourceID) {
			t.Errorf("ParseResourceID(%q) = %+v, %v; want ErrInvalidResourceID", in, r, err)
		}
	}
}
