package vendorhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/itsmbridge/itsmbridge/sdk"
	"github.com/itsmbridge/itsmbridge/sdk/vendorhttp"
)

func TestDoClassifiesStatus(t *testing.T) {
	future := time.Now().Add(90 * time.Second).UTC()
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		wantErr    bool
		wantKind   sdk.ErrorKind
		wantAfter  time.Duration // exact, or lower bound when afterSlack > 0
		afterSlack time.Duration
	}{
		{name: "200", status: 200, body: `{"ok":true}`},
		{name: "201", status: 201},
		{name: "204", status: 204},
		{name: "304 not followed", status: 304},
		{name: "400", status: 400, body: `{"error":{"message":"Invalid table"}}`, wantErr: true, wantKind: sdk.KindPermanent},
		{name: "401", status: 401, body: `{"error":{"message":"User Not Authenticated"}}`, wantErr: true, wantKind: sdk.KindPermanent},
		{name: "403", status: 403, wantErr: true, wantKind: sdk.KindPermanent},
		{name: "404", status: 404, wantErr: true, wantKind: sdk.KindPermanent},
		{name: "409", status: 409, wantErr: true, wantKind: sdk.KindPermanent},
		{name: "413", status: 413, wantErr: true, wantKind: sdk.KindPermanent},
		{name: "408", status: 408, wantErr: true, wantKind: sdk.KindRetryable},
		{name: "429 no header", status: 429, wantErr: true, wantKind: sdk.KindRetryable},
		{name: "429 delta seconds", status: 429, header: map[string]string{"Retry-After": "7"}, wantErr: true, wantKind: sdk.KindRetryable, wantAfter: 7 * time.Second},
		{name: "429 http date", status: 429, header: map[string]string{"Retry-After": future.Format(http.TimeFormat)}, wantErr: true, wantKind: sdk.KindRetryable, wantAfter: 60 * time.Second, afterSlack: 31 * time.Second},
		{name: "429 ratelimit reset unix fallback", status: 429, header: map[string]string{"X-RateLimit-Reset": fmt.Sprint(future.Unix())}, wantErr: true, wantKind: sdk.KindRetryable, wantAfter: 60 * time.Second, afterSlack: 31 * time.Second},
		{name: "429 retry-after wins over reset", status: 429, header: map[string]string{"Retry-After": "3", "X-RateLimit-Reset": fmt.Sprint(future.Unix())}, wantErr: true, wantKind: sdk.KindRetryable, wantAfter: 3 * time.Second},
		{name: "429 bad retry-after", status: 429, header: map[string]string{"Retry-After": "soon"}, wantErr: true, wantKind: sdk.KindRetryable},
		{name: "500", status: 500, wantErr: true, wantKind: sdk.KindRetryable},
		{name: "502", status: 502, wantErr: true, wantKind: sdk.KindRetryable},
		{name: "503 with retry-after", status: 503, header: map[string]string{"Retry-After": "120"}, wantErr: true, wantKind: sdk.KindRetryable, wantAfter: 120 * time.Second},
		{name: "504", status: 504, wantErr: true, wantKind: sdk.KindRetryable},
		{name: "200 ignores retry-after", status: 200, header: map[string]string{"Retry-After": "5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c := vendorhttp.New(vendorhttp.Options{BaseURL: srv.URL})
			req, err := c.NewRequest(context.Background(), http.MethodPost, "/api/now/table/incident", nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, body, err := c.Do(context.Background(), req)
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("resp = %v, want status %d", resp, tc.status)
			}
			if string(body) != tc.body {
				t.Errorf("body = %q, want %q", body, tc.body)
			}
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("err = nil, want error")
			}
			kind, after := sdk.Classify(err)
			if kind != tc.wantKind {
				t.Errorf("kind = %v, want %v (err %v)", kind, tc.wantKind, err)
			}
			if tc.afterSlack > 0 {
				if after < tc.wantAfter || after > tc.wantAfter+tc.afterSlack {
					t.Errorf("retryAfter = %v, want in [%v, %v]", after, tc.wantAfter, tc.wantAfter+tc.afterSlack)
				}
			} else if after != tc.wantAfter {
				t.Errorf("retryAfter = %v, want %v", after, tc.wantAfter)
			}
			var se *vendorhttp.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("errors.As(*StatusError) failed for %T %v", err, err)
			}
			if se.StatusCode != tc.status || se.Method != http.MethodPost || se.URL != srv.URL+"/api/now/table/incident" || se.Body != tc.body {
				t.Errorf("StatusError = %+v", se)
			}
			if se.RetryAfter != after {
				t.Errorf("StatusError.RetryAfter = %v, classified %v", se.RetryAfter, after)
			}
			if !strings.Contains(err.Error(), fmt.Sprint(tc.status)) {
				t.Errorf("error text %q lacks the status", err)
			}
		})
	}
}

func TestNetworkErrorIsRetryable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens any more: connection refused

	c := vendorhttp.New(vendorhttp.Options{BaseURL: "http://" + addr})
	err = c.JSON(context.Background(), http.MethodGet, "/rest/api/3/myself", nil, nil, nil, nil)
	if err == nil {
		t.Fatal("want error")
	}
	if !sdk.IsRetryable(err) {
		t.Errorf("network error not retryable: %v", err)
	}
	var se *vendorhttp.StatusError
	if errors.As(err, &se) {
		t.Errorf("network error must not be a StatusError")
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error %q should name the target", err)
	}
}

func TestConnectionDroppedMidResponseIsRetryable(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(200)
		io.WriteString(w, "partial")
		// Hijack and close to cut the body short.
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	c := vendorhttp.New(vendorhttp.Options{BaseURL: srv.URL})
	err := c.JSON(context.Background(), http.MethodGet, "/x", nil, nil, &map[string]any{}, nil)
	if err == nil || !sdk.IsRetryable(err) {
		t.Fatalf("err = %v, want retryable", err)
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := vendorhttp.New(vendorhttp.Options{BaseURL: srv.URL, Timeout: 50 * time.Millisecond})
	err := c.JSON(context.Background(), http.MethodGet, "/slow", nil, nil, nil, nil)
	if err == nil || !sdk.IsRetryable(err) {
		t.Fatalf("err = %v, want retryable", err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("err = %v, want a net.Error timeout in the chain", err)
	}
}

func TestContextCancelReturnsCtxErr(t *testing.T) {
	for _, stage := range []string{"headers", "body"} {
		t.Run(stage, func(t *testing.T) {
			entered := make(chan struct{})
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if stage == "body" {
					w.WriteHeader(200)
					io.WriteString(w, `{"partial":`)
					w.(http.Flusher).Flush()
				}
				close(entered)
				select {
				case <-release:
				case <-r.Context().Done():
				}
			}))
			defer srv.Close()
			defer close(release)
			c := vendorhttp.New(vendorhttp.Options{BaseURL: srv.URL})
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-entered
				cancel()
			}()
			err := c.JSON(ctx, http.MethodPost, "/hang", nil, map[string]string{"a": "b"}, &map[string]any{}, nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want errors.Is(context.Canceled)", err)
			}
			if !sdk.IsRetryable(err) {
				t.Errorf("cancel should be retryable: %v", err)
			}
		})
	}
}

func TestDeadlineReturnsCtxErr(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := vendorhttp.New(vendorhttp.Options{BaseURL: srv.URL})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := c.JSON(ctx, http.MethodGet, "/hang", nil, nil, nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}

func TestErrorsNeverContainSecrets(t *testing.T) {
	const (
		password = "hunter2-Sup3r$ecret"
		token    = "tok_ABCDEF0123456789"
		apiKey   = "k3y-zzz-999"
		bearer   = "eyJhbGciOiJIUzI1NiJ9.bearer-value"
	)
	// The server echoes everything it got, as some vendors do in error bodies.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "bad request %s %s auth=%q body=%s", r.Method, r.URL.String(), r.Header.Get("Authorization"), b)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword("admin", password)

	tests := []struct {
		name string
		opts vendorhttp.Options
		path string
		q    url.Values
		hdr  http.Header
		in   any
	}{
		{name: "configured secret in body", opts: vendorhttp.Options{BaseURL: srv.URL, Secrets: []string{password}}, path: "/login", in: map[string]string{"password": password}},
		{name: "token in query", opts: vendorhttp.Options{BaseURL: srv.URL}, path: "/x", q: url.Values{"access_token": {token}, "sysparm_limit": {"1"}}},
		{name: "api key in query", opts: vendorhttp.Options{BaseURL: srv.URL}, path: "/x?api_key=" + apiKey},
		{name: "userinfo in base URL", opts: vendorhttp.Options{BaseURL: u.String()}, path: "/x"},
		{name: "bearer header", opts: vendorhttp.Options{BaseURL: srv.URL}, path: "/x", hdr: http.Header{"Authorization": {"Bearer " + bearer}}},
		{name: "authorize hook", opts: vendorhttp.Options{BaseURL: srv.URL, Authorize: func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+bearer)
			return nil
		}}, path: "/x"},
		{name: "basic auth header", opts: vendorhttp.Options{BaseURL: srv.URL, Secrets: []string{password}}, path: "/x", hdr: func() http.Header {
			r, _ := http.NewRequest("GET", "http://x", nil)
			r.SetBasicAuth("admin", password)
			return r.Header
		}()},
	}
	secrets := []string{password, url.QueryEscape(password), token, apiKey, bearer}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := vendorhttp.New(tc.opts)
			err := c.JSON(context.Background(), http.MethodPost, tc.path, tc.q, tc.in, nil, tc.hdr)
			if err == nil {
				t.Fatal("want error")
			}
			var se *vendorhttp.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("want StatusError, got %v", err)
			}
			texts := []string{err.Error(), se.URL, se.Body, fmt.Sprintf("%+v", err)}
			for _, txt := range texts {
				for _, s := range secrets {
					if strings.Contains(txt, s) {
						t.Errorf("secret %q leaked in %q", s, txt)
					}
				}
			}
			if !strings.Contains(se.Body, "bad request") {
				t.Errorf("body lost: %q", se.Body)
			}
		})
	}
}

func TestNetworkErrorRedactsSecrets(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	const secret = "s3cr3t-in-path"
	c := vendorhttp.New(vendorhttp.Options{BaseURL: "http://user:pw-xyz@" + addr, Secrets: []string{secret}})
	err = c.JSON(context.Background(), http.MethodGet, "/tenant/"+secret, url.Values{"token": {"tok-123"}}, nil, nil, nil)
	if err == nil {
		t.Fatal("want error")
	}
	for _, s := range []string{secret, "pw-xyz", "tok-123"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("%q leaked in %q", s, err)
		}
	}
}

func TestStatusErrorBodyTruncated(t *testing.T) {
	long := strings.Repeat("é", 3000) // multi-byte to check we do not split a rune
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, long)
	}))
	defer srv.Close()
	c := vendorhttp.New(vendorhttp.Options{BaseURL: srv.URL})
	err := c.JSON(context.Background(), http.MethodGet, "/", nil, nil, nil, nil)
	var se *vendorhttp.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("want StatusError, got %v", err)
	}
	if len(se.Body) > 1100 {
		t.Errorf("body length %d, want ≤ ~1 KiB", len(se.Body))
	}
	if !strings.HasSuffix(se.Body, "(truncated)") || !strings.HasPrefix(se.Body, "éé") {
		t.Errorf("body = %q...", se.Body[:20])
	}
	if !strings.Contains(strings.TrimSuffix(se.Body, "…(truncated)"), "é") || strings.ContainsRune(se.Body, '\uFFFD') {
		t.Errorf("body has a broken rune")
	}
}

func TestMaxBodyBytes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, strings.Repeat("x", 100))
	}))
	defer srv.Close()
	c := vendorhttp.New(vendorhttp.Options{BaseURL: srv.URL, MaxBodyBytes: 10})
	err := c.JSON(context.Background(), http.MethodGet, "/", nil, nil, nil, nil)
	if err == nil || sdk.IsRetryable(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
	c = vendorhttp.New(vendorhttp.Options{BaseURL: srv.URL, MaxBodyBytes: 100})
	if err := c.JSON(context.Background(), http.MethodGet, "/", nil, nil, nil, nil); err != nil {
		t.Fatalf("body of exactly the limit: %v", err)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	type in struct {
		ShortDescription string `json:"short_description"`
		CorrelationID    string `json:"correlation_id"`
	}
	type out struct {
		Result struct {
			SysID  string `json:"sys_id"`
			Number string `json:"number"`
		} `json:"result"`
	}
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, fmt.Sprintf("%s %s ct=%s accept=%s ua=%s x=%s", r.Method, r.URL.RequestURI(),
			r.Header.Get("Content-Type"), r.Header.Get("Accept"), r.Header.Get("User-Agent"), r.Header.Get("X-Test")))
		mu.Unlock()
		var body in
		if r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			if len(b) > 0 {
				if err := json.Unmarshal(b, &body); err != nil {
					w.WriteHeader(400)
					return
				}
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"result":{"sys_id":"abc","number":"INC0010001","echo":%q}}`, body.CorrelationID)
	}))
	defer srv.Close()

	c := vendorhttp.New(vendorhttp.Options{BaseURL: srv.URL + "/prefix/", UserAgent: "itsmbridge-plugin-test/1.0"})
	var o out
	err := c.JSON(context.Background(), http.MethodPost, "api/now/table/incident", url.Values{"sysparm_display_value": {"false"}},
		in{ShortDescription: "disk full", CorrelationID: "k1"}, &o, http.Header{"X-Test": {"yes"}})
	if err != nil {
		t.Fatal(err)
	}
	if o.Result.SysID != "abc" || o.Result.Number != "INC0010001" {
		t.Errorf("decoded %+v", o)
	}
	// GET with no body and no output.
	if err := c.JSON(context.Background(), http.MethodGet, "/api/now/table/incident/abc", nil, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"POST /prefix/api/now/table/incident?sysparm_display_value=false ct=application/json accept=application/json ua=itsmbridge-plugin-test/1.0 x=yes",
		"GET /prefix/api/now/table/incident/abc ct= accept=application/json ua=itsmbridge-plugin-test/1.0 x=",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestJSONInvalidResponseIsPermanent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>maintenance</html>")
	}))
	defer srv.Close()
	c := vendorhttp.New(vendorhttp.Options{BaseURL: srv.URL})
	var out map[string]any
	err := c.JSON(context.Background(), http.MethodGet, "/", nil, nil, &out, nil)
	if err == nil || sdk.IsRetryable(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
}

func TestBadBaseURL(t *testing.T) {
	for _, base := range []string{"::bad", "ftp://x", "no-scheme.example.com"} {
		c := vendorhttp.New(vendorhttp.Options{BaseURL: base})
		err := c.JSON(context.Background(), http.MethodGet, "/x", nil, nil, nil, nil)
		if err == nil || sdk.IsRetryable(err) {
			t.Errorf("base %q: err = %v, want permanent", base, err)
		}
	}
	c := vendorhttp.New(vendorhttp.Options{})
	if err := c.JSON(context.Background(), http.MethodGet, "/relative", nil, nil, nil, nil); err == nil || sdk.IsRetryable(err) {
		t.Errorf("relative URL without base: err = %v, want permanent", err)
	}
}

func TestAuthorizeErrorReturnedUnchanged(t *testing.T) {
	want := sdk.Retryable(errors.New("token endpoint down"), 5*time.Second)
	c := vendorhttp.New(vendorhttp.Options{BaseURL: "http://127.0.0.1:1", Authorize: func(context.Context, *http.Request) error { return want }})
	err := c.JSON(context.Background(), http.MethodGet, "/", nil, nil, nil, nil)
	if err != want {
		t.Fatalf("err = %v, want the hook's error", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("n") == "3" {
			w.WriteHeader(503)
			return
		}
		fmt.Fprintf(w, `{"n":%q}`, r.URL.Query().Get("n"))
	}))
	defer srv.Close()
	c := vendorhttp.New(vendorhttp.Options{BaseURL: srv.URL})
	var wg sync.WaitGroup
	errs := make([]error, 20)
	outs := make([]map[string]string, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.JSON(context.Background(), http.MethodGet, "/", url.Values{"n": {fmt.Sprint(i)}}, nil, &outs[i], nil)
		}()
	}
	wg.Wait()
	for i := range 20 {
		if i == 3 {
			if !sdk.IsRetryable(errs[i]) {
				t.Errorf("call 3: %v, want retryable", errs[i])
			}
			continue
		}
		if errs[i] != nil || outs[i]["n"] != fmt.Sprint(i) {
			t.Errorf("call %d: %v %v", i, errs[i], outs[i])
		}
	}
}

func TestStatusCode(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(401) }))
	defer srv.Close()
	c := vendorhttp.New(vendorhttp.Options{BaseURL: srv.URL})
	err := c.JSON(context.Background(), http.MethodGet, "/", nil, nil, nil, nil)
	if got := vendorhttp.StatusCode(fmt.Errorf("create: %w", err)); got != 401 {
		t.Errorf("StatusCode = %d, want 401", got)
	}
	if got := vendorhttp.StatusCode(errors.New("x")); got != 0 {
		t.Errorf("StatusCode(plain) = %d, want 0", got)
	}
}
