package main

import (
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/plugins/cherwell/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest"
)

// BenchmarkLifecycle measures one ticket's create + bind CI + resolve,
// in-process against the emulator over real HTTP on 127.0.0.1, with 1 and 16
// tickets in flight. Each ticket has its own key and its own CI (created on
// the first bind), so every op does the full find-or-create work.
func BenchmarkLifecycle(b *testing.B) {
	for _, conc := range []int{1, 16} {
		b.Run(fmt.Sprintf("concurrent=%d", conc), func(b *testing.B) {
			emu := emulator.New(emulator.Options{MaxCalls: 1 << 30})
			srv := httptest.NewServer(emu)
			defer srv.Close()
			p := New(WithLogger(hclog.NewNullLogger()))
			cfg, err := plugintest.DecodeConfig(p.Schema(), fmt.Sprintf("url = %q\nclient_id = \"sandbox\"\nusername = \"sandbox\"\npassword = \"sandbox\"\n", srv.URL+"/CherwellAPI"))
			if err != nil {
				b.Fatal(err)
			}
			if d := p.Configure(b.Context(), &sdk.ConfigureRequest{Config: cfg}); d.HasErrors() {
				b.Fatal(d.Error())
			}
			calls0 := len(emu.Calls())
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, conc)
			b.ResetTimer()
			for range conc {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						if err := lifecycle(b, p, i); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(len(emu.Calls())-calls0)/float64(b.N), "calls/op")
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
		})
	}
}

func lifecycle(b *testing.B, p *Plugin, i int64) error {
	key := fmt.Sprintf("bench-%d", i)
	ref, err := p.Create(b.Context(), &sdk.CreateRequest{TicketKey: key, Alert: testAlert,
		Ticket: sdk.Ticket{Title: "[Sev1] High CPU", Description: "CPU above 90%", Severity: 1}})
	if err != nil {
		return err
	}
	if _, err := p.BindCI(b.Context(), &sdk.BindCIRequest{Ref: *ref, TicketKey: key, CreateMissing: true, Primary: true,
		Item: sdk.ConfigurationItem{ResourceID: fmt.Sprintf("%s-%d", vmID, i), Name: fmt.Sprintf("vm-%d", i)}}); err != nil {
		return err
	}
	return p.Resolve(b.Context(), &sdk.ResolveRequest{Ref: *ref, TicketKey: key, Alert: resolvedAlert()})
}
