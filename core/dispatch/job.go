package dispatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/store"
	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/hostclient"
)

// Actions recorded on completed deliveries.
const (
	ActionCreated   = "created"
	ActionCommented = "commented"
	ActionIgnored   = "ignored"
	ActionReopened  = "reopened"
	ActionResolved  = "resolved"
	ActionRecorded  = "recorded" // nothing to do at the backend (e.g. resolve without ticket)
)

// job is one attempt at one delivery.
type job struct {
	l      *loop
	d      store.Delivery
	alert  alert.Alert
	ticket sdk.Ticket
	opts   Options
	log    hclog.Logger
	// claimed is the key's ticket as read with the claim, if it was.
	claimed *claimedTicket
}

// claimedTicket is a key's current ticket read with the claim.
type claimedTicket struct {
	ticket store.Ticket
	found  bool
}

func newJob(l *loop, d store.Delivery, log hclog.Logger) (*job, error) {
	j := &job{l: l, d: d, log: log}
	if err := decodeJSON(d.Alert, &j.alert); err != nil {
		return nil, fmt.Errorf("stored alert is not valid JSON: %w", err)
	}
	if err := decodeJSON(d.Ticket, &j.ticket); err != nil {
		return nil, fmt.Errorf("stored ticket is not valid JSON: %w", err)
	}
	if err := decodeJSON(d.Options, &j.opts); err != nil {
		return nil, fmt.Errorf("stored route options are not valid JSON: %w", err)
	}
	j.log = log.With("alert_id", j.alert.ID)
	return j, nil
}

// run decides and performs the operation. It returns the operation name
// (for metrics and logs) and nil when it completed the delivery.
func (j *job) run(ctx context.Context) (string, error) {
	cur, err := j.currentTicket(ctx)
	hasTicket := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "lookup", sdk.Retryable(fmt.Errorf("reading ticket state: %w", err), 0)
	}

	if j.d.Event == store.EventResolved {
		switch {
		case !hasTicket:
			return "resolve", j.complete(ctx, ActionRecorded, nil)
		case cur.State == store.TicketResolved:
			return "resolve", j.complete(ctx, ActionRecorded, nil)
		case !j.opts.Resolve:
			return "comment", j.comment(ctx, cur, fmt.Sprintf("Azure reports the alert resolved at %s; this route leaves the ticket open.", orNow(j.alert.ResolvedAt)), ActionRecorded)
		}
		return "resolve", j.resolve(ctx, cur)
	}

	// Fired.
	switch {
	case !hasTicket:
		return "create", j.create(ctx, 1, nil)
	case cur.State == store.TicketOpen && cur.LastDeliveryID == j.d.ID:
		// A previous attempt of this very delivery created the ticket and
		// stopped before binding every CI: finish the binding.
		return "bind_ci", j.bindAndComplete(ctx, cur, ActionCreated)
	case cur.State == store.TicketOpen:
		if j.opts.OnRepeat == "ignore" {
			return "ignore", j.complete(ctx, ActionIgnored, nil)
		}
		return "comment", j.comment(ctx, cur, fmt.Sprintf("Alert fired again at %s: %s", orNow(j.alert.FiredAt), j.ticket.Title), ActionCommented)
	case j.withinReopenWindow(cur):
		return "reopen", j.reopen(ctx, cur)
	default:
		return "create", j.create(ctx, cur.Generation+1, &cur)
	}
}

// currentTicket is the key's current ticket: as read with the claim (the
// lease keeps it current), or from the store.
func (j *job) currentTicket(ctx context.Context) (store.Ticket, error) {
	if c := j.claimed; c != nil {
		if !c.found {
			return store.Ticket{}, fmt.Errorf("ticket %s %q: %w", j.l.backend.ID, j.d.TicketKey, store.ErrNotFound)
		}
		return c.ticket, nil
	}
	return j.l.cfg.Store.GetTicket(ctx, j.l.backend.ID, j.d.TicketKey)
}

// correlationKey is what the plugin stores in the vendor's correlation
// field. Later generations get a suffix so that the plugin's idempotent
// lookup does not find the previous, resolved ticket.
func correlationKey(key string, generation int) string {
	if generation <= 1 {
		return key
	}
	return fmt.Sprintf("%s-g%d", key, generation)
}

func (j *job) call(ctx context.Context, fn func(context.Context, *hostclient.Client) error) error {
	if err := j.l.limiter.Wait(ctx); err != nil {
		return sdk.Retryable(fmt.Errorf("waiting for rate limit: %w", err), 0)
	}
	return j.l.backend.Plugin.Call(ctx, fn)
}

func (j *job) create(ctx context.Context, generation int, prev *store.Ticket) error {
	key := correlationKey(j.d.TicketKey, generation)
	var ref *sdk.TicketRef
	err := j.call(ctx, func(ctx context.Context, c *hostclient.Client) error {
		var err error
		ref, err = c.Create(ctx, &sdk.CreateRequest{TicketKey: key, Alert: j.alert, Ticket: j.ticket})
		return err
	})
	if err != nil {
		return err
	}
	t := store.Ticket{
		Backend: j.l.backend.ID, Key: j.d.TicketKey, Generation: generation,
		Ref: *ref, State: store.TicketOpen, LastDeliveryID: j.d.ID,
	}
	j.log.Info("ticket created", "ticket", ref.Number, "ticket_id", ref.ID, "generation", generation)
	if prev != nil {
		j.log.Info("previous ticket resolved beyond the reopen window; opened a new one", "previous", prev.Ref.Number)
	}
	if len(j.itemsToBind()) == 0 {
		// Nothing else to do: record the ticket and complete in one commit.
		return j.complete(ctx, ActionCreated, &t)
	}
	// Record the ticket before binding CIs: if we crash now, the retry of
	// this delivery finds it (LastDeliveryID) and only binds.
	saved, err := j.l.cfg.Store.PutTicket(ctx, t)
	if err != nil {
		return sdk.Retryable(fmt.Errorf("recording ticket %s: %w", ref.Number, err), 0)
	}
	return j.bindAndComplete(ctx, saved, ActionCreated)
}

func (j *job) bindAndComplete(ctx context.Context, t store.Ticket, action string) error {
	if items := j.itemsToBind(); len(items) > 0 {
		bound := map[string]bool{}
		for _, b := range t.CIBindings {
			bound[b.Item] = true
		}
		for i, item := range items {
			name := ciKey(item)
			if bound[name] {
				continue
			}
			var ci *sdk.CIRef
			err := j.call(ctx, func(ctx context.Context, c *hostclient.Client) error {
				var err error
				ci, err = c.BindCI(ctx, &sdk.BindCIRequest{
					Ref: t.Ref, TicketKey: correlationKey(t.Key, t.Generation), Item: item,
					CreateMissing: j.opts.CreateMissingCIs, Primary: i == 0,
				})
				return err
			})
			if err != nil {
				err = fmt.Errorf("binding CI %s to %s: %w", name, t.Ref.Number, err)
				if sdk.IsRetryable(err) {
					return err
				}
				// The incident exists; a CI the CMDB refuses (not found and
				// create_missing off, wrong class...) must not dead-letter it.
				j.log.Warn("CI not bound; the incident stays without it", "ticket", t.Ref.Number, "error", err)
				j.l.cfg.Metrics.Delivery(j.l.backend.ID.String(), "bind_ci", "failed", 0)
				continue
			}
			if err := j.l.cfg.Store.AddCIBinding(ctx, t.Backend, t.Key, t.Generation, store.CIBinding{Item: name, Ref: *ci}); err != nil {
				return sdk.Retryable(fmt.Errorf("recording CI binding: %w", err), 0)
			}
			j.log.Info("CI bound", "ticket", t.Ref.Number, "ci", ci.Name, "ci_id", ci.ID, "created", ci.Created)
		}
	}
	return j.complete(ctx, action, nil)
}

// itemsToBind are the alert's CIs when the route binds CIs and the plugin can.
func (j *job) itemsToBind() []sdk.ConfigurationItem {
	if !j.opts.BindCIs || !j.l.backend.Plugin.Info().Has(sdk.CapBindCI) {
		return nil
	}
	return alert.ConfigurationItems(&j.alert)
}

func ciKey(item sdk.ConfigurationItem) string {
	if item.ResourceID != "" {
		return item.ResourceID
	}
	return item.Name
}

func (j *job) comment(ctx context.Context, t store.Ticket, text, action string) error {
	if !j.l.backend.Plugin.Info().Has(sdk.CapComment) {
		return j.complete(ctx, ActionIgnored, nil)
	}
	err := j.call(ctx, func(ctx context.Context, c *hostclient.Client) error {
		return c.Comment(ctx, &sdk.CommentRequest{Ref: t.Ref, TicketKey: correlationKey(t.Key, t.Generation), Alert: j.alert, Text: text})
	})
	if err != nil {
		return err
	}
	t.LastDeliveryID = j.d.ID
	return j.complete(ctx, action, &t)
}

func (j *job) resolve(ctx context.Context, t store.Ticket) error {
	err := j.call(ctx, func(ctx context.Context, c *hostclient.Client) error {
		return c.Resolve(ctx, &sdk.ResolveRequest{Ref: t.Ref, TicketKey: correlationKey(t.Key, t.Generation), Alert: j.alert})
	})
	if err != nil {
		return err
	}
	t.State = store.TicketResolved
	t.ResolvedAt = parseTimeOr(j.alert.ResolvedAt, j.l.cfg.Now())
	t.LastDeliveryID = j.d.ID
	j.log.Info("ticket resolved", "ticket", t.Ref.Number)
	return j.complete(ctx, ActionResolved, &t)
}

func (j *job) reopen(ctx context.Context, t store.Ticket) error {
	if !j.l.backend.Plugin.Info().Has(sdk.CapReopen) {
		return j.create(ctx, t.Generation+1, &t)
	}
	err := j.call(ctx, func(ctx context.Context, c *hostclient.Client) error {
		return c.Reopen(ctx, &sdk.ReopenRequest{Ref: t.Ref, TicketKey: correlationKey(t.Key, t.Generation), Alert: j.alert})
	})
	if err != nil {
		return err
	}
	t.State = store.TicketOpen
	t.Reopens++
	t.LastDeliveryID = j.d.ID
	j.log.Info("ticket reopened", "ticket", t.Ref.Number, "reopens", t.Reopens)
	return j.complete(ctx, ActionReopened, &t)
}

// withinReopenWindow compares Azure's own times (fire vs the resolve that
// closed the ticket), so a backlog after an outage does not change the decision.
func (j *job) withinReopenWindow(t store.Ticket) bool {
	if j.opts.ReopenWithin <= 0 || t.ResolvedAt.IsZero() {
		return false
	}
	fired := parseTimeOr(j.alert.FiredAt, j.l.cfg.Now())
	return fired.Sub(t.ResolvedAt) <= time.Duration(j.opts.ReopenWithin)
}

func (j *job) complete(ctx context.Context, action string, t *store.Ticket) error {
	err := j.l.cfg.Store.Complete(ctx, j.d.ID, j.l.cfg.Owner, store.Outcome{Action: action, Ticket: t})
	if err != nil {
		if errors.Is(err, store.ErrLeaseLost) {
			return err
		}
		return sdk.Retryable(fmt.Errorf("completing delivery: %w", err), 0)
	}
	j.log.Debug("delivery done", "action", action)
	return nil
}

func parseTimeOr(s string, def time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	return def
}

func orNow(s string) string {
	if s == "" {
		return time.Now().UTC().Format(time.RFC3339)
	}
	return s
}
