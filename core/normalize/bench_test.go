package normalize

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// benchPayload is the real "Log Alerts V2" common-schema sample, 4,368 bytes.
var benchPayload = filepath.Join(samplesDir, "common-log-alerts-v2-fired.json")

func loadBench(b *testing.B) []byte {
	raw, err := os.ReadFile(benchPayload)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// BenchmarkNormalize is the whole job: decode, detect, parse, derive, dedup key.
//
//	go test ./core/normalize -run '^$' -bench . -benchmem -count 5
func BenchmarkNormalize(b *testing.B) {
	raw := loadBench(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Normalize(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJSONUnmarshal is the yardstick: a plain json.Unmarshal of the same
// payload into a generic value, extracting nothing.
func BenchmarkJSONUnmarshal(b *testing.B) {
	raw := loadBench(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			b.Fatal(err)
		}
	}
}
