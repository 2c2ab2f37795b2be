package main

import (
	"fmt"
	"testing"

	"github.com/itsmbridge/itsmbridge/plugins/jira/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest"
)

// backend adapts the emulator to plugintest.Backend; the kit's FaultHandler
// (in front of the contract middleware) supplies faults, network breaks and
// stalls.
type backend struct {
	*plugintest.FaultHandler
	emu *emulator.Emulator
}

func (b backend) Reset() { b.ResetFaults(); b.emu.ClearFaults() }

// CountTickets counts issues carrying the key (label, text field or issue
// property: the plugin always writes the raw key into the property).
func (b backend) CountTickets(key string) int { return b.emu.CountTickets(key) }

func TestConformance(t *testing.T) {
	f := newServer(t, emulator.Options{APIToken: "kit-S3cret-token"})
	base := fmt.Sprintf("url = %q\nusername = \"sandbox\"\napi_token = \"kit-S3cret-token\"\n", f.srv.URL)
	binary := "."
	if testing.Short() {
		binary = "" // skips building the plugin for the stdio check
	}
	for _, mode := range []struct{ name, config string }{
		{"servicedesk", base + "project = \"OPS\"\n"},
		{"issue", base + "project = \"OPS\"\nmode = \"issue\"\ncorrelation {\n type = \"field\"\n field = \"Alert correlation\"\n}\n"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			opts := plugintest.Options{
				Factory: func() sdk.Plugin { return New() },
				Config:  mode.config,
				Backend: backend{FaultHandler: f.faults, emu: f.emu},
				BadConfigs: []plugintest.BadConfig{
					{Config: fmt.Sprintf("url = %q\nusername = \"sandbox\"\napi_token = \"wrong-S3cret-token\"\nproject = \"OPS\"", f.srv.URL), Path: []string{"api_token"}},
					{Config: base + `project = "NOPE"`, Path: []string{"project"}},
					{Config: base + "project = \"OPS\"\nrequest_type = \"Order a pizza\"", Path: []string{"request_type"}},
					{Config: base + "project = \"OPS\"\npriority_map = { \"1\" = \"Blocker\" }", Path: []string{"priority_map"}},
					{Config: base + "project = \"DEV\"\nmode = \"servicedesk\"", Path: []string{"mode"}},
				},
			}
			if mode.name == "servicedesk" {
				opts.Binary = binary
			}
			plugintest.Run(t, opts)
		})
	}
}
