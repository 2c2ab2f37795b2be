package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/plugins/jira/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest"
)

// BenchmarkCreateBindResolve measures one ticket's life in-process against
// the emulator over real HTTP on 127.0.0.1 (no contract validation): Create
// (ledger read, search, ledger write, create, property/ledger writes), BindCI
// of an existing Assets object (AQL + issue edit) and Resolve (get,
// transitions, transition, ledger delete), with 1 and 16 tickets in flight.
func BenchmarkCreateBindResolve(b *testing.B) {
	for _, mode := range []struct{ name, extra string }{
		{"servicedesk", ""},
		{"issue", `mode = "issue"`},
	} {
		for _, conc := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/concurrent=%d", mode.name, conc), func(b *testing.B) {
				emu := emulator.New(emulator.Options{})
				srv := httptest.NewServer(emu)
				defer srv.Close()
				vm := "/subscriptions/sub-1/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm-bench"
				emu.SeedCI(emulator.CI{Name: "vm-bench", ResourceID: vm})
				p := NewWithLogger(hclog.NewNullLogger())
				src := fmt.Sprintf("url = %q\nusername = \"sandbox\"\napi_token = \"sandbox\"\nproject = \"OPS\"\n%s", srv.URL, mode.extra)
				cfg, err := plugintest.DecodeConfig(p.Schema(), src)
				if err != nil {
					b.Fatal(err)
				}
				if d := p.Configure(context.Background(), &sdk.ConfigureRequest{Config: cfg}); d.HasErrors() {
					b.Fatal(d.Error())
				}
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for g := 0; g < conc; g++ {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ctx := context.Background()
						for {
							i := next.Add(1)
							if i > int64(b.N) {
								return
							}
							key := fmt.Sprintf("bench-%d", i)
							ref, err := p.Create(ctx, createReq(key))
							if err != nil {
								b.Error(err)
								return
							}
							if _, err := p.BindCI(ctx, &sdk.BindCIRequest{Ref: *ref, TicketKey: key, Item: sdk.ConfigurationItem{ResourceID: vm, Name: "vm-bench"}}); err != nil {
								b.Error(err)
								return
							}
							if err := p.Resolve(ctx, &sdk.ResolveRequest{Ref: *ref, TicketKey: key}); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tickets/s")
			})
		}
	}
}
