package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/time/rate"
)

// Bounds of a load run: it is a benchmark tool, not a weapon.
const (
	maxLoadDuration    = 10 * time.Minute
	maxLoadDistinct    = 1_000_000
	maxLoadConnections = 1024
)

// loadOptions are the load command's flags.
type loadOptions struct {
	To          string
	Token       TokenRequest
	Rate        float64 // requests per second; 0 = as fast as the target answers
	Duration    time.Duration
	Connections int
	Distinct    int     // distinct alerts fired; the run ends when all are sent
	Duplicates  float64 // share of requests that repeat an earlier delivery
	Resolves    float64 // share of requests that resolve an alert fired earlier
	Baseline    bool
	Drain       string // admin URL: wait until the bridge finished every delivery
}

func runLoad(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o loadOptions
	fs.StringVar(&o.To, "to", defaultIngress, "ingress URL (loopback only)")
	fs.StringVar(&o.Token.EntraURL, "entra", "http://"+defaultEntraAddr, "URL of the Entra ID stand-in (loopback only); the token is fetched once")
	fs.StringVar(&o.Token.Tenant, "tenant", defaultTenant, "tenant id of the token")
	fs.StringVar(&o.Token.Audience, "audience", defaultAudience, "audience of the token")
	fs.BoolVar(&o.Token.V1, "v1", false, "use a v1 token")
	rateFlag := fs.String("rate", "max", "requests per second, or max")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "longest run time (at most 10m)")
	fs.IntVar(&o.Connections, "connections", 64, "concurrent keep-alive connections")
	fs.IntVar(&o.Distinct, "distinct", 10000, "distinct alerts to fire (alert ids unique per run); the run ends when all are sent")
	fs.Float64Var(&o.Duplicates, "duplicates", 0.1, "share of requests that repeat an earlier delivery (expect 200)")
	fs.Float64Var(&o.Resolves, "resolves", 0.2, "share of requests that resolve an alert fired earlier")
	fs.BoolVar(&o.Baseline, "baseline", false, "first run the same load against a bare net/http handler in this process, and print the ratio")
	fs.StringVar(&o.Drain, "drain", "", "the bridge's admin URL: after the load, wait until every delivery is done and report the time (end to end)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if err := o.parseRate(*rateFlag); err != nil {
		fmt.Fprintf(stderr, "itsmbridge-sandbox load: %v\n", err)
		return exitFailed
	}
	if err := o.validate(); err != nil {
		fmt.Fprintf(stderr, "itsmbridge-sandbox load: %v\n", err)
		return exitFailed
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := load(ctx, o, stdout); err != nil {
		fmt.Fprintf(stderr, "itsmbridge-sandbox load: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

func (o *loadOptions) parseRate(s string) error {
	if s == "max" || s == "0" {
		o.Rate = 0
		return nil
	}
	r, err := strconv.ParseFloat(s, 64)
	if err != nil || r <= 0 {
		return fmt.Errorf("-rate must be a positive number or max, not %q", s)
	}
	o.Rate = r
	return nil
}

func (o *loadOptions) validate() error {
	var errs []error
	for _, u := range []struct{ flag, url string }{{"-to", o.To}, {"-entra", o.Token.EntraURL}, {"-drain", o.Drain}} {
		if u.url == "" && u.flag == "-drain" {
			continue
		}
		if err := loopbackURL(u.url); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u.flag, err))
		}
	}
	if o.Duration <= 0 || o.Duration > maxLoadDuration {
		errs = append(errs, fmt.Errorf("-duration must be in (0, %s]", maxLoadDuration))
	}
	if o.Connections < 1 || o.Connections > maxLoadConnections {
		errs = append(errs, fmt.Errorf("-connections must be 1..%d", maxLoadConnections))
	}
	if o.Distinct < 1 || o.Distinct > maxLoadDistinct {
		errs = append(errs, fmt.Errorf("-distinct must be 1..%d", maxLoadDistinct))
	}
	if o.Duplicates < 0 || o.Resolves < 0 || o.Duplicates+o.Resolves >= 0.9 {
		errs = append(errs, errors.New("-duplicates and -resolves must be ≥ 0 and together below 0.9"))
	}
	return errors.Join(errs...)
}

// loopbackURL accepts only http(s) URLs on a loopback host.
func loopbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: want an http:// or https:// URL", raw)
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%q: only loopback targets (127.0.0.1, ::1, localhost) are allowed", raw)
}

// load runs the load (and the baseline first) and prints the report.
func load(ctx context.Context, o loadOptions, w io.Writer) error {
	client := &http.Client{Timeout: 15 * time.Second}
	tok, err := FetchToken(ctx, client, o.Token)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "load: %s, %d connections, up to %d distinct alerts (%.0f%% duplicates, %.0f%% resolves), at most %s\n",
		rateString(o.Rate), o.Connections, o.Distinct, 100*o.Duplicates, 100*o.Resolves, o.Duration)
	var base *loadResult
	if o.Baseline {
		url, stop, err := startBaseline()
		if err != nil {
			return err
		}
		base, err = runLoadOnce(ctx, o, url, tok)
		stop()
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		base.print(w, "baseline (bare net/http handler in this process)")
	}
	res, err := runLoadOnce(ctx, o, o.To, tok)
	if err != nil {
		return err
	}
	res.print(w, o.To)
	if base != nil {
		fmt.Fprintf(w, "ratio: %.3f of the baseline's throughput; latency p50 %.1f×, p99 %.1f× the baseline's\n",
			ratio(res.ackedPerSec(), base.ackedPerSec()),
			ratio(float64(res.percentile(50)), float64(base.percentile(50))),
			ratio(float64(res.percentile(99)), float64(base.percentile(99))))
	}
	if o.Drain != "" {
		admin := &adminClient{base: strings.TrimRight(o.Drain, "/"), client: client}
		dctx, cancel := context.WithTimeout(ctx, maxLoadDuration)
		defer cancel()
		if _, err := settle(dctx, admin, nil); err != nil {
			return fmt.Errorf("waiting for the deliveries: %w", err)
		}
		st, err := admin.stats(ctx)
		if err != nil {
			return err
		}
		total := time.Since(res.started)
		fmt.Fprintf(w, "end to end: every delivery finished %s after the first request (%s after the last ack): %d done, %d dead; %.1f alerts/s end to end\n",
			total.Round(time.Millisecond), time.Since(res.ended).Round(time.Millisecond), st.Done, st.Dead,
			float64(res.acked202)/total.Seconds())
	}
	return nil
}

func rateString(r float64) string {
	if r == 0 {
		return "rate max"
	}
	return fmt.Sprintf("rate %g/s", r)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// startBaseline serves a bare handler that does the least an ingress must:
// read the body and answer 202.
func startBaseline() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("baseline: %w", err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil || r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"accepted"}`))
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/webhooks/azure", func() { _ = srv.Close() }, nil
}

// loadResult is what one run measured.
type loadResult struct {
	started, ended  time.Time
	requests        int
	acked, acked202 int
	byStatus        map[int]int
	errors          map[string]int
	latencies       []time.Duration // sorted
}

func (r *loadResult) elapsed() time.Duration { return r.ended.Sub(r.started) }

func (r *loadResult) ackedPerSec() float64 {
	if s := r.elapsed().Seconds(); s > 0 {
		return float64(r.acked) / s
	}
	return 0
}

func (r *loadResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.latencies))*p/100+0.5) - 1
	return r.latencies[max(0, min(i, len(r.latencies)-1))]
}

func (r *loadResult) print(w io.Writer, target string) {
	fmt.Fprintf(w, "%s\n  %d requests in %s: %.1f acked/s (2xx)\n", target, r.requests, r.elapsed().Round(time.Millisecond), r.ackedPerSec())
	codes := make([]int, 0, len(r.byStatus))
	for c := range r.byStatus {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d: %d", c, r.byStatus[c]))
	}
	fmt.Fprintf(w, "  status  %s\n", strings.Join(parts, "  "))
	if len(r.errors) > 0 {
		var errs []string
		for e, n := range r.errors {
			errs = append(errs, fmt.Sprintf("%s: %d", e, n))
		}
		sort.Strings(errs)
		fmt.Fprintf(w, "  errors  %s\n", strings.Join(errs, "; "))
	}
	if len(r.latencies) > 0 {
		fmt.Fprintf(w, "  latency p50 %s  p90 %s  p99 %s  max %s\n", durStr(r.percentile(50)), durStr(r.percentile(90)),
			durStr(r.percentile(99)), durStr(r.latencies[len(r.latencies)-1]))
	}
}

func durStr(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}

// runLoadOnce posts the load to target with C workers until the generator
// is exhausted or the duration is over.
func runLoadOnce(ctx context.Context, o loadOptions, target, token string) (*loadResult, error) {
	gen, err := newGenerator(o.Distinct, o.Duplicates, o.Resolves)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		MaxIdleConns: o.Connections, MaxIdleConnsPerHost: o.Connections, MaxConnsPerHost: o.Connections,
		IdleConnTimeout: 30 * time.Second, DisableCompression: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	var lim *rate.Limiter
	if o.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(o.Rate), 1)
	}
	rctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()

	type workerResult struct {
		lat      []time.Duration
		byStatus map[int]int
		errors   map[string]int
	}
	results := make([]workerResult, o.Connections)
	res := &loadResult{started: time.Now(), byStatus: map[int]int{}, errors: map[string]int{}}
	var wg sync.WaitGroup
	for i := range o.Connections {
		wg.Add(1)
		go func(wr *workerResult) {
			defer wg.Done()
			wr.byStatus, wr.errors = map[int]int{}, map[string]int{}
			for rctx.Err() == nil {
				if lim != nil && lim.Wait(rctx) != nil {
					return
				}
				body, ok := gen.next()
				if !ok {
					return
				}
				t0 := time.Now()
				status, err := postLoad(rctx, client, target, token, body)
				if rctx.Err() != nil && err != nil {
					return // cut off by the end of the run: not an error of the target
				}
				wr.lat = append(wr.lat, time.Since(t0))
				if err != nil {
					wr.errors[errorClass(err)]++
					continue
				}
				wr.byStatus[status]++
			}
		}(&results[i])
	}
	wg.Wait()
	res.ended = time.Now()
	for _, wr := range results {
		res.latencies = append(res.latencies, wr.lat...)
		for c, n := range wr.byStatus {
			res.byStatus[c] += n
			res.requests += n
			if c >= 200 && c < 300 {
				res.acked += n
			}
			if c == http.StatusAccepted {
				res.acked202 += n
			}
		}
		for e, n := range wr.errors {
			res.errors[e] += n
			res.requests += n
		}
	}
	slices.Sort(res.latencies)
	return res, nil
}

// postLoad posts one body and drains the answer so the connection is reused.
func postLoad(ctx context.Context, client *http.Client, target, token string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// errorClass groups transport errors for the report.
func errorClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "other: " + err.Error()
}

// generator makes the request bodies of a run: new alerts (unique ids per
// run), exact repeats of earlier deliveries, and resolves of alerts fired
// earlier. It is safe for concurrent use.
type generator struct {
	mu         sync.Mutex
	rnd        *mrand.Rand
	fired      payloadTemplate
	resolved   payloadTemplate
	distinct   int
	nextAlert  int
	open       []int     // fired, not yet resolved
	sent       []sentRef // every delivery so far, for repeats
	duplicates float64
	resolves   float64
}

type sentRef struct {
	alert    int
	resolved bool
}

// payloadTemplate is a payload split around its alert id.
type payloadTemplate struct {
	prefix, suffix []byte
	runID          string
}

// render is the payload of alert n. Its id is a GUID derived from the run
// and n, random-looking as Azure's are (sequential ids would flatter the
// bridge's alert-id index) and the same for every event of alert n.
func (t payloadTemplate) render(n int) []byte {
	sum := sha256.Sum256([]byte(t.runID + "-" + strconv.Itoa(n)))
	h := hex.EncodeToString(sum[:16])
	id := h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32] // version 4, variant 1
	out := make([]byte, 0, len(t.prefix)+len(id)+len(t.suffix))
	out = append(out, t.prefix...)
	out = append(out, id...)
	return append(out, t.suffix...)
}

// alertIDPlaceholder marks where the alert id goes in a template.
const alertIDPlaceholder = "ALERT-ID-PLACEHOLDER"

func newGenerator(distinct int, duplicates, resolves float64) (*generator, error) {
	raw, err := sample(sampleMetric)
	if err != nil {
		return nil, err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	run := hex.EncodeToString(b[:])
	withID := func(p []byte) (payloadTemplate, error) {
		id := []byte("/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.AlertsManagement/alerts/12345678-1234-1234-1234-1234567890ab")
		i := bytes.Index(p, id)
		if i < 0 {
			return payloadTemplate{}, errors.New("load: the sample's alert id was not found")
		}
		prefix := append([]byte(nil), p[:i]...)
		prefix = append(prefix, "/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.AlertsManagement/alerts/"...)
		return payloadTemplate{prefix: prefix, suffix: append([]byte(nil), p[i+len(id):]...), runID: run}, nil
	}
	fired, err := withID(raw)
	if err != nil {
		return nil, err
	}
	res, err := asResolved(raw)
	if err != nil {
		return nil, err
	}
	resolved, err := withID(res)
	if err != nil {
		return nil, err
	}
	return &generator{
		rnd: mrand.New(mrand.NewPCG(uint64(b[0])<<8|uint64(b[1]), 7)), fired: fired, resolved: resolved,
		distinct: distinct, duplicates: duplicates, resolves: resolves,
	}, nil
}

// next returns the next body; false when every distinct alert was fired.
func (g *generator) next() ([]byte, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.rnd.Float64()
	switch {
	case r < g.duplicates && len(g.sent) > 0:
		s := g.sent[g.rnd.IntN(len(g.sent))]
		if s.resolved {
			return g.resolved.render(s.alert), true
		}
		return g.fired.render(s.alert), true
	case r < g.duplicates+g.resolves && len(g.open) > 0:
		i := g.rnd.IntN(len(g.open))
		n := g.open[i]
		g.open[i] = g.open[len(g.open)-1]
		g.open = g.open[:len(g.open)-1]
		g.sent = append(g.sent, sentRef{alert: n, resolved: true})
		return g.resolved.render(n), true
	case g.nextAlert < g.distinct:
		n := g.nextAlert
		g.nextAlert++
		g.open = append(g.open, n)
		g.sent = append(g.sent, sentRef{alert: n})
		return g.fired.render(n), true
	}
	return nil, false
}
