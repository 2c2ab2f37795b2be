package route

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/config"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// Outcome is what a route did with an alert.
type Outcome int

const (
	// NotMatched: the match expression was false.
	NotMatched Outcome = iota
	// Matched: the match expression was true; deliveries were produced
	// (unless Result.Stopped).
	Matched
	// Errored: the match expression failed or was not a bool; treated as
	// no match.
	Errored
	// Skipped: not evaluated, because an earlier route matched without
	// continue = true.
	Skipped
)

func (o Outcome) String() string {
	switch o {
	case NotMatched:
		return "not matched"
	case Matched:
		return "matched"
	case Errored:
		return "error"
	case Skipped:
		return "skipped"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// MarshalText renders the outcome for JSON output.
func (o Outcome) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// Result is one route's verdict for an alert, in declaration order.
type Result struct {
	Route   string  `json:"route"`
	Outcome Outcome `json:"outcome"`
	// Error explains an Errored outcome (secrets redacted).
	Error string `json:"error,omitempty"`
	// Warnings are rendering problems of a matched route: the ticket field
	// named fell back to its default.
	Warnings []string `json:"warnings,omitempty"`
	// Stopped is set by RouteAll for routes evaluated after routing had
	// stopped: they show what would match, but produce no deliveries.
	Stopped bool `json:"stopped,omitempty"`
}

// Delivery is one ticket operation to hand to a backend.
type Delivery struct {
	Route   string            `json:"route"`
	Backend config.BackendRef `json:"backend"`
	// TicketKey identifies the ticket in the backend: a hex hash of the
	// backend and the route's group_by values (default [alert.id]). Alerts
	// with the same key share one ticket.
	TicketKey string           `json:"ticket_key"`
	Ticket    sdk.Ticket       `json:"ticket"`
	Lifecycle config.Lifecycle `json:"lifecycle"`
	CMDB      config.CMDB      `json:"cmdb"`
}

// Router applies a configuration's routes. Create it with New.
type Router struct {
	cfg         *config.Config
	logger      hclog.Logger
	needContext bool       // some expression reads alert.context (or the whole alert)
	fast        []compiled // per route: the compiled expressions (see compile.go)

	matchErrors  atomic.Uint64
	renderErrors atomic.Uint64
}

// New returns a Router for cfg, which must have loaded without errors.
func New(cfg *config.Config, logger hclog.Logger) (*Router, error) {
	if cfg == nil {
		return nil, errors.New("route: nil config")
	}
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	r := &Router{cfg: cfg, logger: logger.Named("route"), fast: make([]compiled, len(cfg.Routes))}
	c := compiler{funcs: cfg.Functions()}
	for i, rt := range cfg.Routes {
		if rt.Match == nil {
			return nil, fmt.Errorf("route %q: no match expression", rt.Name)
		}
		if len(rt.To) == 0 {
			return nil, fmt.Errorf("route %q: no backend", rt.Name)
		}
		for _, ref := range rt.To {
			if cfg.Backend(ref) == nil {
				return nil, fmt.Errorf("route %q: undeclared backend %s", rt.Name, ref)
			}
		}
		for _, e := range routeExprs(rt) {
			if readsContext(e) {
				r.needContext = true
			}
		}
		r.fast[i] = c.route(rt)
	}
	return r, nil
}

func routeExprs(rt *config.Route) []hcl.Expression {
	out := []hcl.Expression{rt.Match, rt.GroupBy, rt.Ticket.Title, rt.Ticket.Description, rt.Ticket.Severity}
	for _, f := range rt.Ticket.Fields {
		out = append(out, f.Value)
	}
	return out
}

// readsContext reports whether e refers to alert.context or to alert as a whole.
func readsContext(e hcl.Expression) bool {
	if e == nil {
		return false
	}
	for _, t := range e.Variables() {
		if len(t) < 2 {
			return true
		}
		switch step := t[1].(type) {
		case hcl.TraverseAttr:
			if step.Name == "context" {
				return true
			}
		case hcl.TraverseIndex:
			if step.Key.Type() != cty.String || !step.Key.IsKnown() || step.Key.AsString() == "context" {
				return true
			}
		default:
			return true
		}
	}
	return false
}

// MatchErrors counts match expressions that failed or were not a bool.
func (r *Router) MatchErrors() uint64 { return r.matchErrors.Load() }

// RenderErrors counts ticket fields and group_by values that failed to render
// and fell back to their defaults.
func (r *Router) RenderErrors() uint64 { return r.renderErrors.Load() }

// Route evaluates the routes in order for a and returns the deliveries and one
// Result per route. No deliveries means the alert is unrouted.
func (r *Router) Route(a *alert.Alert) ([]Delivery, []Result) { return r.route(a, false) }

// RouteAll is Route, but it also evaluates the routes after routing stopped
// (marked Stopped, without deliveries), to explain a configuration
// (`itsmbridge route test -all`).
func (r *Router) RouteAll(a *alert.Alert) ([]Delivery, []Result) { return r.route(a, true) }

// evalState builds the HCL evaluation context of an alert at most once, and
// only when an expression needs HCL (compiled matches read the alert
// directly).
type evalState struct {
	r   *Router
	a   *alert.Alert
	ctx *hcl.EvalContext
}

func (s *evalState) get() *hcl.EvalContext {
	if s.ctx == nil {
		s.ctx = s.r.cfg.EvalContext(config.AlertValue(s.a, s.r.needContext))
	}
	return s.ctx
}

func (r *Router) route(a *alert.Alert, all bool) ([]Delivery, []Result) {
	ctx := &evalState{r: r, a: a}
	results := make([]Result, len(r.cfg.Routes))
	var deliveries []Delivery
	stopped := false
	for i, rt := range r.cfg.Routes {
		res := &results[i]
		res.Route = rt.Name
		if stopped && !all {
			res.Outcome = Skipped
			continue
		}
		res.Stopped = stopped
		ok, err := r.match(r.fast[i].match, rt, ctx)
		switch {
		case err != nil:
			res.Outcome, res.Error = Errored, err.Error()
			if !stopped {
				r.matchErrors.Add(1)
				r.logger.Warn("route match failed; treated as no match", "route", rt.Name, "alert", a.ID, "error", res.Error)
			}
			continue
		case !ok:
			res.Outcome = NotMatched
			continue
		}
		res.Outcome = Matched
		if stopped {
			continue
		}
		for _, d := range r.deliveries(rt, &r.fast[i], ctx, res) {
			if prev := sameTicket(deliveries, d); prev != nil {
				// Two continuing routes chose the same ticket: the first
				// route's delivery stands, so a ticket gets one operation.
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s: same ticket as route %q; delivered once", d.Backend, prev.Route))
				continue
			}
			deliveries = append(deliveries, d)
		}
		if !rt.Continue {
			stopped = true
		}
	}
	return deliveries, results
}

func sameTicket(ds []Delivery, d Delivery) *Delivery {
	for i := range ds {
		if ds[i].Backend == d.Backend && ds[i].TicketKey == d.TicketKey {
			return &ds[i]
		}
	}
	return nil
}

func (r *Router) match(f *fnode, rt *config.Route, s *evalState) (bool, error) {
	if f != nil {
		if v, ok := f.eval(s.a); ok {
			return v.b, nil
		}
	}
	v, diags := rt.Match.Value(s.get())
	if diags.HasErrors() {
		return false, errors.New(r.cfg.Redact(diagText(diags)))
	}
	v = unmark(v)
	switch {
	case v.Type() != cty.Bool:
		return false, fmt.Errorf("match evaluated to %s, not a bool", v.Type().FriendlyName())
	case v.IsNull():
		return false, errors.New("match evaluated to null")
	case !v.IsKnown():
		return false, errors.New("match evaluated to an unknown value")
	}
	return v.True(), nil
}

func (r *Router) deliveries(rt *config.Route, fast *compiled, s *evalState, res *Result) []Delivery {
	group := r.groupKey(rt, fast, s, res)
	ticket := r.render(rt, fast, s, res)
	out := make([]Delivery, 0, len(rt.To))
	for _, ref := range rt.To {
		out = append(out, Delivery{
			Route:     rt.Name,
			Backend:   ref,
			TicketKey: TicketKey(ref, group),
			Ticket:    ticket,
			Lifecycle: rt.Lifecycle,
			CMDB:      rt.CMDB,
		})
	}
	return out
}

// TicketKey hashes a backend and a route's group_by values (see groupKey)
// into a ticket key: 32 hex digits (128 bits of SHA-256).
func TicketKey(ref config.BackendRef, group []byte) string {
	h := sha256.New()
	h.Write([]byte(ref.Type))
	h.Write([]byte{0})
	h.Write([]byte(ref.Name))
	h.Write([]byte{0})
	h.Write(group)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// groupKey evaluates group_by (default [alert.id]) into its canonical
// encoding: each value as "<length>:<text>\n", where strings are themselves,
// numbers their shortest decimal form, bools true/false, null empty, and
// collections their JSON. The encoding is ours, not a library's, so ticket
// keys stay stable across upgrades.
func (r *Router) groupKey(rt *config.Route, fast *compiled, s *evalState, res *Result) []byte {
	a := s.a
	if rt.GroupBy == nil {
		return appendGroupValue(nil, a.ID)
	}
	if fast.group != nil {
		var b []byte
		ok := true
		for _, n := range fast.group {
			var v fval
			if v, ok = n.eval(a); !ok {
				break
			}
			b = appendGroupValue(b, v.s)
		}
		if ok {
			return b
		}
	}
	v, diags := rt.GroupBy.Value(s.get())
	var err error
	if diags.HasErrors() {
		err = errors.New(diagText(diags))
	} else {
		v = unmark(v)
		ty := v.Type()
		switch {
		case v.IsNull() || !(ty.IsTupleType() || ty.IsListType() || ty.IsSetType()):
			err = fmt.Errorf("group_by evaluated to %s, not a list", ty.FriendlyName())
		case !v.IsWhollyKnown():
			err = errors.New("group_by has unknown values")
		}
	}
	var b []byte
	if err == nil {
		for it := v.ElementIterator(); it.Next() && err == nil; {
			_, ev := it.Element()
			var s string
			s, err = groupValueText(ev)
			b = appendGroupValue(b, s)
		}
	}
	if err != nil {
		r.renderFailed(rt, a, res, "group_by", err)
		return appendGroupValue(nil, a.ID)
	}
	return b
}

func appendGroupValue(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	b = append(b, s...)
	return append(b, '\n')
}

func groupValueText(v cty.Value) (string, error) {
	if v.IsNull() {
		return "", nil
	}
	switch ty := v.Type(); ty {
	case cty.String:
		return v.AsString(), nil
	case cty.Number:
		return v.AsBigFloat().Text('f', -1), nil
	case cty.Bool:
		return strconv.FormatBool(v.True()), nil
	default:
		js, err := ctyjson.Marshal(v, ty)
		return string(js), err
	}
}

func (r *Router) renderFailed(rt *config.Route, a *alert.Alert, res *Result, what string, err error) {
	msg := r.cfg.Redact(fmt.Sprintf("%s: %s; using the default", what, err))
	res.Warnings = append(res.Warnings, msg)
	r.renderErrors.Add(1)
	r.logger.Warn("route render failed", "route", rt.Name, "alert", a.ID, "problem", msg)
}

// render builds the ticket of a matched route.
func (r *Router) render(rt *config.Route, fast *compiled, s *evalState, res *Result) sdk.Ticket {
	a := s.a
	t := sdk.Ticket{Severity: a.Severity}
	t.Title = r.renderString(rt, s, res, "title", rt.Ticket.Title, fast.title, DefaultTitle)
	t.Description = r.renderString(rt, s, res, "description", rt.Ticket.Description, fast.desc, DefaultDescription)
	if e := rt.Ticket.Severity; e != nil {
		sev, err := evalSeverity(e, fast.sev, s)
		if err != nil {
			r.renderFailed(rt, a, res, "severity", err)
		} else {
			t.Severity = sev
		}
	}
	if len(rt.Ticket.Fields) > 0 {
		t.Fields = make(map[string]string, len(rt.Ticket.Fields))
		for i, f := range rt.Ticket.Fields {
			var fn *fnode
			if i < len(fast.fields) {
				fn = fast.fields[i]
			}
			v, null, err := evalString(f.Value, fn, s)
			switch {
			case err != nil:
				r.renderFailed(rt, a, res, "fields."+f.Name, fmt.Errorf("%w (field left out)", err))
			case !null:
				t.Fields[f.Name] = v
			}
		}
	}
	return t
}

func (r *Router) renderString(rt *config.Route, s *evalState, res *Result, what string, e hcl.Expression, fast *fnode, def func(*alert.Alert) string) string {
	if e == nil {
		return def(s.a)
	}
	v, null, err := evalString(e, fast, s)
	if err == nil && null {
		err = errors.New("evaluated to null")
	}
	if err != nil {
		r.renderFailed(rt, s.a, res, what, err)
		return def(s.a)
	}
	return v
}

// evalString evaluates e to a string (numbers and bools are converted), with
// its compiled form when it has one and it decides.
func evalString(e hcl.Expression, fast *fnode, s *evalState) (string, bool, error) {
	if fast != nil {
		if v, ok := fast.eval(s.a); ok {
			return v.s, false, nil
		}
	}
	v, diags := e.Value(s.get())
	if diags.HasErrors() {
		return "", false, errors.New(diagText(diags))
	}
	v = unmark(v)
	if v.IsNull() {
		return "", true, nil
	}
	sv, cerr := convert.Convert(v, cty.String)
	if cerr != nil {
		return "", false, fmt.Errorf("%s is not a string", v.Type().FriendlyName())
	}
	if !sv.IsKnown() {
		return "", false, errors.New("unknown value")
	}
	return sv.AsString(), false, nil
}

func evalSeverity(e hcl.Expression, fast *fnode, s *evalState) (int, error) {
	if fast != nil {
		if v, ok := fast.eval(s.a); ok && v.n >= 0 && v.n <= 4 && v.n == float64(int(v.n)) {
			return int(v.n), nil
		}
	}
	v, diags := e.Value(s.get())
	if diags.HasErrors() {
		return 0, errors.New(diagText(diags))
	}
	v = unmark(v)
	nv, err := convert.Convert(v, cty.Number)
	if err != nil || nv.IsNull() || !nv.IsKnown() {
		return 0, fmt.Errorf("%s is not a number", v.Type().FriendlyName())
	}
	i, acc := nv.AsBigFloat().Int64()
	if acc != big.Exact || i < 0 || i > 4 {
		return 0, fmt.Errorf("%s is not a severity from 0 to 4", nv.AsBigFloat().Text('g', -1))
	}
	return int(i), nil
}

// unmark drops the sensitive marks of env()/file() values; deep unmarking
// allocates, so it is only done when a mark is present.
func unmark(v cty.Value) cty.Value {
	if v.Type().IsPrimitiveType() {
		v, _ = v.Unmark()
		return v
	}
	if v.ContainsMarked() {
		v, _ = v.UnmarkDeep()
	}
	return v
}

// diagText renders error diagnostics on one line, without source snippets.
func diagText(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		s := d.Summary
		if d.Detail != "" {
			s += ": " + d.Detail
		}
		if d.Subject != nil {
			s = d.Subject.String() + ": " + s
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
