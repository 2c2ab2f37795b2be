package alert

import (
	"reflect"
	"testing"

	"github.com/itsmbridge/itsmbridge/sdk"
)

func TestConfigurationItems(t *testing.T) {
	a := &Alert{
		Targets: []string{
			"not an arm id",
			"/subscriptions/s1/resourcegroups/rg1/providers/microsoft.compute/virtualmachines/web-01",
			"/subscriptions/s1/resourcegroups/rg2/providers/microsoft.sql/servers/sql1/databases/db1",
		},
		ConfigurationItems: []string{
			"Web-01", // by name, case-insensitively
			"db1",    // nested type
			"/subscriptions/S2/resourceGroups/RG3/providers/Microsoft.Web/sites/App1", // an id itself
			"unknown-host", // no target: name only
		},
	}
	want := []sdk.ConfigurationItem{
		{ResourceID: "/subscriptions/s1/resourcegroups/rg1/providers/microsoft.compute/virtualmachines/web-01", Name: "Web-01", ResourceType: "microsoft.compute/virtualmachines", Subscription: "s1", ResourceGroup: "rg1"},
		{ResourceID: "/subscriptions/s1/resourcegroups/rg2/providers/microsoft.sql/servers/sql1/databases/db1", Name: "db1", ResourceType: "microsoft.sql/servers/databases", Subscription: "s1", ResourceGroup: "rg2"},
		{ResourceID: "/subscriptions/s2/resourcegroups/rg3/providers/microsoft.web/sites/app1", Name: "App1", ResourceType: "microsoft.web/sites", Subscription: "s2", ResourceGroup: "RG3"},
		{Name: "unknown-host"},
	}
	if got := ConfigurationItems(a); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if got := ConfigurationItems(&Alert{}); got == nil || len(got) != 0 {
		t.Errorf("empty alert: got %#v, want an empty non-nil slice", got)
	}
}
