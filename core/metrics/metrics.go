// Package metrics defines the bridge's Prometheus metrics (DESIGN §6,
// issue 7), following Prometheus naming conventions: a unit suffix, _total
// on counters, and low-cardinality labels only (no alert ids).
//
// Every method is safe on a nil *Metrics, so packages can be used and tested
// without metrics.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// Metrics holds the collectors of one bridge process.
type Metrics struct {
	registry *prometheus.Registry

	alertsReceived   *prometheus.CounterVec
	authFailures     *prometheus.CounterVec
	deliveries       *prometheus.CounterVec
	deliveryDuration *prometheus.HistogramVec
	pluginRestarts   *prometheus.CounterVec
	storeCommit      prometheus.Histogram
	routeErrors      prometheus.Counter
	reloads          *prometheus.CounterVec
	purged           *prometheus.CounterVec
}

// New registers every collector on a fresh registry (plus the Go and
// process collectors).
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		registry: r,
		alertsReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "itsmbridge_alerts_received_total",
			Help: "Alert webhook calls by source, schema and outcome (accepted, duplicate, quarantined, malformed, unauthorized, forbidden, unavailable, too_large).",
		}, []string{"source", "schema", "outcome"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "itsmbridge_auth_failures_total",
			Help: "Rejected webhook tokens by source and reason.",
		}, []string{"source", "reason"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "itsmbridge_deliveries_total",
			Help: "Delivery attempts by backend, operation and outcome (success, retry, dead).",
		}, []string{"backend", "operation", "outcome"}),
		deliveryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "itsmbridge_delivery_duration_seconds",
			Help:    "Time of one delivery attempt, plugin calls included.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12),
		}, []string{"backend", "operation"}),
		pluginRestarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "itsmbridge_plugin_restarts_total",
			Help: "Plugin process restarts after a crash, by backend.",
		}, []string{"backend"}),
		storeCommit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "itsmbridge_store_commit_duration_seconds",
			Help:    "Time from receiving an alert to its durable commit.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2.5, 12),
		}),
		routeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "itsmbridge_route_match_errors_total",
			Help: "Route match expressions that failed or were not boolean for an alert (treated as no match).",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "itsmbridge_config_reloads_total",
			Help: "Configuration reloads by result (success, failure).",
		}, []string{"result"}),
		purged: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "itsmbridge_store_purged_total",
			Help: "Records deleted by the retention policy, by kind (alert, delivery, ticket).",
		}, []string{"kind"}),
	}
	r.MustRegister(m.alertsReceived, m.authFailures, m.deliveries, m.deliveryDuration,
		m.pluginRestarts, m.storeCommit, m.routeErrors, m.reloads, m.purged,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves /metrics.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Registry exposes the registry (to add collectors).
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.registry
}

// AlertReceived counts one webhook call.
func (m *Metrics) AlertReceived(source, schema, outcome string) {
	if m != nil {
		m.alertsReceived.WithLabelValues(source, schema, outcome).Inc()
	}
}

// AuthFailure counts one rejected token.
func (m *Metrics) AuthFailure(source, reason string) {
	if m != nil {
		m.authFailures.WithLabelValues(source, reason).Inc()
	}
}

// Delivery records one delivery attempt.
func (m *Metrics) Delivery(backend, operation, outcome string, d time.Duration) {
	if m != nil {
		m.deliveries.WithLabelValues(backend, operation, outcome).Inc()
		m.deliveryDuration.WithLabelValues(backend, operation).Observe(d.Seconds())
	}
}

// PluginRestart counts one plugin restart.
func (m *Metrics) PluginRestart(backend string) {
	if m != nil {
		m.pluginRestarts.WithLabelValues(backend).Inc()
	}
}

// StoreCommit observes one ingest commit latency.
func (m *Metrics) StoreCommit(d time.Duration) {
	if m != nil {
		m.storeCommit.Observe(d.Seconds())
	}
}

// Purged counts records deleted by the retention policy.
func (m *Metrics) Purged(alerts, deliveries, tickets int64) {
	if m != nil {
		m.purged.WithLabelValues("alert").Add(float64(alerts))
		m.purged.WithLabelValues("delivery").Add(float64(deliveries))
		m.purged.WithLabelValues("ticket").Add(float64(tickets))
	}
}

// RouteMatchError counts a failed match expression.
func (m *Metrics) RouteMatchError() {
	if m != nil {
		m.routeErrors.Inc()
	}
}

// Reload counts a configuration reload.
func (m *Metrics) Reload(ok bool) {
	if m == nil {
		return
	}
	if ok {
		m.reloads.WithLabelValues("success").Inc()
	} else {
		m.reloads.WithLabelValues("failure").Inc()
	}
}

// StatsSource is the part of the store the queue gauges read: the queue
// figures only, whose cost does not grow with the stored history.
type StatsSource interface {
	QueueStats(ctx context.Context) (store.Stats, error)
	// Ping reports whether the store is usable (a SQLite store that lost
	// an fsync answers reads but refuses writes: it is down).
	Ping(ctx context.Context) error
}

// WatchStore adds gauges computed from the store at scrape time: queue depth
// and oldest pending age per backend, dead letters, quarantine and unrouted.
// configured lists the backends ("type.name") that always get a series,
// even with an empty queue.
func (m *Metrics) WatchStore(src StatsSource, configured func() []string) {
	if m != nil {
		m.registry.MustRegister(&storeCollector{src: src, configured: configured})
	}
}

var (
	descQueueDepth = prometheus.NewDesc("itsmbridge_queue_depth",
		"Unfinished deliveries per backend.", []string{"backend"}, nil)
	descOldest = prometheus.NewDesc("itsmbridge_queue_oldest_age_seconds",
		"Age of the oldest unfinished delivery per backend.", []string{"backend"}, nil)
	descDead = prometheus.NewDesc("itsmbridge_dead_letters",
		"Dead-lettered deliveries waiting for an operator, per backend.", []string{"backend"}, nil)
	descQuarantine = prometheus.NewDesc("itsmbridge_quarantined_payloads",
		"Payloads of unknown schema kept in quarantine.", nil, nil)
	descUnrouted = prometheus.NewDesc("itsmbridge_unrouted_alerts",
		"Stored alerts that matched no route.", nil, nil)
	descStoreUp = prometheus.NewDesc("itsmbridge_store_up",
		"1 when the store is usable (it answers, and accepts writes) at scrape time.", nil, nil)
)

type storeCollector struct {
	src        StatsSource
	configured func() []string
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueueDepth, descOldest, descDead, descQuarantine, descUnrouted, descStoreUp} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	up := 1.0
	if err := c.src.Ping(ctx); err != nil {
		up = 0
	}
	st, err := c.src.QueueStats(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(descQuarantine, prometheus.GaugeValue, float64(st.Quarantined))
	ch <- prometheus.MustNewConstMetric(descUnrouted, prometheus.GaugeValue, float64(st.Unrouted))
	now := time.Now()
	seen := map[string]bool{}
	for _, b := range st.Backends {
		name := b.Backend.String()
		seen[name] = true
		ch <- prometheus.MustNewConstMetric(descQueueDepth, prometheus.GaugeValue, float64(b.Depth()), name)
		ch <- prometheus.MustNewConstMetric(descDead, prometheus.GaugeValue, float64(b.Dead), name)
		age := 0.0
		if !b.OldestEnqueuedAt.IsZero() {
			age = now.Sub(b.OldestEnqueuedAt).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age, name)
	}
	if c.configured == nil {
		return
	}
	for _, name := range c.configured() {
		if !seen[name] {
			ch <- prometheus.MustNewConstMetric(descQueueDepth, prometheus.GaugeValue, 0, name)
			ch <- prometheus.MustNewConstMetric(descDead, prometheus.GaugeValue, 0, name)
			ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, 0, name)
		}
	}
}
