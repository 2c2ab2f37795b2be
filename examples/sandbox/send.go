package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/itsmbridge/itsmbridge/core/auth/entratest"
)

// TokenRequest says which action group token to ask the stand-in for.
type TokenRequest struct {
	EntraURL string // base URL of the Entra ID stand-in (its authority)
	Tenant   string
	Audience string
	V1       bool // a v1 token (iss sts.windows.net, appid) instead of v2
}

// FetchToken asks the Entra ID stand-in at r.EntraURL for a token shaped
// like an Azure Monitor action group's (POST /_entra/token): the stand-in
// runs in another process, so it signs with its own published key.
func FetchToken(ctx context.Context, client *http.Client, r TokenRequest) (string, error) {
	if r.EntraURL == "" || r.Tenant == "" || r.Audience == "" {
		return "", fmt.Errorf("token: need the Entra URL, a tenant and an audience")
	}
	tok, err := entratest.FetchToken(ctx, client, r.EntraURL, entratest.TokenOptions{
		Tenant: r.Tenant, Audience: r.Audience, V1: r.V1,
	})
	if err != nil {
		return "", fmt.Errorf("getting a token from the Entra ID stand-in (is `itsmbridge-sandbox serve` running?): %w", err)
	}
	return tok, nil
}

// Response is the answer to one posted payload.
type Response struct {
	Status int
	Body   []byte
}

// OK reports a 2xx status.
func (r Response) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Summary is "202 Accepted {…}" on one line, the body shortened.
func (r Response) Summary() string {
	body := strings.Join(strings.Fields(string(r.Body)), " ")
	if len(body) > 240 {
		body = body[:240] + "…"
	}
	s := fmt.Sprintf("%d %s", r.Status, http.StatusText(r.Status))
	if body != "" {
		s += " " + body
	}
	return s
}

// Post sends one alert payload to url with the bearer token, as an action
// group does (POST, application/json).
func Post(ctx context.Context, client *http.Client, url, token string, payload []byte) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return Response{}, fmt.Errorf("POST %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Response{}, fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return Response{}, fmt.Errorf("POST %s: reading response: %w", url, err)
	}
	return Response{Status: resp.StatusCode, Body: body}, nil
}

func runSend(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: itsmbridge-sandbox send [-entra URL] [-tenant T] [-audience A] [-v1] [-to URL] FILE…")
		fmt.Fprintf(stderr, "FILE is a path, or %sNAME for an embedded official sample: %s\n", samplePrefix, strings.Join(sampleNames(), ", "))
		fs.PrintDefaults()
	}
	var r TokenRequest
	fs.StringVar(&r.EntraURL, "entra", "http://"+defaultEntraAddr, "URL of the Entra ID stand-in (itsmbridge-sandbox serve)")
	fs.StringVar(&r.Tenant, "tenant", defaultTenant, "tenant id (tid) of the token")
	fs.StringVar(&r.Audience, "audience", defaultAudience, "audience (aud) of the token: the app registration's id URI or client id")
	fs.BoolVar(&r.V1, "v1", false, "send a v1 token (iss https://sts.windows.net/{tid}/, appid) instead of v2")
	to := fs.String("to", defaultIngress, "ingress URL of the bridge's source")
	timeout := fs.Duration("timeout", 15*time.Second, "timeout of each request")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitFailed
	}
	payloads := make([][]byte, fs.NArg())
	for i, f := range fs.Args() {
		b, err := readPayload(f)
		if err != nil {
			fmt.Fprintf(stderr, "itsmbridge-sandbox send: %s: %v\n", f, err)
			return exitFailed
		}
		payloads[i] = b
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	client := &http.Client{Timeout: *timeout}
	tok, err := FetchToken(ctx, client, r)
	if err != nil {
		fmt.Fprintf(stderr, "itsmbridge-sandbox send: %v\n", err)
		return exitRuntime
	}
	code := exitOK
	for i, f := range fs.Args() {
		resp, err := Post(ctx, client, *to, tok, payloads[i])
		if err != nil {
			fmt.Fprintf(stdout, "%s → error: %v\n", f, err)
			code = exitFailed
			continue
		}
		fmt.Fprintf(stdout, "%s → %s\n", f, resp.Summary())
		if !resp.OK() {
			code = exitFailed
		}
	}
	return code
}
