package plugintest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/sdk"
)

// Options configures Run.
type Options struct {
	// Factory returns a new, unconfigured plugin (what main passes to
	// sdk.Serve). Required. Several checks build a fresh instance to simulate
	// a plugin restart.
	Factory func() sdk.Plugin
	// Config is the body of a valid `config { ... }` block in HCL native
	// syntax, pointing the plugin at Backend, e.g.
	//	instance_url = "http://127.0.0.1:4711"
	//	username     = "admin"
	//	password     = "s3cret-pass"
	// Required. Set the sensitive attributes to distinctive values (≥ 4
	// characters): the secret-hygiene check searches for them.
	Config string
	// Backend is the vendor system behind Config. Required.
	Backend Backend
	// Binary is the plugin's main package for the stdio check, as `go build`
	// takes it relative to the test's directory (usually "."). Empty skips
	// the check.
	Binary string
	// BadConfigs are configs that decode against the schema but that the
	// plugin must reject (in ValidateConfig or Configure) with an error
	// diagnostic on Path, e.g. a wrong password → ["password"]. The kit adds
	// its own: every required string attribute set to "".
	BadConfigs []BadConfig
	// Alert, Ticket and CI are sent with operations; defaults are a fired
	// metric alert on a VM.
	Alert  *sdk.Alert
	Ticket *sdk.Ticket
	CI     *sdk.ConfigurationItem
	// UnknownRef is a reference to an incident that does not exist, for the
	// "resolve unknown" check. Default: ID and Number "plugintest-unknown-…".
	// Set it when the vendor validates ID syntax (e.g. a 32-hex sys_id).
	UnknownRef *sdk.TicketRef
	// Timeout bounds every call and every wait of the kit. Default 5s.
	Timeout time.Duration
	// Skip names checks to skip with the reason to print, e.g.
	// {"cancellation": "the emulator cannot hold requests yet"}.
	Skip map[string]string
}

// BadConfig is a config the plugin must reject.
type BadConfig struct {
	// Config is the HCL body of the config block.
	Config string
	// Path is the attribute path the error diagnostic must carry; nil
	// accepts any error diagnostic.
	Path []string
}

// Check names, in the order Run runs them.
const (
	CheckSchema              = "schema"
	CheckCapabilities        = "capabilities"
	CheckConfigure           = "configure"
	CheckCreateIdempotent    = "create_idempotent"
	CheckResolve             = "resolve"
	CheckCancellation        = "cancellation"
	CheckErrorClassification = "error_classification"
	CheckSecretHygiene       = "secret_hygiene"
	CheckStdio               = "stdio"
)

type check struct {
	name string
	run  func(t testing.TB, e *env)
}

var checks = []check{
	{CheckSchema, checkSchema},
	{CheckCapabilities, checkCapabilities},
	{CheckConfigure, checkConfigure},
	{CheckCreateIdempotent, checkCreateIdempotent},
	{CheckResolve, checkResolve},
	{CheckCancellation, checkCancellation},
	{CheckErrorClassification, checkErrorClassification},
	{CheckSecretHygiene, checkSecretHygiene},
	{CheckStdio, checkStdio},
}

// Checks lists the check names Run runs.
func Checks() []string {
	out := make([]string, len(checks))
	for i, c := range checks {
		out[i] = c.name
	}
	return out
}

// Run runs every conformance check against the plugin as a subtest of t.
// Checks run one after another (they swap hclog.Default() to capture logs),
// each with a fresh plugin instance; Backend.Reset is called before each.
func Run(t *testing.T, opts Options) {
	t.Helper()
	e, err := newEnv(opts)
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if reason, ok := opts.Skip[c.name]; ok {
				t.Skipf("skipped by Options.Skip: %s", reason)
			}
			e.opts.Backend.Reset()
			t.Cleanup(e.opts.Backend.Reset)
			c.run(t, e)
		})
	}
}

// RunCheck runs the single check name against the plugin on t, which may be
// any testing.TB (the kit's own tests pass a recorder to prove each check
// fails on a broken plugin). It reports an unknown name as a test failure.
func RunCheck(t testing.TB, name string, opts Options) {
	t.Helper()
	e, err := newEnv(opts)
	if err != nil {
		t.Fatalf("plugintest: %v", err)
		return
	}
	for _, c := range checks {
		if c.name == name {
			e.opts.Backend.Reset()
			t.Cleanup(e.opts.Backend.Reset)
			c.run(t, e)
			return
		}
	}
	t.Fatalf("plugintest: unknown check %q (have %v)", name, Checks())
}

// env is the state shared by the checks of one Run.
type env struct {
	opts  Options
	runID string
	seq   atomic.Int64
}

func newEnv(opts Options) (*env, error) {
	if opts.Factory == nil {
		return nil, fmt.Errorf("Options.Factory is required")
	}
	if opts.Backend == nil {
		return nil, fmt.Errorf("Options.Backend is required")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Alert == nil {
		a := SampleAlert()
		opts.Alert = &a
	}
	if opts.Ticket == nil {
		opts.Ticket = &sdk.Ticket{
			Title:       "[plugintest] " + opts.Alert.Rule,
			Description: opts.Alert.Description,
			Severity:    opts.Alert.Severity,
			Fields:      map[string]string{},
		}
	}
	if opts.CI == nil {
		opts.CI = &sdk.ConfigurationItem{
			ResourceID:    opts.Alert.Targets[0],
			Name:          opts.Alert.ResourceName,
			ResourceType:  opts.Alert.ResourceType,
			Subscription:  opts.Alert.Subscription,
			ResourceGroup: opts.Alert.ResourceGroup,
		}
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &env{opts: opts, runID: hex.EncodeToString(b[:])}, nil
}

// key returns a ticket key no other Run uses (real instances keep tickets).
func (e *env) key() string {
	return fmt.Sprintf("plugintest-%s-%d", e.runID, e.seq.Add(1))
}

func (e *env) ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.Timeout)
	t.Cleanup(cancel)
	return ctx
}

func (e *env) createReq(key string) *sdk.CreateRequest {
	return &sdk.CreateRequest{TicketKey: key, Alert: *e.opts.Alert, Ticket: *e.opts.Ticket}
}

// session is one harness plus the decoded schema and valid config.
type session struct {
	*Harness
	schema sdk.Schema
	config sdk.Config
}

// harness serves a fresh plugin and decodes the valid config.
func (e *env) harness(t testing.TB) *session {
	t.Helper()
	h := NewHarness(t, e.opts.Factory)
	if h == nil {
		fatal(t, "plugintest: harness failed")
	}
	s, err := h.Client.Schema(e.ctx(t))
	if err != nil {
		fatal(t, "GetSchema: %v", err)
	}
	cfg, err := DecodeConfig(s, e.opts.Config)
	if err != nil {
		fatal(t, "Options.Config does not decode against the plugin's schema: %v", err)
	}
	return &session{Harness: h, schema: s, config: cfg}
}

// configured serves a fresh plugin configured with the valid config.
func (e *env) configured(t testing.TB) *session {
	t.Helper()
	s := e.harness(t)
	diags, err := s.Client.Configure(e.ctx(t), "plugintest", s.config)
	if err != nil {
		fatal(t, "Configure: %v", err)
	}
	if diags.HasErrors() {
		fatal(t, "Configure rejected Options.Config: %s", diags.Error())
	}
	return s
}

// fatal is t.Fatalf that also stops the goroutine for recorders whose
// Fatalf does not (a recorder must not let a failed precondition run on).
func fatal(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Fatalf(format, args...)
	runtime.Goexit()
}

// SampleAlert is the canonical alert the kit sends by default: a fired
// Sev1 metric alert on a virtual machine.
func SampleAlert() sdk.Alert {
	target := "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg-prod/providers/microsoft.compute/virtualmachines/vm-web-01"
	return sdk.Alert{
		ID:                 "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.AlertsManagement/alerts/plugintest-0001",
		Schema:             "azureMonitorCommonAlertSchema",
		Source:             "plugintest",
		Status:             sdk.StatusFired,
		Severity:           1,
		SeverityName:       "Sev1",
		Rule:               "High CPU on vm-web-01",
		RuleID:             "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-prod/providers/microsoft.insights/metricAlerts/high-cpu",
		Service:            "Platform",
		Signal:             "Metric",
		Description:        "Percentage CPU above 90% for 5 minutes",
		Targets:            []string{target},
		ConfigurationItems: []string{"vm-web-01"},
		Subscription:       "00000000-0000-0000-0000-000000000001",
		ResourceGroup:      "rg-prod",
		ResourceType:       "microsoft.compute/virtualmachines",
		ResourceName:       "vm-web-01",
		FiredAt:            "2025-01-01T12:00:00Z",
		Link:               "https://portal.azure.com/#blade/Microsoft_Azure_Monitoring/AlertDetailsTemplateBlade/alertId/plugintest-0001",
		Custom:             map[string]string{},
		Context:            json.RawMessage(`{"condition":{"metricName":"Percentage CPU","threshold":"90"}}`),
		DedupKey:           "plugintest-0001",
	}
}

// texts collects every error and diagnostic text a check saw, for the
// secret-hygiene check.
type texts struct {
	mu  sync.Mutex
	all []string
}

func (x *texts) err(err error) {
	if err != nil {
		x.add(err.Error())
	}
}

func (x *texts) diags(d sdk.Diagnostics) {
	for _, dg := range d {
		x.add(dg.Summary + ": " + dg.Detail)
	}
}

func (x *texts) add(s string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.all = append(x.all, s)
}
