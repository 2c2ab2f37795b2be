// Command itsmbridge-plugin-noop is a backend plugin that does nothing: its
// incidents exist only as the reference it returns. BenchmarkReplicasEndToEnd
// (examples/chaos) uses it to measure the bridge and its store without any
// vendor in the way. It is a benchmark fixture, not a product plugin.
//
// Create returns a reference derived from the ticket key (so a repeated
// create of one key returns the same incident, as the idempotency contract
// asks); every other operation succeeds at once.
package main

import (
	"context"

	"github.com/itsmbridge/itsmbridge/sdk"
)

type noop struct{}

var (
	_ sdk.Plugin    = noop{}
	_ sdk.Commenter = noop{}
)

func (noop) Info() sdk.Info { return sdk.Info{Name: "noop", Version: "0.1.0"} }

func (noop) Schema() sdk.Schema { return sdk.Schema{} }

func (noop) Configure(context.Context, *sdk.ConfigureRequest) sdk.Diagnostics { return nil }

func (noop) Create(_ context.Context, req *sdk.CreateRequest) (*sdk.TicketRef, error) {
	return &sdk.TicketRef{ID: req.TicketKey, Number: "NOOP-" + req.TicketKey, State: "new"}, nil
}

func (noop) Resolve(context.Context, *sdk.ResolveRequest) error { return nil }

func (noop) Comment(context.Context, *sdk.CommentRequest) error { return nil }

func main() { sdk.Serve(noop{}) }
