package metrics

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/core/store"
)

// fakeStore answers QueueStats with one backend queue; ping is Ping's error.
type fakeStore struct{ ping, stats error }

func (f fakeStore) Ping(context.Context) error { return f.ping }

func (f fakeStore) QueueStats(context.Context) (store.Stats, error) {
	b := store.BackendStats{Backend: store.BackendID{Type: "servicenow", Name: "prod"}, Pending: 3, Leased: 1, Dead: 2,
		OldestEnqueuedAt: time.Now().Add(-time.Minute)}
	return store.Stats{Backends: []store.BackendStats{b}, Quarantined: 4}, f.stats
}

// gauges gathers the store gauges: name{backend} → value.
func gauges(t *testing.T, src StatsSource) map[string]float64 {
	t.Helper()
	m := New()
	m.WatchStore(src, func() []string { return []string{"servicenow.prod", "jira.ops"} })
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, mt := range f.GetMetric() {
			key := f.GetName()
			for _, l := range mt.GetLabel() {
				key += "{" + l.GetValue() + "}"
			}
			out[key] = mt.GetGauge().GetValue()
		}
	}
	return out
}

func TestStoreGauges(t *testing.T) {
	g := gauges(t, fakeStore{})
	want := map[string]float64{
		"itsmbridge_store_up":                      1,
		"itsmbridge_queue_depth{servicenow.prod}":  4, // pending + leased
		"itsmbridge_dead_letters{servicenow.prod}": 2,
		"itsmbridge_queue_depth{jira.ops}":         0, // configured, nothing queued: a series all the same
		"itsmbridge_quarantined_payloads":          4,
	}
	for k, v := range want {
		if got, ok := g[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if age := g["itsmbridge_queue_oldest_age_seconds{servicenow.prod}"]; age < 59 || age > 120 {
		t.Errorf("oldest age = %v s, want about 60", age)
	}
}

// TestStoreDownWhenWritesFail: a store that answers reads but refuses
// writes (Ping fails: a SQLite store after a failed fsync) is down, and its
// queue gauges are still exported.
func TestStoreDownWhenWritesFail(t *testing.T) {
	g := gauges(t, fakeStore{ping: errors.New("fsync failed; restart required")})
	if g["itsmbridge_store_up"] != 0 {
		t.Errorf("store_up = %v with Ping failing, want 0", g["itsmbridge_store_up"])
	}
	if g["itsmbridge_queue_depth{servicenow.prod}"] != 4 {
		t.Errorf("queue depth not exported while the store refuses writes: %v", g)
	}
	g = gauges(t, fakeStore{stats: errors.New("database is locked")})
	if v, ok := g["itsmbridge_store_up"]; !ok || v != 0 {
		t.Errorf("store_up = %v (present %v) with QueueStats failing, want 0", v, ok)
	}
}
