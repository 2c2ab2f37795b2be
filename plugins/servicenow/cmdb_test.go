package main

import (
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/servicenow/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
)

const demoVM = "/subscriptions/11111111-1111-1111-1111-111111111111/resourcegroups/test-rg/providers/microsoft.compute/virtualmachines/test-vm"

func TestBindCI(t *testing.T) {
	f := newFixture(t, emulator.Options{SeedDemo: true}, "")
	ref := f.create("ci")
	bind := func(item sdk.ConfigurationItem, create, primary bool) (*sdk.CIRef, error) {
		return f.p.BindCI(ctx(t), &sdk.BindCIRequest{Ref: *ref, TicketKey: "ci", Item: item, CreateMissing: create, Primary: primary})
	}

	// existing, by Azure resource id (the CMDB stores it in mixed case)
	vm, err := bind(sdk.ConfigurationItem{ResourceID: demoVM, Name: "test-vm", ResourceType: "microsoft.compute/virtualmachines"}, false, true)
	if err != nil {
		t.Fatal(err)
	}
	if vm.Class != "cmdb_ci_vm_instance" || vm.Name != "test-VM" || vm.Created {
		t.Errorf("vm = %+v", vm)
	}
	if got := f.incident(ref.ID)["cmdb_ci"]; got != vm.ID {
		t.Errorf("cmdb_ci = %q, want %q", got, vm.ID)
	}

	// existing, found by name only (no resource id match)
	named, _ := f.emu.SeedCI(emulator.CI{Class: "cmdb_ci_cloud_database", Values: map[string]string{"name": "orders-db"}})
	db, err := bind(sdk.ConfigurationItem{ResourceID: "/subscriptions/s/resourcegroups/rg/providers/microsoft.sql/servers/orders-db",
		Name: "orders-db", ResourceType: "microsoft.sql/servers"}, false, false)
	if err != nil || db.ID != named {
		t.Fatalf("by name: %+v, %v", db, err)
	}
	// extra CIs go to task_ci, once
	if _, err := bind(sdk.ConfigurationItem{Name: "orders-db", ResourceType: "microsoft.sql/servers"}, false, false); err != nil {
		t.Fatal(err)
	}
	if rows := f.emu.Records("task_ci", "task="+ref.ID); len(rows) != 1 || rows[0]["ci_item"] != named {
		t.Errorf("task_ci rows = %v", rows)
	}

	// missing, not allowed to create → permanent, clear message
	missing := sdk.ConfigurationItem{ResourceID: "/subscriptions/s/resourcegroups/rg/providers/microsoft.storage/storageaccounts/newacct",
		ResourceType: "microsoft.storage/storageaccounts"}
	_, err = bind(missing, false, false)
	wantKind(t, "missing CI", err, sdk.KindPermanent)
	if !strings.Contains(err.Error(), "create_missing") || !strings.Contains(err.Error(), "newacct") {
		t.Errorf("missing CI error: %v", err)
	}

	// missing, create through identifyreconcile
	created, err := bind(missing, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if !created.Created || created.Class != "cmdb_ci_cloud_storage_account" || created.Name != "newacct" {
		t.Errorf("created = %+v", created)
	}
	rec, _ := f.emu.Record("cmdb_ci", created.ID)
	if rec["object_id"] != missing.ResourceID || rec["discovery_source"] != "ServiceNow" {
		t.Errorf("created CI = %v", rec)
	}
	// binding again finds it instead of creating
	if again, err := bind(missing, true, false); err != nil || again.ID != created.ID || again.Created {
		t.Errorf("second bind = %+v, %v", again, err)
	}

	// unmapped type: no class to create in
	_, err = bind(sdk.ConfigurationItem{ResourceID: "/subscriptions/s/providers/microsoft.foo/bars/x", ResourceType: "microsoft.foo/bars"}, true, false)
	wantKind(t, "unmapped type", err, sdk.KindPermanent)
	if !strings.Contains(err.Error(), "class_map") {
		t.Errorf("unmapped error: %v", err)
	}
	_, err = bind(sdk.ConfigurationItem{}, true, false)
	wantKind(t, "empty item", err, sdk.KindPermanent)
}

// TestBindCIIgnoresClassWithoutIDField: a class without the id field would
// match every CI (the ignored-condition trap); the plugin must not bind one.
func TestBindCIIgnoresClassWithoutIDField(t *testing.T) {
	f := newFixture(t, emulator.Options{}, `ci_lookup {
  classes       = ["cmdb_ci_service", "cmdb_ci_vm_instance"]
  name_fallback = false
}`)
	f.emu.SeedCI(emulator.CI{Class: "cmdb_ci_service", Values: map[string]string{"name": "Payroll"}})
	ref := f.create("trap")
	_, err := f.p.BindCI(ctx(t), &sdk.BindCIRequest{Ref: *ref, Item: sdk.ConfigurationItem{ResourceID: demoVM, ResourceType: "microsoft.compute/virtualmachines"}})
	wantKind(t, "trap", err, sdk.KindPermanent)
	if got := f.incident(ref.ID)["cmdb_ci"]; got != "" {
		t.Errorf("bound %q through an ignored query condition", got)
	}
}

func TestBindCIDefaultClass(t *testing.T) {
	f := newFixture(t, emulator.Options{}, `ci_lookup {
  default_class = "cmdb_ci_cloud_function"
  class_map     = { "microsoft.web/serverfarms" = "cmdb_ci_cloud_load_balancer" }
}`)
	ref := f.create("dc")
	for typ, want := range map[string]string{"microsoft.foo/bars": "cmdb_ci_cloud_function", "microsoft.web/serverfarms": "cmdb_ci_cloud_load_balancer"} {
		ci, err := f.p.BindCI(ctx(t), &sdk.BindCIRequest{Ref: *ref, CreateMissing: true,
			Item: sdk.ConfigurationItem{ResourceID: "/subscriptions/s/providers/" + typ + "/x1", ResourceType: typ}})
		if err != nil || ci.Class != want {
			t.Errorf("%s: %+v, %v", typ, ci, err)
		}
	}
}
