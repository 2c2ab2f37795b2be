package main

import (
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/cherwell/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest"
)

// backend adapts the emulator to the conformance kit: the kit's
// FaultHandler injects faults in front of the (swagger-validated) emulator.
type backend struct {
	*plugintest.FaultHandler
	emu *emulator.Emulator
}

func (b backend) Reset() {
	b.ResetFaults()
	b.emu.ClearFaults()
}

func (b backend) CountTickets(key string) int { return b.emu.CountTickets(key) }

func TestConformance(t *testing.T) {
	emu := emulator.New(emulator.Options{ClientID: testClientID, Username: testUser, Password: testPassword})
	validated := validator(t).Wrap(emu, emulator.BasePath+"/", func(err error) { t.Errorf("contract: %v", err) })
	faults := plugintest.NewFaultHandler(validated)
	srv := httptest.NewServer(faults)
	defer srv.Close()

	base := fmt.Sprintf("url = %q\nclient_id = %q\nusername = %q\npassword = %q\n", srv.URL+"/CherwellAPI", testClientID, testUser, testPassword)
	plugintest.Run(t, plugintest.Options{
		Factory: func() sdk.Plugin { return New() },
		Config:  base,
		Backend: backend{FaultHandler: faults, emu: emu},
		Binary:  ".",
		BadConfigs: []plugintest.BadConfig{
			{Config: fmt.Sprintf("url = %q\nclient_id = %q\nusername = %q\npassword = %q\n", srv.URL+"/CherwellAPI", testClientID, testUser, "wrong-password"), Path: []string{"password"}},
			{Config: fmt.Sprintf("url = %q\nclient_id = %q\nusername = %q\npassword = %q\n", srv.URL+"/CherwellAPI", "unknown-client", testUser, testPassword), Path: []string{"client_id"}},
			{Config: base + `business_object = "NoSuchObject"` + "\n", Path: []string{"business_object"}},
			{Config: base + `correlation_field = "NoSuchField"` + "\n", Path: []string{"correlation_field"}},
			{Config: base + `ci_object_types = ["Config - Nothing"]` + "\n", Path: []string{"ci_object_types"}},
			{Config: base + `resolved_status = "Finished"` + "\n", Path: []string{"resolved_status"}},
		},
		CI: &sdk.ConfigurationItem{ResourceID: vmID, Name: "vm-web-01", ResourceType: "microsoft.compute/virtualmachines"},
	})
}
