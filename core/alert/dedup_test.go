package alert

import (
	"encoding/json"
	"testing"
)

func TestDedupKey(t *testing.T) {
	base := Alert{ID: "a1", Status: StatusFired, FiredAt: "2024-01-01T00:00:00Z", Context: json.RawMessage(`{}`)}
	key := DedupKey(&base)
	if len(key) != 32 {
		t.Fatalf("key %q: want 32 hex digits", key)
	}
	same := base
	same.Description, same.Source, same.Targets = "other", "other-source", []string{"/x"}
	if DedupKey(&same) != key {
		t.Error("key depends on fields other than id, status and time")
	}
	for name, mut := range map[string]func(a *Alert){
		"id":          func(a *Alert) { a.ID = "a2" },
		"status":      func(a *Alert) { a.Status, a.ResolvedAt = StatusResolved, a.FiredAt },
		"fired time":  func(a *Alert) { a.FiredAt = "2024-01-01T00:00:01Z" },
		"resolved at": func(a *Alert) { a.Status, a.ResolvedAt = StatusResolved, "2024-01-01T01:00:00Z" },
		"no time":     func(a *Alert) { a.FiredAt = "" },
		"separator":   func(a *Alert) { a.ID, a.Status = "a1\x00fired", "" },
	} {
		a := base
		mut(&a)
		if DedupKey(&a) == key {
			t.Errorf("changing %s kept the key", name)
		}
	}
	// Resolved alerts are keyed by the resolution time, not the fire time.
	r1 := Alert{ID: "a1", Status: StatusResolved, FiredAt: "t1", ResolvedAt: "t2"}
	r2 := Alert{ID: "a1", Status: StatusResolved, FiredAt: "t0", ResolvedAt: "t2"}
	if DedupKey(&r1) != DedupKey(&r2) {
		t.Error("resolved key depends on FiredAt")
	}
	// Keys sort by the status time (to the second), so store indexes
	// grow at one end; without a time the prefix is zero.
	early := Alert{ID: "zzz", Status: StatusFired, FiredAt: "2024-01-01T00:00:00.9Z"}
	late := Alert{ID: "aaa", Status: StatusFired, FiredAt: "2024-01-01T00:00:01Z"}
	if ke, kl := DedupKey(&early), DedupKey(&late); ke >= kl {
		t.Errorf("key of the earlier alert %s sorts after the later one's %s", ke, kl)
	}
	if k := DedupKey(&base); k[:8] != "65920080" { // 2024-01-01T00:00:00Z = 0x65920080
		t.Errorf("key %s: want the status time 65920080 as its prefix", k)
	}
	for _, at := range []string{"", "not a time", "1960-01-01T00:00:00Z"} {
		a := Alert{ID: "c", Status: StatusFired, FiredAt: at, Context: json.RawMessage(`{}`)}
		if k := DedupKey(&a); k[:8] != "00000000" || len(k) != 32 {
			t.Errorf("FiredAt %q: key %s; want 32 hex digits with a zero time prefix", at, k)
		}
	}
	// Without any time the context decides.
	n1 := Alert{ID: "b", Status: StatusFired, Context: json.RawMessage(`{"SpendingAmount":"1"}`)}
	n2 := Alert{ID: "b", Status: StatusFired, Context: json.RawMessage(`{"SpendingAmount":"2"}`)}
	if DedupKey(&n1) == DedupKey(&n2) {
		t.Error("timeless alerts with different contexts share a key")
	}
}
