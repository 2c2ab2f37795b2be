package console

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// Rate sampling bounds: the overview counts the alerts of the last
// rateWindow from the store, reading at most rateMaxPages pages.
const (
	rateWindow   = 5 * time.Minute
	rateMaxPages = 5
	// outcomeSample is how many recent completed deliveries the outcome
	// breakdown looks at.
	outcomeSample = 200
)

type overviewData struct {
	At       time.Time
	Stats    store.Stats
	TotalsAt time.Time // when Stats.Alerts and Stats.Done were counted
	Rate     rate
	Outcomes []countRow
	Sampled  int // completed deliveries the outcome breakdown looked at
	Backends []backendRow
	Reload   Reload
}

// rate is the recent alert rate.
type rate struct {
	LastMinute int     // alerts received in the last minute
	PerMinute  float64 // average over rateWindow
	Capped     bool    // more alerts than were read: the figures are lower bounds
	Window     time.Duration
}

type countRow struct {
	Name  string
	Count int
}

// backendRow merges a configured backend's plugin state with its queue.
type backendRow struct {
	Name       string
	Configured bool
	Plugin     string // "name version"
	Running    bool
	Problem    string // launch or health error
	Restarts   int64
	Pending    int64
	Leased     int64
	Dead       int64
	Oldest     time.Time
	OldestAge  string
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	d, err := c.overviewData(ctx)
	if err != nil {
		c.problem(w, r, err)
		return
	}
	c.render(w, r, http.StatusOK, "overview", d)
}

// overviewLive is the overview's refreshing part as an HTML fragment; the
// page's script swaps it in every few seconds.
func (c *Console) overviewLive(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := c.ctx(r)
	defer cancel()
	d, err := c.overviewData(ctx)
	if err != nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(statusOf(err))
		_, _ = w.Write([]byte(err.Error()))
		return
	}
	c.renderTemplate(w, r, http.StatusOK, "overview", "live", d)
}

// totalsEvery is how often the overview counts the whole history (every
// alert, every done delivery: full index scans that grow with retention);
// the queue figures are read at every refresh.
const totalsEvery = time.Minute

// totals returns the history totals, counted at most every totalsEvery.
func (c *Console) totals(ctx context.Context, now time.Time) (alerts, done int64, at time.Time, err error) {
	c.totalsMu.Lock()
	defer c.totalsMu.Unlock()
	if c.totalsAt.IsZero() || now.Sub(c.totalsAt) >= totalsEvery || now.Before(c.totalsAt) {
		st, err := c.o.Store.Stats(ctx)
		if err != nil {
			return 0, 0, time.Time{}, err
		}
		c.totalAlerts, c.totalDone, c.totalsAt = st.Alerts, st.Done, now
	}
	return c.totalAlerts, c.totalDone, c.totalsAt, nil
}

func (c *Console) overviewData(ctx context.Context) (overviewData, error) {
	now := c.o.Now()
	d := overviewData{At: now, Reload: c.o.Runtime.LastReload()}
	var err error
	if d.Stats, err = c.o.Store.QueueStats(ctx); err != nil {
		return d, err
	}
	if d.Stats.Alerts, d.Stats.Done, d.TotalsAt, err = c.totals(ctx, now); err != nil {
		return d, err
	}
	if d.Rate, err = c.alertRate(ctx, now); err != nil {
		return d, err
	}
	done, err := c.o.Store.ListDeliveries(ctx, store.DeliveryFilter{State: store.StateDone}, store.PageRequest{Limit: outcomeSample})
	if err != nil {
		return d, err
	}
	d.Sampled = len(done.Items)
	counts := map[string]int{}
	for _, del := range done.Items {
		o := del.Outcome
		if o == "" {
			o = "(none)"
		}
		counts[o]++
	}
	for name, n := range counts {
		d.Outcomes = append(d.Outcomes, countRow{name, n})
	}
	sort.Slice(d.Outcomes, func(i, j int) bool {
		if d.Outcomes[i].Count != d.Outcomes[j].Count {
			return d.Outcomes[i].Count > d.Outcomes[j].Count
		}
		return d.Outcomes[i].Name < d.Outcomes[j].Name
	})
	d.Backends = backendRows(c.o.Runtime.Backends(), d.Stats.Backends, now)
	return d, nil
}

// alertRate counts recent alerts from the store's listing (newest first),
// so it is right after a restart and across replicas, unlike an in-memory
// counter.
func (c *Console) alertRate(ctx context.Context, now time.Time) (rate, error) {
	r := rate{Window: rateWindow}
	since, minute := now.Add(-rateWindow), now.Add(-time.Minute)
	total := 0
	p := store.PageRequest{Limit: store.MaxPageLimit}
	for page := 0; ; page++ {
		if page == rateMaxPages {
			r.Capped = true
			break
		}
		res, err := c.o.Store.ListAlerts(ctx, store.AlertFilter{Since: since}, p)
		if err != nil {
			return r, err
		}
		for _, a := range res.Items {
			total++
			if !a.ReceivedAt.Before(minute) {
				r.LastMinute++
			}
		}
		if res.Next == "" {
			break
		}
		p.Cursor = res.Next
	}
	r.PerMinute = float64(total) / rateWindow.Minutes()
	return r, nil
}

func backendRows(configured []Backend, queues []store.BackendStats, now time.Time) []backendRow {
	byID := map[store.BackendID]store.BackendStats{}
	for _, q := range queues {
		byID[q.Backend] = q
	}
	var rows []backendRow
	seen := map[store.BackendID]bool{}
	for _, b := range configured {
		seen[b.ID] = true
		row := backendRow{
			Name: b.ID.String(), Configured: true, Running: b.Status.Running, Restarts: b.Status.Restarts,
			Plugin: pluginLabel(b), Problem: firstNonEmpty(b.Status.LastError, b.Status.HealthError),
		}
		fillQueue(&row, byID[b.ID], now)
		rows = append(rows, row)
	}
	// Backends removed from the configuration may still hold work.
	for _, q := range queues {
		if seen[q.Backend] {
			continue
		}
		row := backendRow{Name: q.Backend.String(), Problem: "not configured: its deliveries wait until it is configured again"}
		fillQueue(&row, q, now)
		rows = append(rows, row)
	}
	return rows
}

func fillQueue(row *backendRow, q store.BackendStats, now time.Time) {
	row.Pending, row.Leased, row.Dead = q.Pending, q.Leased, q.Dead
	if !q.OldestEnqueuedAt.IsZero() {
		row.Oldest = q.OldestEnqueuedAt
		row.OldestAge = shortDuration(now.Sub(q.OldestEnqueuedAt))
	}
}

func pluginLabel(b Backend) string {
	name, version := b.Status.Info.Name, b.Status.Info.Version
	if name == "" {
		name, version = b.Info.Name, b.Info.Version
	}
	if name == "" {
		name = b.ID.Type
	}
	return strings.TrimSpace(name + " " + version)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
