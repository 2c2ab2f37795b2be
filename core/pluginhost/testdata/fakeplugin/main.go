// Command fakeplugin is a plugin whose misbehaviour is chosen by the
// FAKE_PLUGIN_MODE environment variable, for pluginhost's failure tests.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/itsmbridge/itsmbridge/sdk"
)

type fake struct {
	mode string
	mu   sync.Mutex
	refs map[string]*sdk.TicketRef
}

func (f *fake) Info() sdk.Info { return sdk.Info{Name: "fake", Version: "0.0.1"} }

func (f *fake) Schema() sdk.Schema {
	return sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "token", Type: "string", Sensitive: true, Description: "a secret"},
		{Name: "fail_configure", Type: "bool", Description: "return an error diagnostic"},
	}}
}

func (f *fake) Configure(_ context.Context, req *sdk.ConfigureRequest) sdk.Diagnostics {
	if f.mode == "crash_configure" {
		os.Exit(3)
	}
	var cfg struct {
		FailConfigure bool `json:"fail_configure"`
	}
	if err := req.Config.Decode(&cfg); err != nil {
		return sdk.Diagnostics{sdk.ErrorDiag("bad config", err.Error())}
	}
	if cfg.FailConfigure {
		return sdk.Diagnostics{sdk.ErrorDiag("credentials rejected", "the instance said 401", "token")}
	}
	return nil
}

func (f *fake) Create(ctx context.Context, req *sdk.CreateRequest) (*sdk.TicketRef, error) {
	switch {
	case f.mode == "crash_call" || strings.HasPrefix(req.TicketKey, "crash"):
		os.Exit(4)
	case f.mode == "hang" || strings.HasPrefix(req.TicketKey, "hang"):
		<-ctx.Done()
		return nil, sdk.Retryable(ctx.Err(), 0)
	case strings.HasPrefix(req.TicketKey, "retry"):
		return nil, sdk.Retryable(fmt.Errorf("vendor says 429"), 1500*time.Millisecond)
	case strings.HasPrefix(req.TicketKey, "env:"):
		// Reports a host environment variable, to prove SkipHostEnv.
		return &sdk.TicketRef{ID: "env", Number: os.Getenv(strings.TrimPrefix(req.TicketKey, "env:"))}, nil
	case strings.HasPrefix(req.TicketKey, "pid"):
		return &sdk.TicketRef{ID: "pid", Number: fmt.Sprint(os.Getpid())}, nil
	case strings.HasPrefix(req.TicketKey, "bad"):
		return nil, sdk.Permanentf("vendor says 400: field x invalid")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.refs[req.TicketKey]; ok {
		return r, nil
	}
	r := &sdk.TicketRef{ID: fmt.Sprintf("id-%d", len(f.refs)+1), Number: fmt.Sprintf("FAKE%04d", len(f.refs)+1), URL: "http://fake/" + req.TicketKey}
	f.refs[req.TicketKey] = r
	return r, nil
}

func (f *fake) Resolve(context.Context, *sdk.ResolveRequest) error { return nil }

func main() {
	mode := os.Getenv("FAKE_PLUGIN_MODE")
	switch mode {
	case "notaplugin":
		fmt.Println("hello, I am not a plugin")
		return
	case "stdout":
		fmt.Println("debug: starting up")
	case "wrongcookie":
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "OTHER", MagicCookieValue: "x"},
			VersionedPlugins: sdk.PluginSets(&fake{}),
			GRPCServer:       plugin.DefaultGRPCServer,
		})
		return
	case "badversion":
		hs := sdk.Handshake
		hs.ProtocolVersion = 99
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig:  hs,
			VersionedPlugins: map[int]plugin.PluginSet{99: {sdk.PluginKey: &sdk.GRPCPlugin{Impl: &fake{}}}},
			GRPCServer:       plugin.DefaultGRPCServer,
		})
		return
	}
	sdk.Serve(&fake{mode: mode, refs: map[string]*sdk.TicketRef{}})
}
