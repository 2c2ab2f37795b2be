package plugintest

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Backend is the vendor system the plugin under test talks to: an emulator in
// unit tests, or a real instance in acceptance tests. The vendor writes a
// small adapter implementing it.
type Backend interface {
	// Reset clears injected faults and stalls. Clearing tickets is optional
	// (a real instance keeps them; the kit uses fresh ticket keys).
	Reset()
	// CountTickets returns how many incidents carry ticketKey in the vendor's
	// correlation field.
	CountTickets(ticketKey string) int
}

// FaultInjector is implemented by backends that can fail requests on demand.
// Without it the error-classification checks are skipped.
type FaultInjector interface {
	// InjectFault makes the next count API requests answer status, with a
	// Retry-After header of retryAfter (whole seconds) when retryAfter > 0.
	InjectFault(status int, retryAfter time.Duration, count int)
}

// NetworkBreaker is implemented by backends that can fail requests at the
// network level. Without it the network-error case is skipped.
type NetworkBreaker interface {
	// BreakNetwork makes the next count API requests fail without any HTTP
	// response (the connection is closed).
	BreakNetwork(count int)
}

// Staller is implemented by backends that can hold requests. Without it the
// cancellation checks are skipped.
type Staller interface {
	// Stall holds every API request until release is called. entered is
	// closed once the first request is being held. release is idempotent.
	Stall() (entered <-chan struct{}, release func())
}

// FaultHandler wraps an emulator's http.Handler and implements
// FaultInjector, NetworkBreaker and Staller for it, so an emulator adapter
// only adds Reset and CountTickets:
//
//	faults := plugintest.NewFaultHandler(emu.Handler())
//	srv := httptest.NewServer(faults)
//	backend := struct{ *plugintest.FaultHandler; ... }
//
// Faults apply to every request through the handler; control endpoints of
// the emulator should be called in Go, not through it. An injected error body
// echoes the request URL, as several vendors do, so a plugin that copies
// vendor bodies into errors without redaction fails the secret check.
type FaultHandler struct {
	next http.Handler

	mu         sync.Mutex
	status     int
	retryAfter time.Duration
	faults     int
	breaks     int
	stall      chan struct{} // closed on release; nil when not stalling
	entered    chan struct{}
	enteredSet bool
}

// NewFaultHandler wraps next.
func NewFaultHandler(next http.Handler) *FaultHandler { return &FaultHandler{next: next} }

var (
	_ FaultInjector  = (*FaultHandler)(nil)
	_ NetworkBreaker = (*FaultHandler)(nil)
	_ Staller        = (*FaultHandler)(nil)
)

// InjectFault implements FaultInjector.
func (f *FaultHandler) InjectFault(status int, retryAfter time.Duration, count int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.retryAfter, f.faults = status, retryAfter, count
}

// BreakNetwork implements NetworkBreaker.
func (f *FaultHandler) BreakNetwork(count int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.breaks = count
}

// Stall implements Staller.
func (f *FaultHandler) Stall() (<-chan struct{}, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	stall := make(chan struct{})
	entered := make(chan struct{})
	f.stall, f.entered, f.enteredSet = stall, entered, false
	var once sync.Once
	return entered, func() {
		once.Do(func() {
			f.mu.Lock()
			if f.stall == stall {
				f.stall = nil
			}
			f.mu.Unlock()
			close(stall)
		})
	}
}

// ResetFaults clears faults; a held request stays held until its release.
func (f *FaultHandler) ResetFaults() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.retryAfter, f.faults, f.breaks = 0, 0, 0, 0
	f.stall = nil
}

// ServeHTTP applies pending faults, then calls the wrapped handler.
func (f *FaultHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	stall := f.stall
	if stall != nil && !f.enteredSet {
		f.enteredSet = true
		close(f.entered)
	}
	brk := f.breaks > 0
	if brk {
		f.breaks--
	}
	status, retryAfter := 0, time.Duration(0)
	if !brk && f.faults > 0 {
		f.faults--
		status, retryAfter = f.status, f.retryAfter
	}
	f.mu.Unlock()

	if stall != nil {
		select {
		case <-stall:
		case <-r.Context().Done():
			return
		}
	}
	if brk {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler) // HTTP/2 or no hijacker: abort the stream
	}
	if status != 0 {
		if retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int((retryAfter+time.Second-1)/time.Second)))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"message":"plugintest injected fault %d","detail":%q},"status":"failure"}`,
			status, r.Method+" "+r.URL.String())
		return
	}
	f.next.ServeHTTP(w, r)
}
