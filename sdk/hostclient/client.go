// Package hostclient is the host side of the itsm.v1 protocol: a typed
// client over the generated gRPC stub that turns wire outcomes back into sdk
// types and classified errors. core/pluginhost and sdk/plugintest both use it,
// so the conformance kit exercises exactly what production does.
package hostclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/itsmbridge/itsmbridge/sdk"
	itsmv1 "github.com/itsmbridge/itsmbridge/sdk/proto/itsm/v1"
)

// ErrCapabilityAbsent is returned (as permanent) when the plugin does not
// implement an optional operation.
var ErrCapabilityAbsent = errors.New("capability absent")

// Info is what GetInfo reports.
type Info struct {
	Name         string
	Version      string
	APIVersions  []string
	Capabilities []string
}

// Has reports whether the plugin advertises capability c.
func (i Info) Has(c string) bool { return slices.Contains(i.Capabilities, c) }

// Client calls one plugin. It is safe for concurrent use.
type Client struct {
	rpc itsmv1.ITSMClient
}

// New wraps a raw gRPC stub (as returned by go-plugin's Dispense).
func New(rpc itsmv1.ITSMClient) *Client { return &Client{rpc: rpc} }

// Info calls GetInfo.
func (c *Client) Info(ctx context.Context) (Info, error) {
	resp, err := c.rpc.GetInfo(ctx, &itsmv1.GetInfoRequest{})
	if err != nil {
		return Info{}, transportError("get info", err)
	}
	return Info{Name: resp.GetName(), Version: resp.GetVersion(), APIVersions: resp.GetApiVersions(), Capabilities: resp.GetCapabilities()}, nil
}

// Schema calls GetSchema.
func (c *Client) Schema(ctx context.Context) (sdk.Schema, error) {
	resp, err := c.rpc.GetSchema(ctx, &itsmv1.GetSchemaRequest{})
	if err != nil {
		return sdk.Schema{}, transportError("get schema", err)
	}
	s := schemaFromProto(resp.GetConfig())
	s.TicketFields = attributesFromProto(resp.GetTicketFields())
	return s, nil
}

// ValidateConfig runs the plugin's offline checks; a plugin without the
// capability returns no diagnostics.
func (c *Client) ValidateConfig(ctx context.Context, cfg sdk.Config) (sdk.Diagnostics, error) {
	resp, err := c.rpc.ValidateConfig(ctx, &itsmv1.ValidateConfigRequest{ConfigMsgpack: cfg.Msgpack})
	if status.Code(err) == codes.Unimplemented {
		return nil, nil
	}
	if err != nil {
		return nil, transportError("validate config", err)
	}
	return diagnosticsFromProto(resp.GetDiagnostics()), nil
}

// Configure sends the decoded config.
func (c *Client) Configure(ctx context.Context, backend string, cfg sdk.Config) (sdk.Diagnostics, error) {
	resp, err := c.rpc.Configure(ctx, &itsmv1.ConfigureRequest{ConfigMsgpack: cfg.Msgpack, Backend: backend, ApiVersion: sdk.APIVersion})
	if err != nil {
		return nil, transportError("configure", err)
	}
	return diagnosticsFromProto(resp.GetDiagnostics()), nil
}

// Find looks an incident up by ticket key; (nil, nil) when there is none.
func (c *Client) Find(ctx context.Context, ticketKey string) (*sdk.TicketRef, error) {
	resp, err := c.rpc.FindIncident(ctx, &itsmv1.FindIncidentRequest{TicketKey: ticketKey})
	if err != nil {
		return nil, transportError("find", err)
	}
	if err := errorFromProto(resp.GetError()); err != nil {
		return nil, err
	}
	if !resp.GetFound() {
		return nil, nil
	}
	ref := ticketRefFromProto(resp.GetRef())
	return &ref, nil
}

// Create opens an incident.
func (c *Client) Create(ctx context.Context, req *sdk.CreateRequest) (*sdk.TicketRef, error) {
	resp, err := c.rpc.CreateIncident(ctx, &itsmv1.CreateIncidentRequest{
		TicketKey: req.TicketKey,
		Alert:     AlertToProto(&req.Alert),
		Ticket: &itsmv1.Ticket{
			Title: req.Ticket.Title, Description: req.Ticket.Description,
			Severity: int32(req.Ticket.Severity), Fields: req.Ticket.Fields,
		},
	})
	if err != nil {
		return nil, transportError("create", err)
	}
	if err := errorFromProto(resp.GetError()); err != nil {
		return nil, err
	}
	ref := ticketRefFromProto(resp.GetRef())
	return &ref, nil
}

// Resolve resolves an incident.
func (c *Client) Resolve(ctx context.Context, req *sdk.ResolveRequest) error {
	resp, err := c.rpc.ResolveIncident(ctx, &itsmv1.ResolveIncidentRequest{
		Ref: ticketRefToProto(req.Ref), TicketKey: req.TicketKey, Alert: AlertToProto(&req.Alert),
	})
	return opResult("resolve", resp, err)
}

// Reopen reopens an incident.
func (c *Client) Reopen(ctx context.Context, req *sdk.ReopenRequest) error {
	resp, err := c.rpc.ReopenIncident(ctx, &itsmv1.ReopenIncidentRequest{
		Ref: ticketRefToProto(req.Ref), TicketKey: req.TicketKey, Alert: AlertToProto(&req.Alert),
	})
	return opResult("reopen", resp, err)
}

// Comment adds a comment.
func (c *Client) Comment(ctx context.Context, req *sdk.CommentRequest) error {
	resp, err := c.rpc.AddComment(ctx, &itsmv1.AddCommentRequest{
		Ref: ticketRefToProto(req.Ref), TicketKey: req.TicketKey, Alert: AlertToProto(&req.Alert), Text: req.Text,
	})
	return opResult("comment", resp, err)
}

// BindCI binds a configuration item.
func (c *Client) BindCI(ctx context.Context, req *sdk.BindCIRequest) (*sdk.CIRef, error) {
	resp, err := c.rpc.BindCI(ctx, &itsmv1.BindCIRequest{
		Ref: ticketRefToProto(req.Ref), TicketKey: req.TicketKey,
		Item: &itsmv1.ConfigurationItem{
			ResourceId: req.Item.ResourceID, Name: req.Item.Name, ResourceType: req.Item.ResourceType,
			Subscription: req.Item.Subscription, ResourceGroup: req.Item.ResourceGroup,
		},
		CreateMissing: req.CreateMissing, Primary: req.Primary,
	})
	if err != nil {
		return nil, transportError("bind CI", err)
	}
	if err := errorFromProto(resp.GetError()); err != nil {
		return nil, err
	}
	ci := resp.GetCi()
	return &sdk.CIRef{ID: ci.GetId(), Name: ci.GetName(), Class: ci.GetClass(), Created: ci.GetCreated()}, nil
}

// Health asks the plugin whether its backend is usable.
func (c *Client) Health(ctx context.Context) error {
	resp, err := c.rpc.Health(ctx, &itsmv1.HealthRequest{})
	return opResult("health", resp, err)
}

// Stop cancels the plugin's in-flight operations.
func (c *Client) Stop(ctx context.Context) error {
	_, err := c.rpc.Stop(ctx, &itsmv1.StopRequest{})
	if err != nil {
		return transportError("stop", err)
	}
	return nil
}

func opResult(op string, resp *itsmv1.OperationResponse, err error) error {
	if err != nil {
		return transportError(op, err)
	}
	return errorFromProto(resp.GetError())
}

// transportError classifies a gRPC failure. Unimplemented means the
// capability is absent (permanent); a caller's own cancellation stays a
// context error; everything else (plugin crashed, restarting, deadline) is
// retryable, so deliveries wait for the plugin instead of failing.
func transportError(op string, err error) error {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.Unimplemented:
		return sdk.Permanent(fmt.Errorf("plugin %s: %w", op, ErrCapabilityAbsent))
	case codes.Canceled:
		return sdk.Retryable(fmt.Errorf("plugin %s: %w", op, context.Canceled), 0)
	case codes.DeadlineExceeded:
		return sdk.Retryable(fmt.Errorf("plugin %s: %w", op, context.DeadlineExceeded), 0)
	}
	return sdk.Retryable(fmt.Errorf("plugin %s: %s", op, st.Message()), 0)
}

// remoteError is an operation error as reported by the plugin.
type remoteError struct{ msg string }

func (e *remoteError) Error() string { return e.msg }

func errorFromProto(e *itsmv1.Error) error {
	if e == nil {
		return nil
	}
	err := &remoteError{msg: e.GetMessage()}
	if e.GetKind() == itsmv1.Error_RETRYABLE {
		return sdk.Retryable(err, time.Duration(e.GetRetryAfterMs())*time.Millisecond)
	}
	return sdk.Permanent(err)
}

// AlertToProto converts the canonical alert for the wire.
func AlertToProto(a *sdk.Alert) *itsmv1.Alert {
	var ctxJSON []byte
	if len(a.Context) > 0 && string(a.Context) != "null" {
		ctxJSON = a.Context
	}
	return &itsmv1.Alert{
		Id: a.ID, Schema: a.Schema, Source: a.Source, Status: a.Status,
		Severity: int32(a.Severity), SeverityName: a.SeverityName,
		Rule: a.Rule, RuleId: a.RuleID, Service: a.Service, Signal: a.Signal,
		Description: a.Description, Targets: a.Targets, ConfigurationItems: a.ConfigurationItems,
		Subscription: a.Subscription, ResourceGroup: a.ResourceGroup,
		ResourceType: a.ResourceType, ResourceName: a.ResourceName,
		FiredAt: a.FiredAt, ResolvedAt: a.ResolvedAt, Link: a.Link,
		Custom: a.Custom, ContextJson: json.RawMessage(ctxJSON), DedupKey: a.DedupKey,
	}
}

func ticketRefToProto(r sdk.TicketRef) *itsmv1.TicketRef {
	return &itsmv1.TicketRef{Id: r.ID, Number: r.Number, Url: r.URL, State: r.State}
}

func ticketRefFromProto(r *itsmv1.TicketRef) sdk.TicketRef {
	return sdk.TicketRef{ID: r.GetId(), Number: r.GetNumber(), URL: r.GetUrl(), State: r.GetState()}
}

func schemaFromProto(s *itsmv1.Schema) sdk.Schema {
	out := sdk.Schema{Attributes: attributesFromProto(s.GetAttributes())}
	for _, b := range s.GetBlocks() {
		out.Blocks = append(out.Blocks, sdk.Block{
			Name: b.GetName(), Description: b.GetDescription(), Required: b.GetRequired(), Nested: schemaFromProto(b.GetNested()),
		})
	}
	return out
}

func attributesFromProto(attrs []*itsmv1.Attribute) []sdk.Attribute {
	out := make([]sdk.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, sdk.Attribute{
			Name: a.GetName(), Type: a.GetType(), Required: a.GetRequired(), Default: a.GetDefaultJson(),
			Sensitive: a.GetSensitive(), Description: a.GetDescription(), Deprecated: a.GetDeprecated(),
		})
	}
	return out
}

func diagnosticsFromProto(in []*itsmv1.Diagnostic) sdk.Diagnostics {
	out := make(sdk.Diagnostics, 0, len(in))
	for _, d := range in {
		sev := sdk.SeverityError
		if d.GetSeverity() == itsmv1.Diagnostic_WARNING {
			sev = sdk.SeverityWarning
		}
		out = append(out, sdk.Diagnostic{Severity: sev, Summary: d.GetSummary(), Detail: d.GetDetail(), AttributePath: d.GetAttributePath()})
	}
	return out
}
