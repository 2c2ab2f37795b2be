package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/hostclient"
)

// ErrNotRunning is wrapped by the retryable error a call gets while the
// plugin is down or restarting.
var ErrNotRunning = errors.New("plugin not running")

// Options configure a Supervisor. Zero durations take the defaults.
type Options struct {
	Spec Spec
	// Config is the decoded `config` block sent with Configure after every launch.
	Config sdk.Config
	// CallTimeout bounds every call into the plugin (default 60s), so a hung
	// plugin turns into a retryable error instead of a stuck worker.
	CallTimeout time.Duration
	// LivenessInterval is how often the process is pinged (default 5s).
	LivenessInterval time.Duration
	// HealthInterval is how often the backend's Health is asked (default 30s).
	HealthInterval time.Duration
	// ReadyWait is how long a call waits for a restarting plugin (default 2s).
	ReadyWait time.Duration
	// MinBackoff and MaxBackoff bound the restart back-off (200ms, 30s).
	MinBackoff, MaxBackoff time.Duration
	// OnRestart is called after each restart (metrics).
	OnRestart func()
}

func (o *Options) defaults() {
	if o.CallTimeout <= 0 {
		o.CallTimeout = 60 * time.Second
	}
	if o.LivenessInterval <= 0 {
		o.LivenessInterval = 5 * time.Second
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = 30 * time.Second
	}
	if o.ReadyWait <= 0 {
		o.ReadyWait = 2 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 200 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.Spec.Logger == nil {
		o.Spec.Logger = hclog.NewNullLogger()
	}
}

// Status is a snapshot of a supervised plugin.
type Status struct {
	Running  bool
	Info     hostclient.Info
	Restarts int64
	// LastError is the last launch/configure failure, empty when running.
	LastError string
	// HealthError is the last Health failure (backend reachable?), empty when healthy.
	HealthError string
}

// Supervisor keeps one configured plugin process alive for a backend.
type Supervisor struct {
	opts   Options
	logger hclog.Logger

	mu        sync.Mutex
	inst      *Instance
	ready     chan struct{} // closed while inst != nil
	lastErr   error
	healthErr error
	info      hostclient.Info

	restarts atomic.Int64
	kick     chan struct{}
	cancel   context.CancelFunc
	done     chan struct{}
}

// Supervise starts the plugin in the background and keeps it running until
// Close. It returns at once; the first launch's outcome is visible through
// WaitReady and Status. Launch and Configure failures are retried with
// back-off, so a vendor that is down at start-up does not stop the bridge.
func Supervise(opts Options) *Supervisor {
	opts.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Supervisor{
		opts:   opts,
		logger: opts.Spec.Logger.Named("pluginhost").With("backend", opts.Spec.id()),
		ready:  make(chan struct{}),
		kick:   make(chan struct{}, 1),
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go s.run(ctx)
	return s
}

// WaitReady waits until the plugin is running and configured, and returns
// the last failure if ctx ends first.
func (s *Supervisor) WaitReady(ctx context.Context) error {
	s.mu.Lock()
	ready := s.ready
	s.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.lastErr != nil {
			return s.lastErr
		}
		return ctx.Err()
	}
}

// Status returns a snapshot.
func (s *Supervisor) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Running: s.inst != nil, Info: s.info, Restarts: s.restarts.Load()}
	if s.lastErr != nil {
		st.LastError = s.lastErr.Error()
	}
	if s.healthErr != nil {
		st.HealthError = s.healthErr.Error()
	}
	return st
}

// Call runs fn against the live plugin under the call timeout. While the
// plugin is down it waits up to ReadyWait and then fails with a retryable
// error wrapping ErrNotRunning.
func (s *Supervisor) Call(ctx context.Context, fn func(context.Context, *hostclient.Client) error) error {
	inst, err := s.current(ctx)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	err = fn(cctx, inst.Client())
	if err != nil {
		if inst.Exited() {
			s.poke()
		}
		if callTimedOut(cctx) && ctx.Err() == nil {
			err = sdk.Retryable(fmt.Errorf("backend %s: plugin call timed out after %s: %w", s.opts.Spec.id(), s.opts.CallTimeout, err), 0)
		}
	}
	return err
}

// callTimedOut reports whether the call's deadline has passed. gRPC
// enforces a deadline with its own timer, which can fire a moment before the
// context's: the call then fails with DeadlineExceeded while ctx.Err() is
// still nil.
func callTimedOut(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

func (s *Supervisor) current(ctx context.Context) (*Instance, error) {
	s.mu.Lock()
	inst, ready := s.inst, s.ready
	s.mu.Unlock()
	if inst != nil && !inst.Exited() {
		return inst, nil
	}
	if inst != nil {
		s.poke()
	}
	wait, cancel := context.WithTimeout(ctx, s.opts.ReadyWait)
	defer cancel()
	select {
	case <-ready:
		s.mu.Lock()
		inst = s.inst
		s.mu.Unlock()
		if inst != nil {
			return inst, nil
		}
	case <-wait.Done():
	}
	s.mu.Lock()
	last := s.lastErr
	s.mu.Unlock()
	cause := ErrNotRunning
	if last != nil {
		cause = fmt.Errorf("%w: %v", ErrNotRunning, last)
	}
	return nil, sdk.Retryable(fmt.Errorf("backend %s: %w", s.opts.Spec.id(), cause), s.opts.MinBackoff)
}

func (s *Supervisor) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Close stops supervision and the plugin process.
func (s *Supervisor) Close() {
	s.cancel()
	<-s.done
}

func (s *Supervisor) run(ctx context.Context) {
	defer close(s.done)
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = s.opts.MinBackoff
	bo.MaxInterval = s.opts.MaxBackoff
	live := time.NewTicker(s.opts.LivenessInterval)
	defer live.Stop()
	health := time.NewTicker(s.opts.HealthInterval)
	defer health.Stop()
	started := false

	for {
		if s.instance() == nil {
			inst, err := s.launchAndConfigure(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				s.setDown(err)
				wait := bo.NextBackOff()
				s.logger.Error("plugin unavailable; retrying", "error", err, "retry_in", wait)
				select {
				case <-ctx.Done():
					return
				case <-time.After(wait):
				}
				continue
			}
			if started {
				s.restarts.Add(1)
				if s.opts.OnRestart != nil {
					s.opts.OnRestart()
				}
				s.logger.Info("plugin restarted", "restarts", s.restarts.Load())
			}
			started = true
			s.setUp(inst)
			s.checkHealth(ctx, inst)
		}
		inst := s.instance()
		select {
		case <-ctx.Done():
			s.setDown(errors.New("shut down"))
			inst.Kill()
			return
		case <-health.C:
			s.checkHealth(ctx, inst)
		case <-live.C:
		case <-s.kick:
		}
		if !s.alive(ctx, inst) {
			s.logger.Error("plugin process died; restarting")
			inst.Kill()
			s.setDown(errors.New("plugin process exited"))
		} else {
			bo.Reset()
		}
	}
}

func (s *Supervisor) instance() *Instance {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inst
}

// alive pings the process with GetInfo, which never touches the vendor.
func (s *Supervisor) alive(ctx context.Context, inst *Instance) bool {
	if inst.Exited() {
		return false
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := inst.Client().Info(pctx)
	if err != nil && ctx.Err() != nil {
		return true // shutting down, not dead
	}
	return err == nil
}

func (s *Supervisor) checkHealth(ctx context.Context, inst *Instance) {
	if !inst.Info().Has(sdk.CapHealth) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	err := inst.Client().Health(ctx)
	s.mu.Lock()
	s.healthErr = err
	s.mu.Unlock()
	if err != nil {
		s.logger.Warn("backend health check failed", "error", err)
	}
}

func (s *Supervisor) launchAndConfigure(ctx context.Context) (*Instance, error) {
	inst, err := Launch(ctx, s.opts.Spec)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, s.opts.CallTimeout)
	defer cancel()
	diags, err := inst.Client().Configure(cctx, s.opts.Spec.Name, s.opts.Config)
	if err == nil && diags.HasErrors() {
		err = fmt.Errorf("configure: %s", diags.Error())
	}
	if err != nil {
		inst.Kill()
		return nil, fmt.Errorf("backend %s: %w", s.opts.Spec.id(), err)
	}
	return inst, nil
}

func (s *Supervisor) setUp(inst *Instance) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inst, s.info, s.lastErr = inst, inst.Info(), nil
	close(s.ready)
}

func (s *Supervisor) setDown(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inst != nil {
		s.inst = nil
		s.ready = make(chan struct{})
	}
	s.lastErr = err
}

// Info returns what the plugin reported at its last launch (zero before the
// first successful launch).
func (s *Supervisor) Info() hostclient.Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.info
}
