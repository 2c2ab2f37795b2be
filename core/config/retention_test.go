package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStoreRetention(t *testing.T) {
	for _, c := range []struct {
		name, hcl string
		want      time.Duration
	}{
		{"default", ``, DefaultRetention},
		{"sqlite", `store "sqlite" { retention = "2160h" }`, 90 * 24 * time.Hour},
		{"keep everything", `store "sqlite" { retention = "0" }`, 0},
		{"postgres", `store "postgres" {
  dsn       = "postgres://x"
  retention = "24h"
}`, 24 * time.Hour},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.hcl")
			if err := os.WriteFile(path, []byte(c.hcl), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, diags := Load(path, Options{LookupEnv: noEnv})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if cfg.Store.Retention != c.want {
				t.Fatalf("retention = %s, want %s", cfg.Store.Retention, c.want)
			}
		})
	}
}
