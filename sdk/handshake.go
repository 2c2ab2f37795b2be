package sdk

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	itsmv1 "github.com/itsmbridge/itsmbridge/sdk/proto/itsm/v1"
)

// ProtocolVersion is the go-plugin wire major version spoken by this SDK.
const ProtocolVersion = 1

// APIVersion is the newest protocol minor version this SDK implements.
const APIVersion = "1.0"

// PluginKey is the name of the single plugin each plugin binary serves.
const PluginKey = "itsm"

// MaxMessageBytes raises gRPC's 4 MiB default on both sides: alert contexts
// can be large (STYLE §3.8 #7).
const MaxMessageBytes = 32 << 20

// Handshake is shared by host and plugins. The cookie is a UX guard that
// stops a plugin binary from being run by hand, not a security feature.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "ITSMBRIDGE_PLUGIN",
	MagicCookieValue: "4d1c1f1d9bb0d3e6-itsm-plugin",
}

// GRPCPlugin adapts a Plugin to go-plugin. On the plugin side Impl is served;
// on the host side GRPCClient returns the raw itsmv1.ITSMClient, which
// sdk/hostclient wraps.
type GRPCPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Plugin
}

var _ plugin.GRPCPlugin = (*GRPCPlugin)(nil)

// GRPCServer registers the plugin's gRPC service.
func (p *GRPCPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	srv, err := newServer(p.Impl)
	if err != nil {
		return err
	}
	itsmv1.RegisterITSMServer(s, srv)
	return nil
}

// GRPCClient returns an itsmv1.ITSMClient on conn.
func (p *GRPCPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, conn *grpc.ClientConn) (any, error) {
	return itsmv1.NewITSMClient(conn), nil
}

// PluginSets returns the VersionedPlugins map a host or plugin uses.
func PluginSets(impl Plugin) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		ProtocolVersion: {PluginKey: &GRPCPlugin{Impl: impl}},
	}
}
