package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/core/store/pgtest"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// TestGroupCommitIsolatesUpdates: updates committed as one batch get their
// own answers. A lease check that fails (wrong owner, unknown delivery)
// fails that update alone; an update the database rejects (a NUL byte in a
// ticket field) fails the batch statement, and the retry one by one fails
// it alone; every other update of the batch is done.
func TestGroupCommitIsolatesUpdates(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, pgtest.Start(t), nil)
	for i := range 6 {
		if _, err := s.Ingest(ctx, record(fmt.Sprint("g", i), fmt.Sprint("K", i))); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := s.Claim(ctx, "w", snow, 10, time.Minute)
	if err != nil || len(ds) != 6 {
		t.Fatalf("claim = %d, %v; want 6", len(ds), err)
	}
	ticket := func(key, ref string) *store.Ticket {
		return &store.Ticket{Backend: snow, Key: key, Generation: 1, State: store.TicketOpen, Ref: sdk.TicketRef{ID: ref, Number: ref}}
	}
	now := s.now()
	batch := []*update{
		{kind: updComplete, id: ds[0].ID, owner: "w", text: "created", ticket: ticket("K0", "INC0")},
		{kind: updComplete, id: ds[1].ID, owner: "someone else", text: "created"},
		{kind: updRetry, id: ds[2].ID, owner: "w", at: now.Add(time.Hour), text: "busy"},
		{kind: updComplete, id: ds[3].ID, owner: "w", text: "created", ticket: ticket("K3", "bad\x00ref")},
		{kind: updRenew, id: ds[4].ID, owner: "w", at: now.Add(time.Hour)},
		{kind: updDead, id: ds[5].ID, owner: "w", text: "gave up"},
		{kind: updComplete, id: 1 << 40, owner: "w", text: "created"},
	}
	for _, u := range batch {
		u.ctx, u.done = ctx, make(chan error, 1)
	}
	s.commitUpdates(batch)
	want := []error{nil, store.ErrLeaseLost, nil, store.ErrUnavailable, nil, nil, store.ErrNotFound}
	for i, u := range batch {
		if err := <-u.done; !errors.Is(err, want[i]) || (want[i] == nil && err != nil) {
			t.Errorf("update %d (kind %d, delivery %d) = %v, want %v", i, u.kind, u.id, err, want[i])
		}
	}

	state := func(id int64) store.Delivery {
		d, err := s.GetDelivery(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := state(ds[0].ID); d.State != store.StateDone || d.Outcome != "created" || d.Attempts != 1 {
		t.Errorf("completed delivery = %s %q attempts %d", d.State, d.Outcome, d.Attempts)
	}
	if tk, err := s.GetTicket(ctx, snow, "K0"); err != nil || tk.Ref.ID != "INC0" || tk.LastDeliveryID != ds[0].ID {
		t.Errorf("ticket of the completed delivery = %+v, %v", tk, err)
	}
	if d := state(ds[1].ID); d.State != store.StateLeased || d.Attempts != 0 {
		t.Errorf("delivery completed by the wrong owner = %s attempts %d, want untouched", d.State, d.Attempts)
	}
	if d := state(ds[2].ID); d.State != store.StatePending || d.LastError != "busy" || !d.NextAttemptAt.Equal(now.Add(time.Hour)) {
		t.Errorf("retried delivery = %s %q next %s", d.State, d.LastError, d.NextAttemptAt)
	}
	if d := state(ds[3].ID); d.State != store.StateLeased {
		t.Errorf("delivery whose ticket was refused = %s, want still leased", d.State)
	}
	if _, err := s.GetTicket(ctx, snow, "K3"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("refused ticket: GetTicket = %v, want ErrNotFound", err)
	}
	if d := state(ds[4].ID); !d.LeaseExpiresAt.Equal(now.Add(time.Hour)) {
		t.Errorf("renewed lease expires at %s, want %s", d.LeaseExpiresAt, now.Add(time.Hour))
	}
	if d := state(ds[5].ID); d.State != store.StateDead || d.DeadReason != "gave up" {
		t.Errorf("dead-lettered delivery = %s %q", d.State, d.DeadReason)
	}
}

// TestGroupCommitConcurrentCallers: many workers completing at once share
// commits and each gets its own answer.
func TestGroupCommitConcurrentCallers(t *testing.T) {
	ctx := context.Background()
	var batches, writes int
	commits := make(chan int, 1000)
	s, err := Open(ctx, pgtest.Start(t), Options{OnCommit: func(n int, _ time.Duration, err error) {
		if err == nil {
			commits <- n
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	const n = 40
	for i := range n {
		if _, err := s.Ingest(ctx, record(fmt.Sprint("c", i), fmt.Sprint("K", i))); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := s.Claim(ctx, "w", snow, n, time.Minute)
	if err != nil || len(ds) != n {
		t.Fatalf("claim = %d, %v; want %d", len(ds), err, n)
	}
	for len(commits) > 0 {
		<-commits
	}
	gate := make(chan struct{})
	errs := make(chan error, n)
	for i, d := range ds {
		owner := "w"
		if i%5 == 0 {
			owner = "stale"
		}
		go func() {
			<-gate
			errs <- s.Complete(ctx, d.ID, owner, store.Outcome{Action: "created", Ticket: &store.Ticket{
				Backend: snow, Key: d.TicketKey, Generation: 1, State: store.TicketOpen, Ref: sdk.TicketRef{ID: d.TicketKey}}})
		}()
	}
	close(gate)
	lost := 0
	for range n {
		switch err := <-errs; {
		case errors.Is(err, store.ErrLeaseLost):
			lost++
		case err != nil:
			t.Errorf("Complete = %v", err)
		}
	}
	if lost != n/5 {
		t.Errorf("%d completes lost their lease, want %d (the stale owner's)", lost, n/5)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Done != n-n/5 {
		t.Errorf("%d deliveries done, want %d", st.Done, n-n/5)
	}
	for len(commits) > 0 {
		batches++
		writes += <-commits
	}
	t.Logf("%d completes in %d commits", writes, batches)
}
