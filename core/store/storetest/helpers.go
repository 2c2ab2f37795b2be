package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/itsmbridge/itsmbridge/core/alert"
	"github.com/itsmbridge/itsmbridge/core/store"
)

// Backends used by the suite.
var (
	snow = store.BackendID{Type: "servicenow", Name: "prod"}
	jira = store.BackendID{Type: "jira", Name: "ops"}
)

const lease = 30 * time.Second

func ctx() context.Context { return context.Background() }

// mkAlert returns a normalized alert whose dedup key is dedup.
func mkAlert(dedup string) alert.Alert {
	return alert.Alert{
		ID:                 "/subscriptions/sub1/providers/Microsoft.AlertsManagement/alerts/" + dedup,
		Schema:             alert.SchemaCommon,
		Source:             "prod",
		Status:             alert.StatusFired,
		Severity:           1,
		SeverityName:       "Sev1",
		Rule:               "cpu-high",
		RuleID:             "/subscriptions/sub1/rules/cpu-high",
		Service:            "Platform",
		Signal:             "Metric",
		Description:        "CPU above 90%",
		Targets:            []string{"/subscriptions/sub1/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"},
		ConfigurationItems: []string{"/subscriptions/sub1/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm1"},
		Subscription:       "sub1",
		ResourceGroup:      "rg",
		ResourceType:       "microsoft.compute/virtualmachines",
		ResourceName:       "vm1",
		FiredAt:            "2026-03-01T11:59:00Z",
		Link:               "https://portal.azure.com/#alert",
		Custom:             map[string]string{"team": "ops"},
		Context:            json.RawMessage(`{"condition":{"windowSize":"PT5M"}}`),
		DedupKey:           dedup,
	}
}

// del returns a delivery of the given backend and ticket key.
func del(b store.BackendID, key string, ev store.Event) store.NewDelivery {
	return store.NewDelivery{
		Route:     "critical",
		Backend:   b,
		TicketKey: key,
		Event:     ev,
		Ticket:    json.RawMessage(`{"title":"[Sev1] cpu-high on vm1","severity":1}`),
		Options:   json.RawMessage(`{"resolve":true,"reopen_within":"24h"}`),
	}
}

// rec returns an ingest record for dedup with deliveries ds.
func rec(dedup string, ds ...store.NewDelivery) store.IngestRecord {
	return store.IngestRecord{
		Source:     "prod",
		Alert:      mkAlert(dedup),
		Raw:        []byte(`{"schemaId":"azureMonitorCommonAlertSchema","dedup":"` + dedup + `"}`),
		Deliveries: ds,
	}
}

func (e *env) ingest(r store.IngestRecord) store.IngestResult {
	e.t.Helper()
	res, err := e.s.Ingest(ctx(), r)
	if err != nil {
		e.t.Fatalf("Ingest(%s): %v", r.Alert.DedupKey, err)
	}
	if res.Duplicate {
		e.t.Fatalf("Ingest(%s): unexpected duplicate", r.Alert.DedupKey)
	}
	if len(res.Deliveries) != len(r.Deliveries) {
		e.t.Fatalf("Ingest(%s): %d delivery ids, want %d", r.Alert.DedupKey, len(res.Deliveries), len(r.Deliveries))
	}
	return res
}

// one ingests a fresh alert with one delivery and returns the delivery id.
func (e *env) one(dedup string, b store.BackendID, key string, ev store.Event) int64 {
	e.t.Helper()
	return e.ingest(rec(dedup, del(b, key, ev))).Deliveries[0]
}

func (e *env) claim(owner string, b store.BackendID, limit int) []store.Delivery {
	e.t.Helper()
	ds, err := e.s.Claim(ctx(), owner, b, limit, lease)
	if err != nil {
		e.t.Fatalf("Claim(%s, %s): %v", owner, b, err)
	}
	return ds
}

// claimIDs claims and returns the ids, in the order returned.
func (e *env) claimIDs(owner string, b store.BackendID, limit int) []int64 {
	e.t.Helper()
	return ids(e.claim(owner, b, limit))
}

func ids(ds []store.Delivery) []int64 {
	out := []int64{}
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func (e *env) wantIDs(what string, got []int64, want ...int64) {
	e.t.Helper()
	if want == nil {
		want = []int64{}
	}
	if !reflect.DeepEqual(got, want) {
		e.t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func (e *env) delivery(id int64) store.Delivery {
	e.t.Helper()
	d, err := e.s.GetDelivery(ctx(), id)
	if err != nil {
		e.t.Fatalf("GetDelivery(%d): %v", id, err)
	}
	return d
}

func (e *env) ok(what string, err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("%s: %v", what, err)
	}
}

func (e *env) is(what string, err, want error) {
	e.t.Helper()
	if !errors.Is(err, want) {
		e.t.Fatalf("%s: error %v, want %v", what, err, want)
	}
}

// jsonEqual reports whether a and b hold the same JSON value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func (e *env) wantJSON(what string, got, want []byte) {
	e.t.Helper()
	if !jsonEqual(got, want) {
		e.t.Fatalf("%s = %s, want %s", what, got, want)
	}
}

func (e *env) wantTime(what string, got, want time.Time) {
	e.t.Helper()
	if !got.Equal(want) {
		e.t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func (e *env) stats() store.Stats {
	e.t.Helper()
	st, err := e.s.Stats(ctx())
	if err != nil {
		e.t.Fatalf("Stats: %v", err)
	}
	return st
}

// allDeliveries lists every delivery matching f, following the cursor.
func (e *env) allDeliveries(f store.DeliveryFilter) []store.Delivery {
	e.t.Helper()
	var out []store.Delivery
	p := store.PageRequest{Limit: 7}
	for i := 0; ; i++ {
		page, err := e.s.ListDeliveries(ctx(), f, p)
		if err != nil {
			e.t.Fatalf("ListDeliveries(%+v): %v", f, err)
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out
		}
		if i > 10000 {
			e.t.Fatal("ListDeliveries: cursor never ends")
		}
		p.Cursor = page.Next
	}
}

func key(i int) string { return fmt.Sprintf("key-%03d", i) }
