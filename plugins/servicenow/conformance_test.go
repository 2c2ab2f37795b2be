package main

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/servicenow/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest"
)

// backend adapts the emulator to plugintest.Backend; the kit's FaultHandler
// supplies fault injection, network breaks and stalls.
type backend struct {
	*plugintest.FaultHandler
	emu *emulator.Emulator
}

func (b backend) Reset() { b.ResetFaults() }

// CountTickets counts by the value the plugin stores for the key.
func (b backend) CountTickets(key string) int { return b.emu.CountTickets(correlationValue(key)) }

func TestConformance(t *testing.T) {
	emu := emulator.New(emulator.Options{
		Users:        []emulator.User{{UserName: "itsm-kit", Password: "kit-Pa55word", Roles: []string{"itil"}}},
		OAuthClients: []emulator.OAuthClient{{ID: "kit-client", Secret: "kit-client-S3cret", User: "itsm-kit"}},
		SeedDemo:     true,
	})
	faults := plugintest.NewFaultHandler(emu)
	srv := httptest.NewServer(faults)
	t.Cleanup(srv.Close)
	basic := fmt.Sprintf("instance_url = %q\nusername = \"itsm-kit\"\npassword = \"kit-Pa55word\"\n", srv.URL)
	bad := []plugintest.BadConfig{
		{Config: fmt.Sprintf("instance_url = %q\nusername = \"itsm-kit\"\npassword = \"wrong-Pa55word\"", srv.URL), Path: []string{"password"}},
		{Config: basic + `table = "no_such_table"`, Path: []string{"table"}},
		{Config: basic + `assignment_group = "Nobody"`, Path: []string{"assignment_group"}},
		{Config: basic + `close_code = "Fixed it"`, Path: []string{"close_code"}},
		{Config: fmt.Sprintf("instance_url = %q\noauth {\n client_id = \"kit-client\"\n client_secret = \"wrong-client-S3cret\"\n grant_type = \"client_credentials\"\n}", srv.URL), Path: []string{"oauth"}},
	}
	binary := "."
	if testing.Short() {
		binary = "" // skips building the plugin for the stdio check
	}
	for _, mode := range []struct{ name, config string }{
		{"basic", basic},
		{"oauth", fmt.Sprintf("instance_url = %q\nusername = \"itsm-kit\"\npassword = \"kit-Pa55word\"\noauth {\n client_id = \"kit-client\"\n client_secret = \"kit-client-S3cret\"\n}\n", srv.URL)},
	} {
		t.Run(mode.name, func(t *testing.T) {
			opts := plugintest.Options{
				Factory:    func() sdk.Plugin { return New() },
				Config:     mode.config,
				Backend:    backend{FaultHandler: faults, emu: emu},
				BadConfigs: bad,
				UnknownRef: &sdk.TicketRef{ID: strings.Repeat("0", 32), Number: "INC9999999"},
			}
			if mode.name == "basic" {
				opts.Binary = binary
			}
			plugintest.Run(t, opts)
		})
	}
}
