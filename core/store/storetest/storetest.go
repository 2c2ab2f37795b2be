package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// Factory opens a fresh, empty store whose clock is now, and arranges for it
// to be closed when t ends.
type Factory func(t *testing.T, now func() time.Time) store.Store

// Clock is a fake clock that moves only when told to.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{t: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Start is where every suite clock starts.
var Start = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// env is one subtest's store and clock.
type env struct {
	t     *testing.T
	s     store.Store
	clock *Clock
}

func newEnv(t *testing.T, f Factory) *env {
	t.Helper()
	c := NewClock(Start)
	return &env{t: t, s: f(t, c.Now), clock: c}
}

// Run runs the whole suite against stores made by f.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(e *env)
	}{
		{"IngestStoresAlertAndDeliveries", testIngest},
		{"IngestRejectsInvalid", testIngestInvalid},
		{"DuplicateSequential", testDuplicateSequential},
		{"DuplicateConcurrent", testDuplicateConcurrent},
		{"GroupCommitConcurrent", testGroupCommit},
		{"ClaimOrderPerKey", testClaimOrder},
		{"ClaimRespectsBackendAndLimit", testClaimBackendLimit},
		{"RetrySchedulesAndBlocksKey", testRetry},
		{"LeaseExpiryTakeover", testTakeover},
		{"OwnerChecks", testOwnerChecks},
		{"RenewExtendsLease", testRenew},
		{"ReleaseDoesNotCountAttempt", testRelease},
		{"DeadLetterReplayDrop", testDeadLetters},
		{"ConcurrentWorkersKeepKeyOrder", testConcurrentWorkers},
		{"Quarantine", testQuarantine},
		{"Tickets", testTickets},
		{"CompleteWithTicketIsAtomic", testCompleteWithTicket},
		{"ListAlertsFiltersAndPaging", testListAlerts},
		{"ListDeliveriesByState", testListDeliveries},
		{"Stats", testStats},
		{"Watch", testWatch},
		{"Ping", testPing},
		{"PurgeKeepsUnfinishedWork", testPurge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(newEnv(t, f)) })
	}
}
