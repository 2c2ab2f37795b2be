package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// freeAddrs are four loopback addresses with a free port each.
var freeAddrs = Addrs{"127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"}

func startTestSandbox(t *testing.T) *Sandbox {
	t.Helper()
	sb, err := StartSandbox(freeAddrs, nil)
	if err != nil {
		t.Fatalf("StartSandbox: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := sb.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return sb
}

// do sends a request and returns status and body.
func do(t *testing.T, method, u string, body string, hdr map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestSandboxServesEveryStandIn(t *testing.T) {
	sb := startTestSandbox(t)
	basic := map[string]string{"Authorization": "Basic c2FuZGJveDpzYW5kYm94"} // sandbox:sandbox
	tenant := defaultTenant
	cases := []struct {
		name, method, url, body string
		hdr                     map[string]string
		want                    int
		contains                string
	}{
		{"entra v2 discovery", "GET", sb.EntraURL + "/" + tenant + "/v2.0/.well-known/openid-configuration", "", nil, 200,
			`"issuer":"` + sb.EntraURL + "/" + tenant + `/v2.0"`},
		{"entra v1 discovery", "GET", sb.EntraURL + "/" + tenant + "/.well-known/openid-configuration", "", nil, 200,
			`"issuer":"https://sts.windows.net/` + tenant + `/"`},
		{"entra jwks", "GET", sb.EntraURL + "/" + tenant + "/discovery/v2.0/keys", "", nil, 200, `"kty":"RSA"`},
		{"entra token", "POST", sb.EntraURL + "/_entra/token", `{"tenant":"` + tenant + `","audience":"api://itsmbridge"}`, nil, 200, `"access_token":"`},
		{"servicenow table api", "GET", sb.ServiceNowURL + "/api/now/table/incident", "", basic, 200, `"result":[]`},
		{"servicenow needs auth", "GET", sb.ServiceNowURL + "/api/now/table/incident", "", nil, 401, ""},
		{"servicenow seeds the demo groups", "GET", sb.ServiceNowURL + "/api/now/table/sys_user_group?sysparm_query=name=App%20Team", "", basic, 200, `"name":"App Team"`},
		{"servicenow control", "GET", sb.ServiceNowURL + "/_emulator/", "", nil, 200, `servicenow`},
		{"jira myself", "GET", sb.JiraURL + "/rest/api/3/myself", "", basic, 200, `"accountId"`},
		{"jira needs auth", "GET", sb.JiraURL + "/rest/api/3/myself", "", nil, 401, ""},
		{"jira control", "GET", sb.JiraURL + "/_emulator/tickets", "", nil, 200, ""},
		{"cherwell token", "POST", sb.CherwellURL + "/CherwellAPI/token?auth_mode=Internal",
			url.Values{"grant_type": {"password"}, "client_id": {"sandbox"}, "username": {"sandbox"}, "password": {"sandbox"}}.Encode(),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 200, `"access_token"`},
		{"cherwell wrong password", "POST", sb.CherwellURL + "/CherwellAPI/token",
			url.Values{"grant_type": {"password"}, "client_id": {"sandbox"}, "username": {"sandbox"}, "password": {"nope"}}.Encode(),
			map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 400, `invalid_grant`},
		{"cherwell control", "GET", sb.CherwellURL + "/_emulator/tickets", "", nil, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := do(t, c.method, c.url, c.body, c.hdr)
			if status != c.want {
				t.Fatalf("status %d, want %d; body %s", status, c.want, body)
			}
			if c.contains != "" && !bytes.Contains(body, []byte(c.contains)) {
				t.Fatalf("body does not contain %s:\n%s", c.contains, body)
			}
		})
	}
}

func TestSandboxRotatesKeysOnRequest(t *testing.T) {
	sb := startTestSandbox(t)
	jwksKids := func() []string {
		_, body := do(t, "GET", sb.EntraURL+"/"+defaultTenant+"/discovery/v2.0/keys", "", nil)
		var doc struct {
			Keys []struct {
				Kid string `json:"kid"`
			} `json:"keys"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatalf("jwks: %v: %s", err, body)
		}
		var kids []string
		for _, k := range doc.Keys {
			kids = append(kids, k.Kid)
		}
		return kids
	}
	before := jwksKids()
	status, body := do(t, "POST", sb.EntraURL+"/_entra/rotate?keep=true", "", nil)
	if status != 200 {
		t.Fatalf("rotate: %d %s", status, body)
	}
	var rot struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(body, &rot); err != nil || rot.Kid == "" {
		t.Fatalf("rotate answer %s: %v", body, err)
	}
	after := jwksKids()
	if len(before) != 1 || len(after) != 2 || after[0] != rot.Kid || after[1] != before[0] {
		t.Fatalf("JWKS kids before %v, after rotation with keep %v (new kid %s)", before, after, rot.Kid)
	}
}

func TestStartSandboxNamesTheBusyPort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addrs := freeAddrs
	addrs.Jira = busy.Addr().String()
	_, err = StartSandbox(addrs, nil)
	var be *BusyError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want a BusyError", err)
	}
	if be.Name != "Jira emulator" || be.Addr != addrs.Jira || !strings.Contains(err.Error(), addrs.Jira) {
		t.Fatalf("err = %v, want it to name the Jira emulator's address %s", err, addrs.Jira)
	}
	// Nothing else may stay bound: the same addresses work once the port is free.
	busy.Close()
	sb, err := StartSandbox(addrs, nil)
	if err != nil {
		t.Fatalf("after freeing the port: %v", err)
	}
	_ = sb.Close(context.Background())
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServePrintsCredentialsAndStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int)
	go func() { done <- serve(ctx, freeAddrs, nil, &out, &errOut) }()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(out.String(), "Press Ctrl-C") {
		select {
		case code := <-done:
			t.Fatalf("serve exited early with %d: %s %s", code, out.String(), errOut.String())
		case <-deadline:
			t.Fatalf("no banner: %s", out.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	for _, want := range []string{"user sandbox / password sandbox", "client id sandbox", "API token sandbox", "/_entra/rotate", "/_emulator/"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("banner lacks %q:\n%s", want, out.String())
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after cancel")
	}
	if !strings.Contains(out.String(), "stopped") {
		t.Errorf("no stop message: %s", out.String())
	}
}

func TestUnknownCommandIsAUsageError(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"bogus"}, &out, &errOut); code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	if !strings.Contains(errOut.String(), `unknown command "bogus"`) || !strings.Contains(errOut.String(), "demo") {
		t.Fatalf("stderr: %s", errOut.String())
	}
}
