package auth

import (
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/itsmbridge/itsmbridge/core/auth/entratest"
)

// Figures and the command that produced them: docs/bench/auth.md.

// BenchmarkVerifyCacheHit: Azure reuses a token for many calls.
func BenchmarkVerifyCacheHit(b *testing.B) {
	f := newFixture(b)
	header := "Bearer " + f.token(entratest.TokenOptions{V1: true})
	if _, err := f.v.Verify(bg(), header); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		if _, err := f.v.Verify(bg(), header); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyCold: a token not seen before — every check including the
// RS256 signature, plus hashing it and caching it (keys already fetched).
func BenchmarkVerifyCold(b *testing.B) {
	f := newFixture(b, WithTokenCacheSize(1))
	headers := make([]string, 64) // distinct tokens; the one-entry cache never holds the next
	for i := range headers {
		headers[i] = "Bearer " + f.token(entratest.TokenOptions{V1: true})
		if _, err := f.v.Verify(bg(), headers[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	i := 0
	for b.Loop() {
		if _, err := f.v.Verify(bg(), headers[i%len(headers)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkGoJoseRS256 is the baseline: go-jose parsing, verifying and
// decoding the same token into the same claims, and nothing else.
func BenchmarkGoJoseRS256(b *testing.B) {
	f := newFixture(b)
	tok := f.token(entratest.TokenOptions{V1: true})
	pub := f.entra.PublicKey()
	algs := []jose.SignatureAlgorithm{jose.RS256}
	b.ReportAllocs()
	defer reportCPU(b, cpuTime())
	for b.Loop() {
		parsed, err := jwt.ParseSigned(tok, algs)
		if err != nil {
			b.Fatal(err)
		}
		var c tokenClaims
		if err := parsed.Claims(pub, &c); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU adds the CPU time per operation since start as "cpu-ns/op".
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}
