package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/time/rate"

	"github.com/itsmbridge/itsmbridge/core/metrics"
	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/hostclient"
)

// Store is the part of the store the dispatcher uses.
type Store interface {
	store.Queue
	store.Tickets
}

// ticketClaimer is a Store that can return, with the deliveries it claims,
// the current tickets of their ticket keys (as GetTicket would), read in
// the same round trip (core/store/postgres). The loop then spares each job
// its own GetTicket.
type ticketClaimer interface {
	ClaimWithTickets(ctx context.Context, owner string, backend store.BackendID, limit int, leaseFor time.Duration) ([]store.Delivery, map[string]store.Ticket, error)
}

// Plugin is a supervised backend plugin (core/pluginhost.Supervisor).
type Plugin interface {
	// Call runs fn against the live plugin; while it is down the error is
	// retryable.
	Call(ctx context.Context, fn func(context.Context, *hostclient.Client) error) error
	// Info is the plugin's info and capabilities (valid inside Call).
	Info() hostclient.Info
}

// Backend is one configured backend the dispatcher serves.
type Backend struct {
	ID     store.BackendID
	Plugin Plugin
	// MaxConcurrency bounds deliveries in flight (default 4).
	MaxConcurrency int
	// RateLimit bounds plugin operations per second (0 = unlimited).
	RateLimit float64
	// MaxAge: a delivery still failing this long after it was enqueued is
	// dead-lettered (default 24h).
	MaxAge time.Duration
}

// Config configures a Dispatcher. Zero values take the defaults.
type Config struct {
	Store  Store
	Logger hclog.Logger
	// Metrics may be nil.
	Metrics *metrics.Metrics
	// Owner identifies this process in leases (default host/pid/random).
	Owner string
	// LeaseFor is the lease length, renewed every third of it while working
	// (default 15s): how long a killed process's deliveries wait for takeover.
	LeaseFor time.Duration
	// PollInterval is the longest an idle backend waits before polling (default 1s).
	PollInterval time.Duration
	// MinBackoff, MaxBackoff bound retry back-off (default 1s, 5m).
	MinBackoff, MaxBackoff time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

// Dispatcher runs one worker loop per backend.
type Dispatcher struct {
	cfg    Config
	mu     sync.Mutex
	loops  map[store.BackendID]*loop
	closed bool
}

// New creates a dispatcher with no backends; add them with Set.
func New(cfg Config) *Dispatcher {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Owner == "" {
		cfg.Owner = DefaultOwner()
	}
	if cfg.LeaseFor <= 0 {
		cfg.LeaseFor = 15 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Dispatcher{cfg: cfg, loops: map[store.BackendID]*loop{}}
}

// Set makes the dispatcher serve exactly backends: new ones start, removed
// ones stop (their queued deliveries stay in the store), and changed ones are
// restarted with the new settings. In-flight deliveries of a stopped loop
// finish or are released within ctx's deadline.
func (d *Dispatcher) Set(ctx context.Context, backends []Backend) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	want := map[store.BackendID]Backend{}
	for _, b := range backends {
		want[b.ID] = b.withDefaults()
	}
	var stop []*loop
	for id, l := range d.loops {
		if b, ok := want[id]; !ok || b != l.backend {
			stop = append(stop, l)
			delete(d.loops, id)
		}
	}
	for id, b := range want {
		if _, ok := d.loops[id]; !ok {
			d.loops[id] = startLoop(d.cfg, b)
		}
	}
	d.mu.Unlock()
	stopAll(ctx, stop)
}

// Close stops every loop: claiming stops at once, in-flight deliveries get
// until ctx's deadline to finish, then are cancelled and released.
func (d *Dispatcher) Close(ctx context.Context) {
	d.mu.Lock()
	d.closed = true
	var stop []*loop
	for id, l := range d.loops {
		stop = append(stop, l)
		delete(d.loops, id)
	}
	d.mu.Unlock()
	stopAll(ctx, stop)
}

func stopAll(ctx context.Context, loops []*loop) {
	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Add(1)
		go func() { defer wg.Done(); l.stop(ctx) }()
	}
	wg.Wait()
}

func (b Backend) withDefaults() Backend {
	if b.MaxConcurrency <= 0 {
		b.MaxConcurrency = 4
	}
	if b.MaxAge <= 0 {
		b.MaxAge = 24 * time.Hour
	}
	return b
}

// loop is the worker loop of one backend.
type loop struct {
	cfg     Config
	backend Backend
	logger  hclog.Logger
	limiter *rate.Limiter

	claimCtx   context.Context // cancelled to stop claiming
	stopClaim  context.CancelFunc
	workCtx    context.Context // cancelled when the drain deadline passes
	cancelWork context.CancelFunc
	slots      chan struct{}
	inflight   sync.WaitGroup
	done       chan struct{}
}

func startLoop(cfg Config, b Backend) *loop {
	l := &loop{
		cfg:     cfg,
		backend: b,
		logger:  cfg.Logger.Named("dispatch").With("backend", b.ID.String()),
		limiter: rate.NewLimiter(rate.Inf, 1),
		slots:   make(chan struct{}, b.MaxConcurrency),
		done:    make(chan struct{}),
	}
	if b.RateLimit > 0 {
		l.limiter = rate.NewLimiter(rate.Limit(b.RateLimit), max(1, int(b.RateLimit)))
	}
	l.claimCtx, l.stopClaim = context.WithCancel(context.Background())
	l.workCtx, l.cancelWork = context.WithCancel(context.Background())
	go l.run()
	return l
}

func (l *loop) stop(ctx context.Context) {
	l.stopClaim()
	<-l.done
	finished := make(chan struct{})
	go func() { l.inflight.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		l.cancelWork() // workers release their leases
		<-finished
	}
	l.cancelWork()
}

func (l *loop) run() {
	defer close(l.done)
	wake := l.cfg.Store.Watch(l.claimCtx, l.backend.ID)
	timer := time.NewTimer(0)
	defer timer.Stop()
	backlog := false
	for {
		// Hold a free slot before claiming, so leases are only taken for work
		// that can start now; then take whatever other slots are free.
		select {
		case l.slots <- struct{}{}:
		case <-l.claimCtx.Done():
			return
		}
		held := 1 + l.trySlots()
		if backlog {
			// A claim costs about as much for one delivery as for many:
			// under backlog, gather half the slots (briefly) before claiming.
			held += l.gatherSlots(cap(l.slots)/2-held, 5*time.Millisecond)
		}
		ds, tickets, err := l.claim(held)
		if err != nil && l.claimCtx.Err() == nil {
			l.logger.Error("claiming deliveries failed", "error", err)
		}
		for _, d := range ds {
			l.inflight.Add(1)
			go l.work(d, tickets) // releases its slot when done
		}
		for range held - len(ds) {
			<-l.slots
		}
		backlog = len(ds) == held
		if len(ds) > 0 {
			continue
		}
		timer.Reset(l.cfg.PollInterval)
		select {
		case <-l.claimCtx.Done():
			return
		case <-wake:
		case <-timer.C:
		}
	}
}

// claim claims up to n deliveries, with their keys' tickets when the store
// can read them in the same round trip (tickets is nil otherwise).
func (l *loop) claim(n int) ([]store.Delivery, map[string]store.Ticket, error) {
	if tc, ok := l.cfg.Store.(ticketClaimer); ok {
		ds, tickets, err := tc.ClaimWithTickets(l.claimCtx, l.cfg.Owner, l.backend.ID, n, l.cfg.LeaseFor)
		if tickets == nil {
			tickets = map[string]store.Ticket{}
		}
		return ds, tickets, err
	}
	ds, err := l.cfg.Store.Claim(l.claimCtx, l.cfg.Owner, l.backend.ID, n, l.cfg.LeaseFor)
	return ds, nil, err
}

// gatherSlots waits up to d for up to n more slots and returns how many it took.
func (l *loop) gatherSlots(n int, d time.Duration) int {
	if n <= 0 {
		return 0
	}
	t := time.NewTimer(d)
	defer t.Stop()
	got := 0
	for got < n {
		select {
		case l.slots <- struct{}{}:
			got++
		case <-t.C:
			return got
		case <-l.claimCtx.Done():
			return got
		}
	}
	return got
}

// trySlots takes every free slot without blocking and returns how many.
func (l *loop) trySlots() int {
	n := 0
	for {
		select {
		case l.slots <- struct{}{}:
			n++
		default:
			return n
		}
	}
}

// work runs one attempt at d. tickets, when not nil, holds the current
// tickets of the claimed keys (a key without one is absent).
func (l *loop) work(d store.Delivery, tickets map[string]store.Ticket) {
	defer l.inflight.Done()
	defer func() { <-l.slots }()
	log := l.logger.With("delivery_id", d.ID, "ticket_key", d.TicketKey, "route", d.Route, "event", string(d.Event))

	ctx, cancel := context.WithCancel(l.workCtx)
	defer cancel()
	renewDone := make(chan struct{})
	go l.renew(ctx, d.ID, cancel, renewDone)
	defer func() { cancel(); <-renewDone }()

	j, err := newJob(l, d, log)
	if err == nil && tickets != nil {
		t, ok := tickets[d.TicketKey]
		j.claimed = &claimedTicket{ticket: t, found: ok}
	}
	if err != nil {
		l.finish(d, log, "decode", time.Now(), sdk.Permanent(err))
		return
	}
	start := time.Now()
	op, err := j.run(ctx)
	if l.workCtx.Err() != nil && err != nil {
		// Shutting down: give the delivery back without counting an attempt.
		if rerr := l.cfg.Store.Release(context.Background(), d.ID, l.cfg.Owner); rerr != nil && !errors.Is(rerr, store.ErrLeaseLost) {
			log.Error("releasing delivery at shutdown failed", "error", rerr)
		}
		return
	}
	l.finish(d, j.log, op, start, err)
}

// renew keeps the lease alive while the delivery is worked; losing it
// cancels the work (another replica has taken over).
func (l *loop) renew(ctx context.Context, id int64, cancel context.CancelFunc, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(l.cfg.LeaseFor / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := l.cfg.Store.Renew(context.Background(), id, l.cfg.Owner, l.cfg.LeaseFor); errors.Is(err, store.ErrLeaseLost) {
				cancel()
				return
			}
		}
	}
}

// finish records the attempt's outcome in the store.
func (l *loop) finish(d store.Delivery, log hclog.Logger, op string, start time.Time, err error) {
	ctx := context.Background()
	backend := l.backend.ID.String()
	switch {
	case errors.Is(err, store.ErrLeaseLost):
		log.Warn("lease lost; another worker owns the delivery now")
		return
	case err == nil:
		l.cfg.Metrics.Delivery(backend, op, "success", time.Since(start))
		return // the job completed the delivery itself
	}
	kind, retryAfter := sdk.Classify(err)
	now := l.cfg.Now()
	if kind == sdk.KindRetryable && now.Sub(d.EnqueuedAt) < l.backend.MaxAge {
		next := now.Add(l.backoff(d.Attempts, retryAfter))
		log.Warn("delivery failed; will retry", "operation", op, "error", err, "attempt", d.Attempts+1, "next_attempt", next)
		l.cfg.Metrics.Delivery(backend, op, "retry", time.Since(start))
		if rerr := l.cfg.Store.Retry(ctx, d.ID, l.cfg.Owner, next, err.Error()); rerr != nil && !errors.Is(rerr, store.ErrLeaseLost) {
			log.Error("recording retry failed", "error", rerr)
		}
		return
	}
	reason := err.Error()
	if kind == sdk.KindRetryable {
		reason = fmt.Sprintf("gave up after %s (max age): %s", l.backend.MaxAge, reason)
	}
	log.Error("delivery dead-lettered", "operation", op, "reason", reason)
	l.cfg.Metrics.Delivery(backend, op, "dead", time.Since(start))
	if derr := l.cfg.Store.DeadLetter(ctx, d.ID, l.cfg.Owner, reason); derr != nil && !errors.Is(derr, store.ErrLeaseLost) {
		log.Error("dead-lettering failed", "error", derr)
	}
}

// backoff is exponential with full jitter, at least the vendor's Retry-After.
// The attempt count comes from the store, so the delay is computed from it
// rather than from a stateful back-off object that would not survive a restart.
func (l *loop) backoff(attempts int, retryAfter time.Duration) time.Duration {
	ceil := l.cfg.MinBackoff << min(attempts, 20)
	if ceil > l.cfg.MaxBackoff || ceil <= 0 {
		ceil = l.cfg.MaxBackoff
	}
	wait := l.cfg.MinBackoff/2 + rand.N(ceil-l.cfg.MinBackoff/2+1)
	return max(wait, retryAfter)
}

// decodeJSON decodes a stored JSON column, treating empty as null.
func decodeJSON(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, v)
}
