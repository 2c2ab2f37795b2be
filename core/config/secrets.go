package config

import (
	"io"
	"sort"
	"strings"
	"sync"
)

// Redacted replaces every secret in dumps, logs and diagnostics.
const Redacted = "(sensitive)"

// secretSet collects the secret strings of a config: values read by env() and
// file(), admin_token, the store DSN and the attributes a plugin marks
// sensitive. It is safe for concurrent use because route expressions may call
// env() and file() at run time.
type secretSet struct {
	mu sync.RWMutex
	m  map[string]struct{}
	r  *strings.Replacer // rebuilt lazily after add
}

func newSecretSet() *secretSet { return &secretSet{m: map[string]struct{}{}} }

func (s *secretSet) add(v string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	if _, ok := s.m[v]; !ok {
		s.m[v] = struct{}{}
		s.r = nil
	}
	s.mu.Unlock()
}

func (s *secretSet) list() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.m))
	for v := range s.m {
		out = append(out, v)
	}
	// Longest first, so a secret containing another is replaced whole.
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

func (s *secretSet) replacer() *strings.Replacer {
	s.mu.RLock()
	r := s.r
	s.mu.RUnlock()
	if r != nil {
		return r
	}
	secrets := s.list()
	pairs := make([]string, 0, 2*len(secrets))
	for _, v := range secrets {
		pairs = append(pairs, v, Redacted)
	}
	r = strings.NewReplacer(pairs...)
	s.mu.Lock()
	s.r = r
	s.mu.Unlock()
	return r
}

// Secrets returns every secret string the config holds (longest first), for
// log filters. It includes values env() and file() returned so far, so call it
// again after a reload.
func (c *Config) Secrets() []string { return c.secrets.list() }

// Redact replaces every secret in s with "(sensitive)".
func (c *Config) Redact(s string) string {
	if c == nil || c.secrets == nil {
		return s
	}
	return c.secrets.replacer().Replace(s)
}

// RedactWriter returns a writer that redacts secrets from everything written
// to w. Each Write is redacted on its own, which suits line-oriented writers
// such as hclog and hcl's diagnostic writer.
func (c *Config) RedactWriter(w io.Writer) io.Writer {
	return redactWriter{c: c, w: w}
}

type redactWriter struct {
	c *Config
	w io.Writer
}

func (rw redactWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(rw.w, rw.c.Redact(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
