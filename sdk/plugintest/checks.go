package plugintest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/hclschema"
	"github.com/itsmbridge/itsmbridge/sdk/hostclient"
	itsmv1 "github.com/itsmbridge/itsmbridge/sdk/proto/itsm/v1"
)

// secretSuffixes mark attribute names that must be sensitive. Matching is on
// the whole name or a "_"-separated suffix, so "token_url" and "project_key"
// are not flagged while "refresh_token" and "api_key" are.
var secretSuffixes = []string{
	"password", "passwd", "passphrase", "secret", "token", "api_key", "apikey",
	"private_key", "access_key", "secret_key", "signing_key", "credentials", "pat",
}

func secretLooking(name string) bool {
	n := strings.ToLower(name)
	for _, s := range secretSuffixes {
		if n == s || strings.HasSuffix(n, "_"+s) {
			return true
		}
	}
	return false
}

// checkSchema: GetInfo is complete, the schema converts to an hcldec spec,
// everything is described, and secret-looking attributes are sensitive.
func checkSchema(t testing.TB, e *env) {
	t.Helper()
	h := NewHarness(t, e.opts.Factory)
	info, err := h.Client.Info(e.ctx(t))
	if err != nil {
		fatal(t, "GetInfo: %v", err)
	}
	if info.Name == "" {
		t.Errorf("GetInfo: empty name (it must equal the backend type label)")
	}
	if info.Version == "" {
		t.Errorf("GetInfo: empty version")
	}
	if !slices.Contains(info.APIVersions, sdk.APIVersion) {
		t.Errorf("GetInfo: api_versions %v do not include %s", info.APIVersions, sdk.APIVersion)
	}
	s, err := h.Client.Schema(e.ctx(t))
	if err != nil {
		fatal(t, "GetSchema: %v", err)
	}
	if _, err := s.ImpliedType(); err != nil {
		t.Errorf("schema has no cty type: %v", err)
	}
	if _, err := hclschema.Spec(s); err != nil {
		t.Errorf("schema does not convert to an hcldec spec: %v", err)
	}
	var walk func(prefix string, s sdk.Schema)
	walk = func(prefix string, s sdk.Schema) {
		for _, a := range s.Attributes {
			p := prefix + a.Name
			if strings.TrimSpace(a.Description) == "" {
				t.Errorf("attribute %s has no description", p)
			}
			if secretLooking(a.Name) && !a.Sensitive {
				t.Errorf("attribute %s looks like a secret but is not Sensitive", p)
			}
		}
		for _, b := range s.Blocks {
			if strings.TrimSpace(b.Description) == "" {
				t.Errorf("block %s has no description", prefix+b.Name)
			}
			walk(prefix+b.Name+".", b.Nested)
		}
	}
	walk("", s)
	for _, f := range s.TicketFields {
		if strings.TrimSpace(f.Description) == "" {
			t.Errorf("ticket field %s has no description", f.Name)
		}
		if prefix, family := sdk.FieldFamily(f.Name); family {
			switch {
			case prefix == "" || strings.Contains(prefix, "*"):
				t.Errorf("ticket field family %q: want a non-empty prefix followed by one trailing *", f.Name)
			case f.Required:
				t.Errorf("ticket field family %s is Required: no route could name every field it covers", f.Name)
			}
		}
		if _, err := f.CtyType(); err != nil {
			t.Errorf("ticket field %s: %v", f.Name, err)
		}
	}
	if _, err := DecodeConfig(s, e.opts.Config); err != nil {
		t.Errorf("Options.Config does not decode against the schema: %v", err)
	}
}

// optional capabilities and whether GetInfo must list them.
var optionalCaps = []string{sdk.CapReopen, sdk.CapComment, sdk.CapBindCI, sdk.CapFind, sdk.CapHealth, sdk.CapValidate}

// checkCapabilities: declared capabilities equal the implemented interfaces,
// every declared operation works against the backend, and every undeclared
// RPC answers Unimplemented ("capability absent").
func checkCapabilities(t testing.TB, e *env) {
	t.Helper()
	s := e.configured(t)
	info, err := s.Client.Info(e.ctx(t))
	if err != nil {
		fatal(t, "GetInfo: %v", err)
	}
	want := sdk.Capabilities(e.opts.Factory())
	if !sameSet(info.Capabilities, want) {
		t.Errorf("GetInfo capabilities %v differ from the implemented interfaces %v", info.Capabilities, want)
	}
	for _, c := range []string{sdk.CapCreate, sdk.CapResolve} {
		if !info.Has(c) {
			t.Errorf("GetInfo does not list mandatory capability %q", c)
		}
	}

	key := e.key()
	ref, err := s.Client.Create(e.ctx(t), e.createReq(key))
	if err != nil {
		fatal(t, "Create: %v", err)
	}
	for _, c := range optionalCaps {
		declared := info.Has(c)
		var err error
		switch c {
		case sdk.CapReopen:
			if err = s.Client.Resolve(e.ctx(t), &sdk.ResolveRequest{Ref: *ref, TicketKey: key, Alert: resolved(*e.opts.Alert)}); err != nil {
				t.Errorf("Resolve before Reopen: %v", err)
				continue
			}
			err = s.Client.Reopen(e.ctx(t), &sdk.ReopenRequest{Ref: *ref, TicketKey: key, Alert: *e.opts.Alert})
		case sdk.CapComment:
			err = s.Client.Comment(e.ctx(t), &sdk.CommentRequest{Ref: *ref, TicketKey: key, Alert: *e.opts.Alert, Text: "plugintest comment"})
		case sdk.CapBindCI:
			var ci *sdk.CIRef
			ci, err = s.Client.BindCI(e.ctx(t), &sdk.BindCIRequest{Ref: *ref, TicketKey: key, Item: *e.opts.CI, CreateMissing: true, Primary: true})
			if err == nil && declared && (ci == nil || ci.ID == "") {
				t.Errorf("BindCI returned no CI id: %+v", ci)
			}
		case sdk.CapFind:
			var found *sdk.TicketRef
			found, err = s.Client.Find(e.ctx(t), key)
			if err == nil && declared {
				if found == nil || found.ID != ref.ID {
					t.Errorf("Find(%q) = %+v, want the created ticket %q", key, found, ref.ID)
				}
				if miss, err := s.Client.Find(e.ctx(t), e.key()); err != nil || miss != nil {
					t.Errorf("Find(unknown key) = %+v, %v; want nil, nil", miss, err)
				}
			}
		case sdk.CapHealth:
			if !declared {
				continue // Health of a plugin without the capability is a no-op by design
			}
			err = s.Client.Health(e.ctx(t))
		case sdk.CapValidate:
			var resp *itsmv1.ValidateConfigResponse
			resp, err = s.RPC.ValidateConfig(e.ctx(t), &itsmv1.ValidateConfigRequest{ConfigMsgpack: s.config.Msgpack})
			if status.Code(err) == codes.Unimplemented {
				err = hostclient.ErrCapabilityAbsent
			} else if err == nil && declared {
				for _, d := range resp.GetDiagnostics() {
					if d.GetSeverity() == itsmv1.Diagnostic_ERROR {
						t.Errorf("ValidateConfig rejects Options.Config: %s: %s", d.GetSummary(), d.GetDetail())
					}
				}
			}
		}
		absent := errors.Is(err, hostclient.ErrCapabilityAbsent)
		switch {
		case declared && (absent || notImplemented(err)):
			t.Errorf("capability %q is declared but the plugin answers %q", c, errString(err))
		case declared && err != nil:
			t.Errorf("capability %q: operation failed: %v", c, err)
		case !declared && !absent:
			t.Errorf("capability %q is not declared, but its RPC did not answer Unimplemented (got %v)", c, errString(err))
		}
	}
}

func notImplemented(err error) bool {
	return err != nil && (errors.Is(err, sdk.ErrNotImplemented) || containsFold(err.Error(), sdk.ErrNotImplemented.Error()))
}

func resolved(a sdk.Alert) sdk.Alert {
	a.Status = sdk.StatusResolved
	a.ResolvedAt = "2025-01-01T12:30:00Z"
	return a
}

// checkConfigure: the valid config is accepted (also twice), empty configs
// do not panic, and bad configs give error diagnostics on the right path.
func checkConfigure(t testing.TB, e *env) {
	t.Helper()
	s := e.harness(t)
	configure := func(what string, cfg sdk.Config) sdk.Diagnostics {
		t.Helper()
		var all sdk.Diagnostics
		if resp, err := s.RPC.ValidateConfig(e.ctx(t), &itsmv1.ValidateConfigRequest{ConfigMsgpack: cfg.Msgpack}); err == nil {
			for _, d := range resp.GetDiagnostics() {
				sev := sdk.SeverityError
				if d.GetSeverity() == itsmv1.Diagnostic_WARNING {
					sev = sdk.SeverityWarning
				}
				all = append(all, sdk.Diagnostic{Severity: sev, Summary: d.GetSummary(), Detail: d.GetDetail(), AttributePath: d.GetAttributePath()})
			}
		} else if status.Code(err) != codes.Unimplemented {
			t.Errorf("ValidateConfig (%s): %v", what, err)
		}
		diags, err := s.Client.Configure(e.ctx(t), "plugintest", cfg)
		if err != nil {
			if isPanic(err) {
				t.Errorf("Configure (%s) panicked: %v", what, err)
			} else {
				t.Errorf("Configure (%s): %v", what, err)
			}
		}
		return append(all, diags...)
	}

	if d := configure("valid config", s.config); d.HasErrors() {
		t.Errorf("Configure rejected Options.Config: %s", d.Error())
	}
	ty, _ := s.schema.ImpliedType()
	configure("empty config", sdk.Config{Type: ty})
	if nulls, err := allNull(ty); err == nil {
		configure("all attributes null", nulls)
	}

	type bad struct {
		what string
		cfg  sdk.Config
		path []string
	}
	var bads []bad
	for _, a := range s.schema.Attributes {
		if !a.Required || strings.TrimSpace(a.Type) != "string" {
			continue
		}
		cfg, err := withAttr(s.config, a.Name, cty.StringVal(""))
		if err != nil {
			t.Errorf("build config with empty %s: %v", a.Name, err)
			continue
		}
		bads = append(bads, bad{what: fmt.Sprintf("required %s = \"\"", a.Name), cfg: cfg, path: []string{a.Name}})
	}
	for i, bc := range e.opts.BadConfigs {
		cfg, err := DecodeConfig(s.schema, bc.Config)
		if err != nil {
			t.Errorf("Options.BadConfigs[%d] must decode against the schema (the plugin should reject it, not the host): %v", i, err)
			continue
		}
		bads = append(bads, bad{what: fmt.Sprintf("Options.BadConfigs[%d]", i), cfg: cfg, path: bc.Path})
	}
	for _, b := range bads {
		d := configure(b.what, b.cfg)
		if !d.HasErrors() {
			t.Errorf("bad config (%s) was accepted; want an error diagnostic on %v", b.what, b.path)
			continue
		}
		if b.path != nil && !hasErrorOn(d, b.path) {
			t.Errorf("bad config (%s): error diagnostics %q carry no attribute path %v", b.what, d.Error(), b.path)
		}
	}

	// The host re-configures after a reload or a restart.
	if d := configure("valid config again", s.config); d.HasErrors() {
		t.Errorf("re-Configure with Options.Config after bad configs failed: %s", d.Error())
	}
	if _, err := s.Client.Create(e.ctx(t), e.createReq(e.key())); err != nil {
		t.Errorf("Create after re-Configure: %v", err)
	}
}

func hasErrorOn(d sdk.Diagnostics, path []string) bool {
	for _, x := range d {
		if x.Severity == sdk.SeverityError && slices.Equal(x.AttributePath, path) {
			return true
		}
	}
	return false
}

// checkCreateIdempotent: the same key twice, and again from a restarted
// plugin, gives the same ticket and one ticket in the backend.
func checkCreateIdempotent(t testing.TB, e *env) {
	t.Helper()
	s := e.configured(t)
	key := e.key()
	ref1, err := s.Client.Create(e.ctx(t), e.createReq(key))
	if err != nil {
		fatal(t, "Create: %v", err)
	}
	if ref1.ID == "" {
		t.Errorf("Create returned an empty ticket id: %+v", ref1)
	}
	ref2, err := s.Client.Create(e.ctx(t), e.createReq(key))
	if err != nil {
		fatal(t, "second Create with the same key: %v", err)
	}
	if !sameRef(*ref1, *ref2) {
		t.Errorf("second Create with the same key returned %+v, first returned %+v", ref2, ref1)
	}
	// A restarted plugin has no memory: idempotency must come from the backend.
	fresh := e.configured(t)
	ref3, err := fresh.Client.Create(e.ctx(t), e.createReq(key))
	if err != nil {
		t.Errorf("Create from a restarted plugin: %v", err)
	} else if !sameRef(*ref1, *ref3) {
		t.Errorf("Create from a restarted plugin returned %+v, want %+v (is the ticket key looked up in the vendor?)", ref3, ref1)
	}
	if n := e.opts.Backend.CountTickets(key); n != 1 {
		t.Errorf("backend holds %d tickets for key %s, want 1", n, key)
	}
	other := e.key()
	ref4, err := s.Client.Create(e.ctx(t), e.createReq(other))
	if err != nil {
		t.Errorf("Create with another key: %v", err)
	} else if ref4.ID == ref1.ID {
		t.Errorf("Create with another key returned the same ticket %q", ref1.ID)
	}
	if n := e.opts.Backend.CountTickets(other); n != 1 {
		t.Errorf("backend holds %d tickets for key %s, want 1", n, other)
	}
}

func sameRef(a, b sdk.TicketRef) bool {
	return a.ID == b.ID && a.Number == b.Number && a.URL == b.URL
}

// checkResolve: resolving twice is harmless; an unknown ticket is permanent.
func checkResolve(t testing.TB, e *env) {
	t.Helper()
	s := e.configured(t)
	key := e.key()
	ref, err := s.Client.Create(e.ctx(t), e.createReq(key))
	if err != nil {
		fatal(t, "Create: %v", err)
	}
	req := &sdk.ResolveRequest{Ref: *ref, TicketKey: key, Alert: resolved(*e.opts.Alert)}
	if err := s.Client.Resolve(e.ctx(t), req); err != nil {
		t.Errorf("Resolve: %v", err)
	}
	if err := s.Client.Resolve(e.ctx(t), req); err != nil {
		t.Errorf("second Resolve of the same ticket: %v (resolving a resolved ticket must succeed and change nothing)", err)
	}
	if n := e.opts.Backend.CountTickets(key); n != 1 {
		t.Errorf("backend holds %d tickets for key %s after resolving twice, want 1", n, key)
	}
	// A resolved ticket is done with: Create with its key opens a new one
	// (after the host's retention purged a key's history, the key comes back
	// without its generation suffix).
	again, err := s.Client.Create(e.ctx(t), e.createReq(key))
	switch {
	case err != nil:
		t.Errorf("Create after Resolve: %v", err)
	case again.ID == ref.ID:
		t.Errorf("Create after Resolve returned the resolved ticket %s; the lookup before creating must find open tickets only", ref.ID)
	}
	unknown := e.unknownRef()
	err = s.Client.Resolve(e.ctx(t), &sdk.ResolveRequest{Ref: unknown, TicketKey: e.key(), Alert: resolved(*e.opts.Alert)})
	switch kind, _ := sdk.Classify(err); {
	case err == nil:
		t.Errorf("Resolve of unknown ticket %+v succeeded; want a permanent error", unknown)
	case kind != sdk.KindPermanent:
		t.Errorf("Resolve of unknown ticket: got a %s error (%v); want permanent", kind, err)
	}
}

func (e *env) unknownRef() sdk.TicketRef {
	if e.opts.UnknownRef != nil {
		return *e.opts.UnknownRef
	}
	id := "plugintest-unknown-" + e.runID
	return sdk.TicketRef{ID: id, Number: id}
}

// checkCancellation: Create stops when its context is cancelled and when
// the host calls Stop, while the backend holds the request.
func checkCancellation(t testing.TB, e *env) {
	t.Helper()
	st, ok := e.opts.Backend.(Staller)
	if !ok {
		t.Skipf("Backend does not implement plugintest.Staller; cancellation not checked")
		return
	}
	s := e.configured(t)
	timeout := e.opts.Timeout

	// 1. The caller cancels.
	entered, release := st.Stall()
	t.Cleanup(release)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() {
		_, err := s.Client.Create(ctx, e.createReq(e.key()))
		done <- err
	}()
	if !waitFor(entered, timeout) {
		release()
		fatal(t, "Create did not reach the backend within %v", timeout)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("Create succeeded after its context was cancelled")
		}
	case <-time.After(timeout):
		t.Errorf("Create did not return within %v after its context was cancelled", timeout)
	}
	if !s.WaitIdle(timeout) {
		t.Errorf("the plugin's Create kept running %v after the host cancelled it (pass ctx to every vendor call)", timeout)
	}
	release()
	s.WaitIdle(timeout)

	// 2. The host calls Stop (shutdown, reload).
	entered2, release2 := st.Stall()
	t.Cleanup(release2)
	done2 := make(chan error, 1)
	go func() {
		_, err := s.Client.Create(e.ctx(t), e.createReq(e.key()))
		done2 <- err
	}()
	if !waitFor(entered2, timeout) {
		release2()
		fatal(t, "Create did not reach the backend within %v", timeout)
	}
	if err := s.Client.Stop(e.ctx(t)); err != nil {
		t.Errorf("Stop: %v", err)
	}
	select {
	case err := <-done2:
		if err == nil {
			t.Errorf("Create succeeded although Stop cancelled it")
		} else if !sdk.IsRetryable(err) {
			t.Errorf("Create cancelled by Stop returned a permanent error (%v); it must be retryable", err)
		}
	case <-time.After(timeout):
		t.Errorf("Create did not return within %v after Stop", timeout)
	}
	release2()
	s.WaitIdle(timeout)
}

func waitFor(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}

// classCase is one row of the error-classification table.
type classCase struct {
	status     int
	retryAfter time.Duration
	retryable  bool
}

var classCases = []classCase{
	{status: http.StatusTooManyRequests, retryAfter: 7 * time.Second, retryable: true},
	{status: http.StatusTooManyRequests, retryable: true},
	{status: http.StatusServiceUnavailable, retryAfter: 2 * time.Second, retryable: true},
	{status: http.StatusInternalServerError, retryable: true},
	{status: http.StatusBadGateway, retryable: true},
	{status: http.StatusGatewayTimeout, retryable: true},
	{status: http.StatusRequestTimeout, retryable: true},
	{status: http.StatusBadRequest},
	{status: http.StatusUnauthorized},
	{status: http.StatusForbidden},
}

// checkErrorClassification: backend 429/5xx/408 → retryable with the
// Retry-After carried back, other 4xx → permanent, network error → retryable.
func checkErrorClassification(t testing.TB, e *env) {
	t.Helper()
	fi, hasFaults := e.opts.Backend.(FaultInjector)
	nb, hasNet := e.opts.Backend.(NetworkBreaker)
	if !hasFaults && !hasNet {
		t.Skipf("Backend implements neither plugintest.FaultInjector nor plugintest.NetworkBreaker; error classification not checked")
		return
	}
	s := e.configured(t)
	const every = 1 << 20 // fail every request: a plugin may legitimately retry once (e.g. a token refresh on 401)
	if hasFaults {
		for _, c := range classCases {
			fi.InjectFault(c.status, c.retryAfter, every)
			_, err := s.Client.Create(e.ctx(t), e.createReq(e.key()))
			e.opts.Backend.Reset()
			what := fmt.Sprintf("backend %d", c.status)
			if c.retryAfter > 0 {
				what += fmt.Sprintf(" with Retry-After %v", c.retryAfter)
			}
			if err == nil {
				t.Errorf("%s: Create succeeded; want an error", what)
				continue
			}
			kind, after := sdk.Classify(err)
			switch {
			case c.retryable && kind != sdk.KindRetryable:
				t.Errorf("%s: got a permanent error (%v); want retryable", what, err)
			case !c.retryable && kind != sdk.KindPermanent:
				t.Errorf("%s: got a retryable error (%v); want permanent", what, err)
			case c.retryAfter > 0 && (after < c.retryAfter || after > c.retryAfter+time.Second):
				t.Errorf("%s: retry-after %v carried back; want %v", what, after, c.retryAfter)
			}
		}
	} else {
		t.Logf("Backend does not implement plugintest.FaultInjector; HTTP status cases not checked")
	}
	if hasNet {
		nb.BreakNetwork(every)
		_, err := s.Client.Create(e.ctx(t), e.createReq(e.key()))
		e.opts.Backend.Reset()
		if err == nil {
			t.Errorf("network failure: Create succeeded; want a retryable error")
		} else if !sdk.IsRetryable(err) {
			t.Errorf("network failure: got a permanent error (%v); want retryable", err)
		}
	} else {
		t.Logf("Backend does not implement plugintest.NetworkBreaker; network errors not checked")
	}
	// The plugin works again once the backend does.
	key := e.key()
	if _, err := s.Client.Create(e.ctx(t), e.createReq(key)); err != nil {
		t.Errorf("Create after the faults cleared: %v", err)
	} else if n := e.opts.Backend.CountTickets(key); n != 1 {
		t.Errorf("backend holds %d tickets for key %s, want 1", n, key)
	}
}

// checkSecretHygiene: no configured sensitive value appears in any error,
// diagnostic or log line, across good and failing operations.
func checkSecretHygiene(t testing.TB, e *env) {
	t.Helper()
	s := e.harness(t)
	var secrets []string
	for _, v := range sensitiveValues(s.schema, s.config) {
		if len(v) < 4 {
			t.Logf("sensitive value shorter than 4 characters not searched for (use distinctive test secrets)")
			continue
		}
		secrets = append(secrets, v)
	}
	if len(secrets) == 0 {
		t.Skipf("Options.Config sets no sensitive attribute; nothing to search for")
		return
	}
	var seen texts
	diags, err := s.Client.Configure(e.ctx(t), "plugintest", s.config)
	seen.err(err)
	seen.diags(diags)
	if diags.HasErrors() || err != nil {
		fatal(t, "Configure: %v %s", err, diags.Error())
	}
	// Bad configs keep the secrets but break something else.
	for i, bc := range e.opts.BadConfigs {
		if cfg, err := DecodeConfig(s.schema, bc.Config); err == nil {
			d, err := s.Client.Configure(e.ctx(t), "plugintest", cfg)
			seen.err(err)
			seen.diags(d)
		} else {
			t.Logf("Options.BadConfigs[%d] does not decode: %v", i, err)
		}
	}
	for _, a := range s.schema.Attributes {
		if a.Required && strings.TrimSpace(a.Type) == "string" && !a.Sensitive {
			if cfg, err := withAttr(s.config, a.Name, cty.StringVal("")); err == nil {
				d, err := s.Client.Configure(e.ctx(t), "plugintest", cfg)
				seen.err(err)
				seen.diags(d)
			}
		}
	}
	d, err := s.Client.Configure(e.ctx(t), "plugintest", s.config)
	seen.err(err)
	seen.diags(d)

	key := e.key()
	ref, err := s.Client.Create(e.ctx(t), e.createReq(key))
	seen.err(err)
	if ref != nil {
		seen.add(ref.URL)
		seen.err(s.Client.Resolve(e.ctx(t), &sdk.ResolveRequest{Ref: *ref, TicketKey: key, Alert: resolved(*e.opts.Alert)}))
	}
	seen.err(s.Client.Resolve(e.ctx(t), &sdk.ResolveRequest{Ref: e.unknownRef(), TicketKey: e.key(), Alert: resolved(*e.opts.Alert)}))
	if fi, ok := e.opts.Backend.(FaultInjector); ok {
		for _, code := range []int{400, 401, 403, 404, 429, 500, 503} {
			fi.InjectFault(code, time.Second, 1<<20)
			_, err := s.Client.Create(e.ctx(t), e.createReq(e.key()))
			seen.err(err)
			seen.err(s.Client.Health(e.ctx(t)))
			e.opts.Backend.Reset()
		}
	}
	if nb, ok := e.opts.Backend.(NetworkBreaker); ok {
		nb.BreakNetwork(1 << 20)
		_, err := s.Client.Create(e.ctx(t), e.createReq(e.key()))
		seen.err(err)
		e.opts.Backend.Reset()
	}
	seen.add(s.Logs())

	for _, txt := range seen.all {
		for i, sec := range secrets {
			for _, form := range []string{sec, url.QueryEscape(sec)} {
				if strings.Contains(txt, form) {
					t.Errorf("sensitive value #%d of Options.Config leaked into plugin output: %s",
						i+1, truncate(strings.ReplaceAll(txt, form, "<SECRET>"), 600))
				}
			}
		}
	}
}

// checkStdio: the built binary handshakes, serves real calls and never
// writes to stdout; its logs hold no secret.
func checkStdio(t testing.TB, e *env) {
	t.Helper()
	if e.opts.Binary == "" {
		t.Skipf("Options.Binary not set; the built plugin is not checked")
		return
	}
	p := BuildAndHandshake(t, e.opts.Binary)
	if p == nil {
		fatal(t, "plugin did not start")
	}
	info, err := p.Client.Info(e.ctx(t))
	if err != nil {
		fatal(t, "GetInfo: %v", err)
	}
	schema, err := p.Client.Schema(e.ctx(t))
	if err != nil {
		fatal(t, "GetSchema: %v", err)
	}
	cfg, err := DecodeConfig(schema, e.opts.Config)
	if err != nil {
		fatal(t, "Options.Config: %v", err)
	}
	diags, err := p.Client.Configure(e.ctx(t), "plugintest", cfg)
	if err != nil || diags.HasErrors() {
		fatal(t, "Configure: %v %s", err, diags.Error())
	}
	key := e.key()
	ref, err := p.Client.Create(e.ctx(t), e.createReq(key))
	if err != nil {
		fatal(t, "Create: %v", err)
	}
	if _, err := p.Client.Create(e.ctx(t), e.createReq(key)); err != nil {
		t.Errorf("second Create: %v", err)
	}
	if info.Has(sdk.CapComment) {
		if err := p.Client.Comment(e.ctx(t), &sdk.CommentRequest{Ref: *ref, TicketKey: key, Alert: *e.opts.Alert, Text: "plugintest"}); err != nil {
			t.Errorf("Comment: %v", err)
		}
	}
	if err := p.Client.Resolve(e.ctx(t), &sdk.ResolveRequest{Ref: *ref, TicketKey: key, Alert: resolved(*e.opts.Alert)}); err != nil {
		t.Errorf("Resolve: %v", err)
	}
	if err := p.Client.Health(e.ctx(t)); err != nil {
		t.Errorf("Health: %v", err)
	}
	p.Kill() // flushes the plugin's stdio stream; the cleanup asserts stdout stayed empty
	logs := p.Logs()
	for i, sec := range sensitiveValues(schema, cfg) {
		if len(sec) >= 4 && strings.Contains(logs, sec) {
			t.Errorf("sensitive value #%d of Options.Config appears in the plugin's stderr", i+1)
		}
	}
}

func sameSet(a, b []string) bool {
	x := slices.Clone(a)
	y := slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
