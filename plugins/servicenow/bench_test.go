package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/plugins/servicenow/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/plugintest"
)

// ops is the slice of the plugin API the benchmark drives: the plugin itself
// (in-process) or the host client (over gRPC).
type ops interface {
	Create(ctx context.Context, req *sdk.CreateRequest) (*sdk.TicketRef, error)
	BindCI(ctx context.Context, req *sdk.BindCIRequest) (*sdk.CIRef, error)
	Resolve(ctx context.Context, req *sdk.ResolveRequest) error
}

func benchEmulator(b *testing.B) (*emulator.Emulator, string) {
	emu := emulator.New(emulator.Options{SeedDemo: true})
	srv := httptest.NewServer(emu)
	b.Cleanup(srv.Close)
	return emu, fmt.Sprintf("instance_url = %q\nusername = \"sandbox\"\npassword = \"sandbox\"\n", srv.URL)
}

// runTickets runs b.N create+bind+resolve tickets on `workers` goroutines
// and reports tickets/s.
func runTickets(b *testing.B, p ops, workers int) {
	b.Helper()
	item := sdk.ConfigurationItem{ResourceID: demoVM, Name: "test-vm", ResourceType: "microsoft.compute/virtualmachines"}
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				key := fmt.Sprintf("bench-%d-%d", b.N, n)
				ref, err := p.Create(ctx, createReq(key))
				if err == nil {
					_, err = p.BindCI(ctx, &sdk.BindCIRequest{Ref: *ref, TicketKey: key, Item: item, Primary: true})
				}
				if err == nil {
					err = p.Resolve(ctx, &sdk.ResolveRequest{Ref: *ref, TicketKey: key, Alert: resolvedAlert()})
				}
				if err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tickets/s")
}

// BenchmarkTicketInProcess calls the plugin directly (HTTP to the emulator only).
func BenchmarkTicketInProcess(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("concurrent=%d", workers), func(b *testing.B) {
			_, cfgSrc := benchEmulator(b)
			p := NewWithLogger(hclog.NewNullLogger())
			cfg, err := plugintest.DecodeConfig(p.Schema(), cfgSrc)
			if err != nil {
				b.Fatal(err)
			}
			if d := p.Configure(context.Background(), &sdk.ConfigureRequest{Config: cfg}); d.HasErrors() {
				b.Fatal(d.Error())
			}
			runTickets(b, p, workers)
		})
	}
}

// BenchmarkTicketGRPC drives the plugin through the host client over real
// gRPC in this process (plugintest.Harness).
func BenchmarkTicketGRPC(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("concurrent=%d", workers), func(b *testing.B) {
			_, cfgSrc := benchEmulator(b)
			h := plugintest.NewHarness(b, func() sdk.Plugin { return NewWithLogger(hclog.NewNullLogger()) })
			configureClient(b, h.Client, cfgSrc)
			runTickets(b, h.Client, workers)
		})
	}
}

// BenchmarkTicketProcess drives the built plugin binary through a real
// go-plugin handshake (AutoMTLS, gRPC), as the host runs it.
func BenchmarkTicketProcess(b *testing.B) {
	proc := plugintest.BuildAndHandshake(b, ".")
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("concurrent=%d", workers), func(b *testing.B) {
			_, cfgSrc := benchEmulator(b)
			configureClient(b, proc.Client, cfgSrc)
			runTickets(b, proc.Client, workers)
		})
	}
}

type configurer interface {
	Schema(ctx context.Context) (sdk.Schema, error)
	Configure(ctx context.Context, backend string, cfg sdk.Config) (sdk.Diagnostics, error)
}

func configureClient(b *testing.B, c configurer, src string) {
	b.Helper()
	s, err := c.Schema(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := plugintest.DecodeConfig(s, src)
	if err != nil {
		b.Fatal(err)
	}
	d, err := c.Configure(context.Background(), "bench", cfg)
	if err != nil || d.HasErrors() {
		b.Fatal(err, d.Error())
	}
}
