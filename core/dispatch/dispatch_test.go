package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/sqlite"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/hostclient"
	itsmv1 "github.com/itsmbridge/itsmbridge/sdk/proto/itsm/v1"
)

// fakeITSM is an in-memory ITSM served over real gRPC (go-plugin's test
// connection) so the dispatcher talks to it exactly as to a plugin process.
type fakeITSM struct {
	mu      sync.Mutex
	calls   []string // "create:KEY", "resolve:NUMBER", ...
	tickets map[string]*sdk.TicketRef
	state   map[string]string // number -> open|resolved
	binds   map[string][]string
	// fail returns an error for an operation, or nil.
	fail        func(op, key string) error
	createDelay time.Duration
}

func newFakeITSM() *fakeITSM {
	return &fakeITSM{tickets: map[string]*sdk.TicketRef{}, state: map[string]string{}, binds: map[string][]string{}}
}

func (f *fakeITSM) Info() sdk.Info     { return sdk.Info{Name: "fake", Version: "1.0.0"} }
func (f *fakeITSM) Schema() sdk.Schema { return sdk.Schema{} }
func (f *fakeITSM) Configure(context.Context, *sdk.ConfigureRequest) sdk.Diagnostics {
	return nil
}

func (f *fakeITSM) record(op, key string) error {
	f.mu.Lock()
	f.calls = append(f.calls, op+":"+key)
	fail := f.fail
	f.mu.Unlock()
	if fail != nil {
		return fail(op, key)
	}
	return nil
}

func (f *fakeITSM) Create(ctx context.Context, req *sdk.CreateRequest) (*sdk.TicketRef, error) {
	if f.createDelay > 0 {
		select {
		case <-time.After(f.createDelay):
		case <-ctx.Done():
			return nil, sdk.Retryable(ctx.Err(), 0)
		}
	}
	if err := f.record("create", req.TicketKey); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.tickets[req.TicketKey]; ok {
		return r, nil
	}
	n := fmt.Sprintf("INC%04d", len(f.tickets)+1)
	r := &sdk.TicketRef{ID: "id-" + n, Number: n, URL: "http://itsm/" + n}
	f.tickets[req.TicketKey] = r
	f.state[n] = "open"
	return r, nil
}

func (f *fakeITSM) Resolve(_ context.Context, req *sdk.ResolveRequest) error {
	if err := f.record("resolve", req.Ref.Number); err != nil {
		return err
	}
	f.mu.Lock()
	f.state[req.Ref.Number] = "resolved"
	f.mu.Unlock()
	return nil
}

func (f *fakeITSM) Reopen(_ context.Context, req *sdk.ReopenRequest) error {
	if err := f.record("reopen", req.Ref.Number); err != nil {
		return err
	}
	f.mu.Lock()
	f.state[req.Ref.Number] = "open"
	f.mu.Unlock()
	return nil
}

func (f *fakeITSM) Comment(_ context.Context, req *sdk.CommentRequest) error {
	return f.record("comment", req.Ref.Number)
}

func (f *fakeITSM) BindCI(_ context.Context, req *sdk.BindCIRequest) (*sdk.CIRef, error) {
	if err := f.record("bind", req.Ref.Number); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.binds[req.Ref.Number] = append(f.binds[req.Ref.Number], req.Item.Name)
	f.mu.Unlock()
	return &sdk.CIRef{ID: "ci-" + req.Item.Name, Name: req.Item.Name, Class: "vm"}, nil
}

func (f *fakeITSM) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// grpcPlugin adapts the fake to the dispatcher's Plugin interface.
type grpcPlugin struct {
	client *hostclient.Client
	info   hostclient.Info
	down   atomic.Bool
}

func (p *grpcPlugin) Call(ctx context.Context, fn func(context.Context, *hostclient.Client) error) error {
	if p.down.Load() {
		return sdk.Retryable(errors.New("plugin not running"), 0)
	}
	return fn(ctx, p.client)
}

func (p *grpcPlugin) Info() hostclient.Info { return p.info }

// TestMain silences go-plugin's in-process test connection, whose logger
// writes debug lines to stderr (hclog.DefaultOutput) in the middle of
// benchmark result lines, where scripts/bench.sh could not parse them.
func TestMain(m *testing.M) {
	hclog.DefaultOutput = io.Discard
	os.Exit(m.Run())
}

func serveFake(t testing.TB, f *fakeITSM) *grpcPlugin {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, map[string]plugin.Plugin{sdk.PluginKey: &sdk.GRPCPlugin{Impl: f}})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(sdk.PluginKey)
	if err != nil {
		t.Fatal(err)
	}
	c := hostclient.New(raw.(itsmv1.ITSMClient))
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &grpcPlugin{client: c, info: info}
}

var backendID = store.BackendID{Type: "fake", Name: "test"}

type harness struct {
	t     testing.TB
	store *sqlite.Store
	// claimer is set when the dispatcher claims through ClaimWithTickets.
	claimer *ticketClaimingStore
	fake    *fakeITSM
	plug    *grpcPlugin
	disp    *Dispatcher
	n       atomic.Int64
}

// ticketClaimingStore gives the SQLite store ClaimWithTickets (what the
// PostgreSQL store has) and counts the GetTicket calls that reach it.
type ticketClaimingStore struct {
	*sqlite.Store
	gets atomic.Int64
}

func (s *ticketClaimingStore) ClaimWithTickets(ctx context.Context, owner string, backend store.BackendID, limit int, leaseFor time.Duration) ([]store.Delivery, map[string]store.Ticket, error) {
	ds, err := s.Store.Claim(ctx, owner, backend, limit, leaseFor)
	if err != nil {
		return nil, nil, err
	}
	tickets := map[string]store.Ticket{}
	for _, d := range ds {
		t, err := s.Store.GetTicket(ctx, backend, d.TicketKey)
		switch {
		case err == nil:
			tickets[d.TicketKey] = t
		case !errors.Is(err, store.ErrNotFound):
			return nil, nil, err
		}
	}
	return ds, tickets, nil
}

func (s *ticketClaimingStore) GetTicket(ctx context.Context, backend store.BackendID, key string) (store.Ticket, error) {
	s.gets.Add(1)
	return s.Store.GetTicket(ctx, backend, key)
}

func newHarness(t testing.TB, f *fakeITSM) *harness { return newHarnessWith(t, f, false) }

// newHarnessWith is newHarness; with claimTickets the dispatcher's store
// has ClaimWithTickets.
func newHarnessWith(t testing.TB, f *fakeITSM, claimTickets bool) *harness {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, store: st, fake: f, plug: serveFake(t, f)}
	var ds Store = st
	if claimTickets {
		h.claimer = &ticketClaimingStore{Store: st}
		ds = h.claimer
	}
	h.disp = New(Config{
		Store: ds, Logger: hclog.NewNullLogger(), PollInterval: 20 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, LeaseFor: 5 * time.Second,
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.disp.Close(ctx)
	})
	return h
}

func (h *harness) start(b Backend) {
	b.ID = backendID
	b.Plugin = h.plug
	h.disp.Set(context.Background(), []Backend{b})
}

// ingest stores an alert event with one delivery for key.
func (h *harness) ingest(key, status, firedAt, resolvedAt string, opts Options, cis ...string) int64 {
	h.t.Helper()
	n := h.n.Add(1)
	a := sdk.Alert{
		ID: "alert-" + key, Status: status, Rule: "cpu", Severity: 1, SeverityName: "Sev1",
		FiredAt: firedAt, ResolvedAt: resolvedAt, Targets: []string{}, ConfigurationItems: cis,
		Custom: map[string]string{}, Context: json.RawMessage("{}"),
		DedupKey: fmt.Sprintf("%s|%s|%d", key, status, n),
	}
	ticket, _ := json.Marshal(sdk.Ticket{Title: "[Sev1] cpu", Fields: map[string]string{}})
	o, _ := json.Marshal(opts)
	res, err := h.store.Ingest(context.Background(), store.IngestRecord{
		Source: "test", Alert: a, Raw: []byte("{}"),
		Deliveries: []store.NewDelivery{{Route: "r", Backend: backendID, TicketKey: key, Event: store.Event(status), Ticket: ticket, Options: o}},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return res.Deliveries[0]
}

// wait polls until every listed delivery reaches a final state.
func (h *harness) wait(ids ...int64) []store.Delivery {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var out []store.Delivery
		final := true
		for _, id := range ids {
			d, err := h.store.GetDelivery(context.Background(), id)
			if err != nil {
				h.t.Fatal(err)
			}
			if d.State != store.StateDone && d.State != store.StateDead {
				final = false
			}
			out = append(out, d)
		}
		if final {
			return out
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("deliveries not finished: %+v", out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var fullLifecycle = Options{Resolve: true, ReopenWithin: Duration(time.Hour), OnRepeat: "comment", BindCIs: true}

func TestCreateBindResolveInOrder(t *testing.T) {
	f := newFakeITSM()
	f.createDelay = 200 * time.Millisecond // the resolve arrives while create is in flight
	h := newHarness(t, f)
	h.start(Backend{MaxConcurrency: 8})
	fire := h.ingest("k1", "fired", "2026-01-01T10:00:00Z", "", fullLifecycle, "vm1", "vm2")
	resolve := h.ingest("k1", "resolved", "2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z", fullLifecycle)
	ds := h.wait(fire, resolve)
	if ds[0].Outcome != ActionCreated || ds[1].Outcome != ActionResolved {
		t.Fatalf("outcomes = %q, %q", ds[0].Outcome, ds[1].Outcome)
	}
	want := []string{"create:k1", "bind:INC0001", "bind:INC0001", "resolve:INC0001"}
	if got := f.Calls(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("calls = %v, want %v", got, want)
	}
	tk, err := h.store.GetTicket(context.Background(), backendID, "k1")
	if err != nil {
		t.Fatal(err)
	}
	if tk.State != store.TicketResolved || len(tk.CIBindings) != 2 || tk.Ref.Number != "INC0001" {
		t.Fatalf("ticket = %+v", tk)
	}
}

func TestRepeatAndReopenLifecycle(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		steps []struct{ status, fired, resolved string }
		want  []string
		gens  int
	}{
		{
			name: "repeat fire comments",
			opts: fullLifecycle,
			steps: []struct{ status, fired, resolved string }{
				{"fired", "2026-01-01T10:00:00Z", ""}, {"fired", "2026-01-01T10:01:00Z", ""},
			},
			want: []string{"create:k", "comment:INC0001"},
			gens: 1,
		},
		{
			name: "repeat fire ignored",
			opts: Options{Resolve: true, OnRepeat: "ignore"},
			steps: []struct{ status, fired, resolved string }{
				{"fired", "2026-01-01T10:00:00Z", ""}, {"fired", "2026-01-01T10:01:00Z", ""},
			},
			want: []string{"create:k"},
			gens: 1,
		},
		{
			name: "flap within the reopen window reopens",
			opts: fullLifecycle,
			steps: []struct{ status, fired, resolved string }{
				{"fired", "2026-01-01T10:00:00Z", ""},
				{"resolved", "2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z"},
				{"fired", "2026-01-01T10:20:00Z", ""},
			},
			want: []string{"create:k", "resolve:INC0001", "reopen:INC0001"},
			gens: 1,
		},
		{
			name: "fire beyond the reopen window opens a new ticket",
			opts: fullLifecycle,
			steps: []struct{ status, fired, resolved string }{
				{"fired", "2026-01-01T10:00:00Z", ""},
				{"resolved", "2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z"},
				{"fired", "2026-01-01T12:00:00Z", ""},
			},
			want: []string{"create:k", "resolve:INC0001", "create:k-g2"},
			gens: 2,
		},
		{
			name: "resolve without a ticket is recorded, no call",
			opts: fullLifecycle,
			steps: []struct{ status, fired, resolved string }{
				{"resolved", "2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z"},
			},
			want: nil,
			gens: 0,
		},
		{
			name: "resolve = false leaves the ticket open with a comment",
			opts: Options{Resolve: false, OnRepeat: "comment"},
			steps: []struct{ status, fired, resolved string }{
				{"fired", "2026-01-01T10:00:00Z", ""},
				{"resolved", "2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z"},
			},
			want: []string{"create:k", "comment:INC0001"},
			gens: 1,
		},
	}
	for _, tt := range tests {
		// Tickets read by each job (GetTicket), or with the claim.
		for _, claimTickets := range []bool{false, true} {
			name := tt.name
			if claimTickets {
				name += " (tickets read with the claim)"
			}
			t.Run(name, func(t *testing.T) {
				f := newFakeITSM()
				h := newHarnessWith(t, f, claimTickets)
				h.start(Backend{})
				var ids []int64
				for _, s := range tt.steps {
					ids = append(ids, h.ingest("k", s.status, s.fired, s.resolved, tt.opts))
				}
				h.wait(ids...)
				if got := f.Calls(); strings.Join(got, ",") != strings.Join(tt.want, ",") {
					t.Fatalf("calls = %v, want %v", got, tt.want)
				}
				hist, err := h.store.TicketHistory(context.Background(), backendID, "k")
				if err != nil {
					t.Fatal(err)
				}
				if len(hist) != tt.gens {
					t.Fatalf("generations = %d, want %d", len(hist), tt.gens)
				}
				if h.claimer != nil {
					if n := h.claimer.gets.Load(); n != 0 {
						t.Errorf("jobs called GetTicket %d times; want 0: the claim brought the tickets", n)
					}
				}
			})
		}
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	f := newFakeITSM()
	var failures atomic.Int32
	f.fail = func(op, key string) error {
		if op == "create" && failures.Add(1) <= 2 {
			return sdk.Retryable(errors.New("vendor 429"), 300*time.Millisecond)
		}
		return nil
	}
	h := newHarness(t, f)
	h.start(Backend{})
	id := h.ingest("k", "fired", "2026-01-01T10:00:00Z", "", fullLifecycle)
	// After the first failure the delivery is scheduled no sooner than the
	// vendor asked, although MinBackoff is 10ms.
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, err := h.store.GetDelivery(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Attempts >= 1 && d.State == store.StatePending {
			if gap := d.NextAttemptAt.Sub(d.UpdatedAt); gap < 290*time.Millisecond {
				t.Fatalf("next attempt %v after the failure, want ≥ Retry-After 300ms", gap)
			}
			if !strings.Contains(d.LastError, "vendor 429") {
				t.Fatalf("last error = %q", d.LastError)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no retry recorded: %+v", d)
		}
		time.Sleep(2 * time.Millisecond)
	}
	ds := h.wait(id)
	if ds[0].State != store.StateDone || ds[0].Attempts != 3 {
		t.Fatalf("delivery = %+v, want done after 3 attempts", ds[0])
	}
}

func TestPermanentErrorDeadLettersThenReplay(t *testing.T) {
	f := newFakeITSM()
	var broken atomic.Bool
	broken.Store(true)
	f.fail = func(op, key string) error {
		if op == "create" && broken.Load() {
			return sdk.Permanent(errors.New("ServiceNow 400: Invalid assignment_group"))
		}
		return nil
	}
	h := newHarness(t, f)
	h.start(Backend{})
	id := h.ingest("k", "fired", "2026-01-01T10:00:00Z", "", fullLifecycle)
	d := h.wait(id)[0]
	if d.State != store.StateDead || !strings.Contains(d.DeadReason, "Invalid assignment_group") || d.Attempts != 1 {
		t.Fatalf("delivery = %+v, want dead letter with the vendor message after one attempt", d)
	}
	broken.Store(false)
	if err := h.store.ReplayDeadLetter(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	d = h.wait(id)[0]
	if d.State != store.StateDone || d.Outcome != ActionCreated {
		t.Fatalf("after replay = %+v", d)
	}
}

func TestMaxAgeDeadLetters(t *testing.T) {
	f := newFakeITSM()
	f.fail = func(op, key string) error { return sdk.Retryable(errors.New("503 from vendor"), 0) }
	h := newHarness(t, f)
	h.start(Backend{MaxAge: 100 * time.Millisecond})
	id := h.ingest("k", "fired", "2026-01-01T10:00:00Z", "", fullLifecycle)
	d := h.wait(id)[0]
	if d.State != store.StateDead || !strings.Contains(d.DeadReason, "max age") || !strings.Contains(d.DeadReason, "503 from vendor") {
		t.Fatalf("delivery = %+v", d)
	}
}

func TestPluginDownMakesDeliveriesWait(t *testing.T) {
	f := newFakeITSM()
	h := newHarness(t, f)
	h.plug.down.Store(true)
	h.start(Backend{})
	id := h.ingest("k", "fired", "2026-01-01T10:00:00Z", "", fullLifecycle)
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, _ := h.store.GetDelivery(context.Background(), id)
		if d.Attempts >= 2 {
			if d.State == store.StateDead {
				t.Fatal("dead-lettered while the plugin was down")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no attempts while plugin down")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h.plug.down.Store(false)
	if d := h.wait(id)[0]; d.State != store.StateDone {
		t.Fatalf("delivery = %+v", d)
	}
	if got := f.Calls(); len(got) != 1 {
		t.Fatalf("calls = %v, want exactly one create", got)
	}
}

func TestConcurrentKeysProceedAndStayOrdered(t *testing.T) {
	f := newFakeITSM()
	f.createDelay = 5 * time.Millisecond
	h := newHarness(t, f)
	h.start(Backend{MaxConcurrency: 8, RateLimit: 0})
	var ids []int64
	for i := range 20 {
		key := fmt.Sprintf("k%02d", i)
		ids = append(ids, h.ingest(key, "fired", "2026-01-01T10:00:00Z", "", fullLifecycle))
		ids = append(ids, h.ingest(key, "resolved", "2026-01-01T10:00:00Z", "2026-01-01T10:01:00Z", fullLifecycle))
	}
	h.wait(ids...)
	seenCreate := map[string]bool{}
	numberOf := map[string]string{}
	f.mu.Lock()
	for k, r := range f.tickets {
		numberOf[r.Number] = k
	}
	f.mu.Unlock()
	for _, c := range f.Calls() {
		op, arg, _ := strings.Cut(c, ":")
		switch op {
		case "create":
			seenCreate[arg] = true
		case "resolve":
			if !seenCreate[numberOf[arg]] {
				t.Fatalf("resolve of %s before its create", arg)
			}
		}
	}
	if len(seenCreate) != 20 {
		t.Fatalf("created %d tickets, want 20", len(seenCreate))
	}
}

func TestShutdownReleasesInFlight(t *testing.T) {
	f := newFakeITSM()
	f.createDelay = 10 * time.Second
	h := newHarness(t, f)
	h.start(Backend{})
	id := h.ingest("k", "fired", "2026-01-01T10:00:00Z", "", fullLifecycle)
	deadline := time.Now().Add(5 * time.Second)
	for {
		d, _ := h.store.GetDelivery(context.Background(), id)
		if d.State == store.StateLeased {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("never leased")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	h.disp.Close(ctx)
	d, _ := h.store.GetDelivery(context.Background(), id)
	if d.State != store.StatePending || d.Attempts != 0 {
		t.Fatalf("after shutdown delivery = %+v, want pending with no attempt counted", d)
	}
}

func TestPermanentBindFailureDoesNotDeadLetterTheIncident(t *testing.T) {
	f := newFakeITSM()
	f.fail = func(op, key string) error {
		if op == "bind" {
			return sdk.Permanent(errors.New("CI vm1 not found in the CMDB"))
		}
		return nil
	}
	h := newHarness(t, f)
	h.start(Backend{})
	id := h.ingest("k", "fired", "2026-01-01T10:00:00Z", "", fullLifecycle, "vm1")
	d := h.wait(id)[0]
	if d.State != store.StateDone || d.Outcome != ActionCreated {
		t.Fatalf("delivery = %+v, want done/created", d)
	}
	tk, err := h.store.GetTicket(context.Background(), backendID, "k")
	if err != nil || tk.State != store.TicketOpen || len(tk.CIBindings) != 0 {
		t.Fatalf("ticket = %+v, %v", tk, err)
	}
}
