package vendorhttp_test

import (
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/sdk/vendorhttp"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 10, 21, 7, 28, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"120", 120 * time.Second, true},
		{" 5 ", 5 * time.Second, true},
		{"-1", 0, false},
		{"1.5", 0, false},
		{"soon", 0, false},
		{"99999999999999999999999", 24 * time.Hour, true},        // overflow is capped
		{"172800", 24 * time.Hour, true},                         // capped at 24h
		{"Tue, 21 Oct 2025 07:30:00 GMT", 2 * time.Minute, true}, // IMF-fixdate
		{"Tuesday, 21-Oct-25 07:29:00 GMT", time.Minute, true},   // RFC 850
		{"Tue Oct 21 07:28:30 2025", 30 * time.Second, true},     // asctime
		{"Mon, 20 Oct 2025 07:28:00 GMT", 0, true},               // past date: no wait
		{"Tue, 21 Oct 2025 07:30:00 +0000", 0, false},            // not an HTTP-date
	}
	for _, tc := range tests {
		got, ok := vendorhttp.ParseRetryAfter(tc.in, now)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestParseRateLimitReset(t *testing.T) {
	now := time.Date(2025, 10, 21, 7, 28, 0, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"1761031740", 60 * time.Second, true},       // ServiceNow: UNIX seconds
		{"2025-10-21T07:30Z", 2 * time.Minute, true}, // Jira: yyyy-MM-ddTHH:mmZ
		{"2025-10-21T07:29:30Z", 90 * time.Second, true},
		{"2025-10-21T09:29:30+02:00", 90 * time.Second, true},
		{"2025-10-21T07:00Z", 0, true},
		{"tomorrow", 0, false},
	}
	for _, tc := range tests {
		got, ok := vendorhttp.ParseRateLimitReset(tc.in, now)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ParseRateLimitReset(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		in      string
		secrets []string
		want    string
	}{
		{"nothing here", []string{"pw"}, "nothing here"},
		{"password=pw1 again pw1", []string{"pw1"}, "password=[REDACTED] again [REDACTED]"},
		{"empty secret ignored", []string{""}, "empty secret ignored"},
		{"nested abc and abcdef", []string{"abc", "abcdef"}, "nested [REDACTED] and [REDACTED]"},
		{"q=a%2Bb%26c", []string{"a+b&c"}, "q=[REDACTED]"},
		{"p/a%20b", []string{"a b"}, "p/[REDACTED]"},
		{"no secrets", nil, "no secrets"},
	}
	for _, tc := range tests {
		if got := vendorhttp.Redact(tc.in, tc.secrets); got != tc.want {
			t.Errorf("Redact(%q, %q) = %q, want %q", tc.in, tc.secrets, got, tc.want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://acme.service-now.com/api/now/table/incident?sysparm_limit=1", "https://acme.service-now.com/api/now/table/incident?sysparm_limit=1"},
		{"https://admin:pw@acme.example/x", "https://acme.example/x"},
		{"https://h/x?access_token=abc&a=1", "https://h/x?a=1&access_token=[REDACTED]"},
		{"https://h/x?API_KEY=abc", "https://h/x?API_KEY=[REDACTED]"},
		{"https://h/x?client_secret=s&sig=t", "https://h/x?client_secret=[REDACTED]&sig=[REDACTED]"},
		{"https://h/rest/api/3/issue?key=OPS-1&expand=names", "https://h/rest/api/3/issue?expand=names&key=[REDACTED]"},
		{"https://h/x?monkey=1&keyword=2", "https://h/x?monkey=1&keyword=2"},
		{"https://h/x#frag-token", "https://h/x"},
		{"://user:pw@bad url", "://bad url"},
		{"not a url", "not a url"},
	}
	for _, tc := range tests {
		if got := vendorhttp.RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
