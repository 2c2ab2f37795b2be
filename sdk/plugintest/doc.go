// Package plugintest is the conformance kit a vendor runs in `go test`
// against their itsmbridge plugin and a backend (an emulator, or a real
// instance in acceptance tests):
//
//	func TestConformance(t *testing.T) {
//		emu := httptest.NewServer(plugintest.NewFaultHandler(myemulator.New()))
//		defer emu.Close()
//		plugintest.Run(t, plugintest.Options{
//			Factory: func() sdk.Plugin { return New() },
//			Config:  fmt.Sprintf("instance_url = %q\npassword = \"s3cret-pass\"", emu.URL),
//			Backend: myBackend{...}, // Reset, CountTickets (+ the FaultHandler's methods)
//			Binary:  ".",
//		})
//	}
//
// Run serves the plugin in the test process over real gRPC and talks to it
// through sdk/hostclient, the client core/pluginhost uses, then runs one
// subtest per check: schema, capabilities, configure, create_idempotent,
// resolve (twice, then Create of the same key opens a new ticket),
// cancellation, error_classification, secret_hygiene and stdio (the built
// binary through a real go-plugin handshake). Checks that need a
// backend feature the adapter lacks (FaultInjector, NetworkBreaker, Staller)
// are skipped with the reason.
//
// NewHarness, BuildAndHandshake and DecodeConfig are exported for a vendor's
// own tests.
package plugintest
