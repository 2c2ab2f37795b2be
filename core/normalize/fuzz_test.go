package normalize

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/itsmbridge/itsmbridge/core/alert"
)

// FuzzNormalize: Normalize never panics and always returns an alert that
// keeps the sdk.Alert invariants or a typed error, and it calls JSON
// malformed exactly when encoding/json does.
//
//	go test ./core/normalize -run '^$' -fuzz FuzzNormalize -fuzztime 60s
func FuzzNormalize(f *testing.F) {
	for _, path := range sampleFiles(f) {
		f.Add(loadSample(f, path))
	}
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"schemaId":"azureMonitorCommonAlertSchema","data":{"essentials":{"alertId":"x","alertTargetIDs":"[\"/subscriptions/s\"]"}}}`,
		`{"AlertRuleName":"r","SearchQuery":"q","SearchResult":{"tables":[{"columns":[{"name":"Computer"}],"rows":[["c"],[1],[]]}]}}`,
		`{"schemaId":"Microsoft.Insights/activityLogs","data":{"context":{"activityLog":{"eventSource":"ServiceHealth","properties":"{\"stage\":\"Resolved\"}"}}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := Normalize(raw)
		if err != nil {
			if a != nil {
				t.Fatal("alert and error both returned")
			}
			malformed, unknown := errors.Is(err, ErrMalformed), errors.Is(err, ErrUnknownSchema)
			if malformed == unknown {
				t.Fatalf("error is not exactly one of the typed errors: %v", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			if malformed && json.Valid(raw) && utf8.Valid(raw) {
				t.Fatalf("valid JSON called malformed: %v", err)
			}
			if unknown && !json.Valid(raw) {
				t.Fatalf("invalid JSON not called malformed: %v", err)
			}
			return
		}
		if !json.Valid(raw) {
			t.Fatal("invalid JSON normalized")
		}
		checkInvariants(t, a)
	})
}

func checkInvariants(t *testing.T, a *alert.Alert) {
	t.Helper()
	if a.Targets == nil || a.ConfigurationItems == nil || a.Custom == nil || len(a.Context) == 0 {
		t.Fatal("nil slice, map or context")
	}
	if a.Status != alert.StatusFired && a.Status != alert.StatusResolved {
		t.Fatalf("status %q", a.Status)
	}
	if a.Status != alert.StatusResolved && a.ResolvedAt != "" {
		t.Fatal("resolved_at set on a fired alert")
	}
	if a.Severity < 0 || a.Severity > 4 || a.SeverityName != alert.SeverityName(a.Severity) {
		t.Fatalf("severity %d %q", a.Severity, a.SeverityName)
	}
	for _, tg := range a.Targets {
		if tg != strings.ToLower(tg) || tg == "" {
			t.Fatalf("target %q not lower-cased", tg)
		}
	}
	if a.Schema == "" || a.DedupKey != alert.DedupKey(a) || a.Source != "" {
		t.Fatalf("schema %q dedup %q source %q", a.Schema, a.DedupKey, a.Source)
	}
	if !json.Valid(a.Context) {
		t.Fatalf("context is not JSON: %q", a.Context)
	}
	if _, err := json.Marshal(a); err != nil {
		t.Fatal(err)
	}
}
