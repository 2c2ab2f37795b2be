package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/zclconf/go-cty/cty"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	itsmv1 "github.com/itsmbridge/itsmbridge/sdk/proto/itsm/v1"
)

// server is the gRPC face of a Plugin. Every operation runs under a context
// that Stop cancels, so a plugin that honours ctx stops promptly without
// relying on signals (go-plugin swallows SIGINT).
type server struct {
	itsmv1.UnimplementedITSMServer
	impl       Plugin
	schema     Schema
	configType cty.Type

	mu       sync.Mutex
	stopCtx  context.Context
	stopFunc context.CancelFunc
}

func newServer(impl Plugin) (*server, error) {
	if impl == nil {
		return nil, errors.New("sdk: nil plugin")
	}
	schema := impl.Schema()
	ty, err := schema.ImpliedType()
	if err != nil {
		return nil, fmt.Errorf("sdk: plugin %q declares an invalid schema: %w", impl.Info().Name, err)
	}
	s := &server{impl: impl, schema: schema, configType: ty}
	s.stopCtx, s.stopFunc = context.WithCancel(context.Background())
	return s, nil
}

// opContext joins the RPC context with the Stop context.
func (s *server) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	s.mu.Lock()
	stop := s.stopCtx
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	unregister := context.AfterFunc(stop, cancel)
	return ctx, func() { unregister(); cancel() }
}

func (s *server) GetInfo(context.Context, *itsmv1.GetInfoRequest) (*itsmv1.GetInfoResponse, error) {
	info := s.impl.Info()
	return &itsmv1.GetInfoResponse{
		Name:         info.Name,
		Version:      info.Version,
		ApiVersions:  []string{APIVersion},
		Capabilities: Capabilities(s.impl),
	}, nil
}

func (s *server) GetSchema(context.Context, *itsmv1.GetSchemaRequest) (*itsmv1.GetSchemaResponse, error) {
	return &itsmv1.GetSchemaResponse{
		Config:       schemaToProto(s.schema),
		TicketFields: attributesToProto(s.schema.TicketFields),
	}, nil
}

func (s *server) ValidateConfig(ctx context.Context, req *itsmv1.ValidateConfigRequest) (*itsmv1.ValidateConfigResponse, error) {
	v, ok := s.impl.(ConfigValidator)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "capability validate absent")
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	diags := v.ValidateConfig(ctx, Config{Msgpack: req.GetConfigMsgpack(), Type: s.configType})
	return &itsmv1.ValidateConfigResponse{Diagnostics: diagnosticsToProto(diags)}, nil
}

func (s *server) Configure(ctx context.Context, req *itsmv1.ConfigureRequest) (*itsmv1.ConfigureResponse, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	diags := s.impl.Configure(ctx, &ConfigureRequest{
		Config:  Config{Msgpack: req.GetConfigMsgpack(), Type: s.configType},
		Backend: req.GetBackend(),
	})
	return &itsmv1.ConfigureResponse{Diagnostics: diagnosticsToProto(diags)}, nil
}

func (s *server) FindIncident(ctx context.Context, req *itsmv1.FindIncidentRequest) (*itsmv1.FindIncidentResponse, error) {
	f, ok := s.impl.(Finder)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "capability find absent")
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	ref, err := f.Find(ctx, &FindRequest{TicketKey: req.GetTicketKey()})
	if err != nil {
		return &itsmv1.FindIncidentResponse{Error: errorToProto(err)}, nil
	}
	return &itsmv1.FindIncidentResponse{Found: ref != nil, Ref: ticketRefToProto(ref)}, nil
}

func (s *server) CreateIncident(ctx context.Context, req *itsmv1.CreateIncidentRequest) (*itsmv1.CreateIncidentResponse, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	ref, err := s.impl.Create(ctx, &CreateRequest{
		TicketKey: req.GetTicketKey(),
		Alert:     alertFromProto(req.GetAlert()),
		Ticket:    ticketFromProto(req.GetTicket()),
	})
	if err == nil && ref == nil {
		err = Permanentf("plugin returned no ticket reference")
	}
	if err != nil {
		return &itsmv1.CreateIncidentResponse{Error: errorToProto(err)}, nil
	}
	return &itsmv1.CreateIncidentResponse{Ref: ticketRefToProto(ref)}, nil
}

func (s *server) ResolveIncident(ctx context.Context, req *itsmv1.ResolveIncidentRequest) (*itsmv1.OperationResponse, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	err := s.impl.Resolve(ctx, &ResolveRequest{
		Ref:       ticketRefFromProto(req.GetRef()),
		TicketKey: req.GetTicketKey(),
		Alert:     alertFromProto(req.GetAlert()),
	})
	return &itsmv1.OperationResponse{Error: errorToProto(err)}, nil
}

func (s *server) ReopenIncident(ctx context.Context, req *itsmv1.ReopenIncidentRequest) (*itsmv1.OperationResponse, error) {
	r, ok := s.impl.(Reopener)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "capability reopen absent")
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	err := r.Reopen(ctx, &ReopenRequest{
		Ref:       ticketRefFromProto(req.GetRef()),
		TicketKey: req.GetTicketKey(),
		Alert:     alertFromProto(req.GetAlert()),
	})
	return &itsmv1.OperationResponse{Error: errorToProto(err)}, nil
}

func (s *server) AddComment(ctx context.Context, req *itsmv1.AddCommentRequest) (*itsmv1.OperationResponse, error) {
	c, ok := s.impl.(Commenter)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "capability comment absent")
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	err := c.Comment(ctx, &CommentRequest{
		Ref:       ticketRefFromProto(req.GetRef()),
		TicketKey: req.GetTicketKey(),
		Alert:     alertFromProto(req.GetAlert()),
		Text:      req.GetText(),
	})
	return &itsmv1.OperationResponse{Error: errorToProto(err)}, nil
}

func (s *server) BindCI(ctx context.Context, req *itsmv1.BindCIRequest) (*itsmv1.BindCIResponse, error) {
	b, ok := s.impl.(CIBinder)
	if !ok {
		return nil, status.Error(codes.Unimplemented, "capability bind_ci absent")
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	item := req.GetItem()
	ci, err := b.BindCI(ctx, &BindCIRequest{
		Ref:       ticketRefFromProto(req.GetRef()),
		TicketKey: req.GetTicketKey(),
		Item: ConfigurationItem{
			ResourceID:    item.GetResourceId(),
			Name:          item.GetName(),
			ResourceType:  item.GetResourceType(),
			Subscription:  item.GetSubscription(),
			ResourceGroup: item.GetResourceGroup(),
		},
		CreateMissing: req.GetCreateMissing(),
		Primary:       req.GetPrimary(),
	})
	if err == nil && ci == nil {
		err = Permanentf("plugin returned no CI reference")
	}
	if err != nil {
		return &itsmv1.BindCIResponse{Error: errorToProto(err)}, nil
	}
	return &itsmv1.BindCIResponse{Ci: &itsmv1.CIRef{Id: ci.ID, Name: ci.Name, Class: ci.Class, Created: ci.Created}}, nil
}

func (s *server) Health(ctx context.Context, _ *itsmv1.HealthRequest) (*itsmv1.OperationResponse, error) {
	h, ok := s.impl.(HealthChecker)
	if !ok {
		return &itsmv1.OperationResponse{}, nil
	}
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	return &itsmv1.OperationResponse{Error: errorToProto(h.Health(ctx))}, nil
}

func (s *server) Stop(context.Context, *itsmv1.StopRequest) (*itsmv1.StopResponse, error) {
	s.mu.Lock()
	s.stopFunc()
	s.stopCtx, s.stopFunc = context.WithCancel(context.Background())
	s.mu.Unlock()
	return &itsmv1.StopResponse{}, nil
}

func errorToProto(err error) *itsmv1.Error {
	if err == nil {
		return nil
	}
	kind, after := Classify(err)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		kind = KindRetryable
	}
	pe := &itsmv1.Error{Kind: itsmv1.Error_PERMANENT, Message: err.Error(), RetryAfterMs: after.Milliseconds()}
	if kind == KindRetryable {
		pe.Kind = itsmv1.Error_RETRYABLE
	}
	return pe
}

func ticketRefToProto(r *TicketRef) *itsmv1.TicketRef {
	if r == nil {
		return nil
	}
	return &itsmv1.TicketRef{Id: r.ID, Number: r.Number, Url: r.URL, State: r.State}
}

func ticketRefFromProto(r *itsmv1.TicketRef) TicketRef {
	return TicketRef{ID: r.GetId(), Number: r.GetNumber(), URL: r.GetUrl(), State: r.GetState()}
}

func ticketFromProto(t *itsmv1.Ticket) Ticket {
	fields := t.GetFields()
	if fields == nil {
		fields = map[string]string{}
	}
	return Ticket{Title: t.GetTitle(), Description: t.GetDescription(), Severity: int(t.GetSeverity()), Fields: fields}
}

func alertFromProto(a *itsmv1.Alert) Alert {
	custom := a.GetCustom()
	if custom == nil {
		custom = map[string]string{}
	}
	ctxJSON := json.RawMessage(a.GetContextJson())
	if len(ctxJSON) == 0 {
		ctxJSON = json.RawMessage("null")
	}
	return Alert{
		ID: a.GetId(), Schema: a.GetSchema(), Source: a.GetSource(), Status: a.GetStatus(),
		Severity: int(a.GetSeverity()), SeverityName: a.GetSeverityName(),
		Rule: a.GetRule(), RuleID: a.GetRuleId(), Service: a.GetService(), Signal: a.GetSignal(),
		Description: a.GetDescription(), Targets: nonNil(a.GetTargets()),
		ConfigurationItems: nonNil(a.GetConfigurationItems()),
		Subscription:       a.GetSubscription(), ResourceGroup: a.GetResourceGroup(),
		ResourceType: a.GetResourceType(), ResourceName: a.GetResourceName(),
		FiredAt: a.GetFiredAt(), ResolvedAt: a.GetResolvedAt(), Link: a.GetLink(),
		Custom: custom, Context: ctxJSON, DedupKey: a.GetDedupKey(),
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func schemaToProto(s Schema) *itsmv1.Schema {
	out := &itsmv1.Schema{Attributes: attributesToProto(s.Attributes)}
	for _, b := range s.Blocks {
		out.Blocks = append(out.Blocks, &itsmv1.Block{
			Name: b.Name, Description: b.Description, Required: b.Required, Nested: schemaToProto(b.Nested),
		})
	}
	return out
}

func attributesToProto(attrs []Attribute) []*itsmv1.Attribute {
	out := make([]*itsmv1.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, &itsmv1.Attribute{
			Name: a.Name, Type: a.Type, Required: a.Required, DefaultJson: a.Default,
			Sensitive: a.Sensitive, Description: a.Description, Deprecated: a.Deprecated,
		})
	}
	return out
}

func diagnosticsToProto(diags Diagnostics) []*itsmv1.Diagnostic {
	out := make([]*itsmv1.Diagnostic, 0, len(diags))
	for _, d := range diags {
		sev := itsmv1.Diagnostic_ERROR
		if d.Severity == SeverityWarning {
			sev = itsmv1.Diagnostic_WARNING
		}
		out = append(out, &itsmv1.Diagnostic{Severity: sev, Summary: d.Summary, Detail: d.Detail, AttributePath: d.AttributePath})
	}
	return out
}
