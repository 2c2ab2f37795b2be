package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/core/auth/entratest"
	cherwell "github.com/itsmbridge/itsmbridge/plugins/cherwell/emulator"
	jira "github.com/itsmbridge/itsmbridge/plugins/jira/emulator"
	servicenow "github.com/itsmbridge/itsmbridge/plugins/servicenow/emulator"
)

// The sandbox's default addresses; the top-level config.hcl points at them.
const (
	defaultEntraAddr      = "127.0.0.1:18400"
	defaultServiceNowAddr = "127.0.0.1:18401"
	defaultJiraAddr       = "127.0.0.1:18402"
	defaultCherwellAddr   = "127.0.0.1:18403"
)

// The sandbox tenant and audience (config.hcl's azure_ad block), and the
// default ingress URL.
const (
	defaultTenant   = "00000000-0000-0000-0000-00000000a2e1"
	defaultAudience = "api://itsmbridge"
	defaultIngress  = "http://127.0.0.1:8080/webhooks/azure"
)

// demoGroups are ServiceNow assignment groups config.hcl names that the
// emulator does not seed itself.
var demoGroups = []string{"App Team"}

// Addrs are the listen addresses of the sandbox servers. "127.0.0.1:0"
// picks a free port.
type Addrs struct {
	Entra, ServiceNow, Jira, Cherwell string
}

// DefaultAddrs are the addresses config.hcl uses.
var DefaultAddrs = Addrs{defaultEntraAddr, defaultServiceNowAddr, defaultJiraAddr, defaultCherwellAddr}

func (a *Addrs) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.Entra, "entra", defaultEntraAddr, "listen address of the Entra ID stand-in")
	fs.StringVar(&a.ServiceNow, "servicenow", defaultServiceNowAddr, "listen address of the ServiceNow emulator")
	fs.StringVar(&a.Jira, "jira", defaultJiraAddr, "listen address of the Jira emulator")
	fs.StringVar(&a.Cherwell, "cherwell", defaultCherwellAddr, "listen address of the Cherwell emulator")
}

// Sandbox is the running set of stand-ins: the Entra ID stand-in and the
// three vendor emulators, each on its own listener, serving at the root.
type Sandbox struct {
	Entra      *entratest.Server
	ServiceNow *servicenow.Emulator
	Jira       *jira.Emulator
	Cherwell   *cherwell.Emulator

	// Base URLs ("http://host:port") of each server, as it listens.
	EntraURL, ServiceNowURL, JiraURL, CherwellURL string

	servers []*http.Server
	done    chan error
}

// service is one server to start.
type service struct {
	name, addr string
	handler    http.Handler
	url        *string
}

// BusyError reports a listen address that is already in use.
type BusyError struct {
	Name, Addr string
	Err        error
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%s: address %s is busy (is another sandbox, demo or bridge running?): %v", e.Name, e.Addr, e.Err)
}

func (e *BusyError) Unwrap() error { return e.Err }

// listen opens addr, telling a busy port apart from other failures.
func listen(name, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, &BusyError{Name: name, Addr: addr, Err: err}
		}
		return nil, fmt.Errorf("%s: listen on %s: %w", name, addr, err)
	}
	return ln, nil
}

// StartSandbox listens on every address first (so a busy port fails before
// anything runs, naming the port), then serves. Close stops it.
func StartSandbox(addrs Addrs, logger hclog.Logger) (*Sandbox, error) {
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	s := &Sandbox{
		Entra:      entratest.New(),
		ServiceNow: servicenow.New(servicenow.Options{SeedDemo: true, IncidentColumns: []string{"u_environment"}, Logger: logger.Named("servicenow")}),
		Jira:       jira.New(jira.Options{Logger: logger.Named("jira")}),
		Cherwell:   cherwell.New(cherwell.Options{Logger: logger.Named("cherwell")}),
		done:       make(chan error, 4),
	}
	// config.hcl's production route assigns test-rg alerts to "App Team";
	// the emulator seeds ServiceNow's usual groups but not that one.
	for _, g := range demoGroups {
		if _, err := s.ServiceNow.SeedRecord("sys_user_group", map[string]string{"name": g, "active": "true"}); err != nil {
			return nil, fmt.Errorf("seeding ServiceNow group %q: %w", g, err)
		}
	}
	svcs := []service{
		{"Entra ID stand-in", addrs.Entra, s.Entra.Handler(), &s.EntraURL},
		{"ServiceNow emulator", addrs.ServiceNow, s.ServiceNow, &s.ServiceNowURL},
		{"Jira emulator", addrs.Jira, s.Jira, &s.JiraURL},
		{"Cherwell emulator", addrs.Cherwell, s.Cherwell, &s.CherwellURL},
	}
	lns := make([]net.Listener, 0, len(svcs))
	for _, sv := range svcs {
		ln, err := listen(sv.name, sv.addr)
		if err != nil {
			for _, l := range lns {
				_ = l.Close()
			}
			return nil, err
		}
		lns = append(lns, ln)
		*sv.url = "http://" + ln.Addr().String()
	}
	s.Entra.SetAuthority(s.EntraURL)
	for i, sv := range svcs {
		srv := &http.Server{
			Handler:           sv.handler,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          logger.Named("http").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true}),
		}
		s.servers = append(s.servers, srv)
		go func(name string, ln net.Listener) {
			err := srv.Serve(ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			} else if err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
			s.done <- err
		}(sv.name, lns[i])
	}
	return s, nil
}

// Failed yields an error when a server stops on its own (and nil for each
// server Close stopped).
func (s *Sandbox) Failed() <-chan error { return s.done }

// Close stops every server, waiting for in-flight requests up to ctx.
func (s *Sandbox) Close(ctx context.Context) error {
	var errs []error
	for _, srv := range s.servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
			_ = srv.Close()
		}
	}
	return errors.Join(errs...)
}

// PrintBanner writes the URLs and the credentials the sandbox accepts.
func (s *Sandbox) PrintBanner(w io.Writer) {
	fmt.Fprintf(w, `itsmbridge-sandbox: serving
  Entra ID stand-in    %[1]s   (authority; any tenant)
      discovery        %[1]s/{tenant}/v2.0/.well-known/openid-configuration  (v1: %[1]s/{tenant}/.well-known/openid-configuration)
      token            POST %[1]s/_entra/token  {"tenant":"%[5]s","audience":"%[6]s"}
      key rotation     POST %[1]s/_entra/rotate  (?keep=true keeps the old key published)
  ServiceNow           %[2]s   user sandbox / password sandbox (role itil); OAuth client sandbox / sandbox
  Jira Cloud + JSM     %[3]s   user sandbox (or sandbox@example.com) / API token sandbox; project OPS
  Cherwell             %[4]s/CherwellAPI   client id sandbox, user sandbox / password sandbox
  Emulator control     <emulator URL>/_emulator/  (reset, faults, calls, tickets?correlation=KEY)
`, s.EntraURL, s.ServiceNowURL, s.JiraURL, s.CherwellURL, defaultTenant, defaultAudience)
}

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var addrs Addrs
	addrs.flags(fs)
	level := fs.String("log-level", "info", "log level: trace, debug (one line per emulator request), info, warn, error")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "itsmbridge-sandbox serve: unexpected arguments %q\n", fs.Args())
		return exitFailed
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "sandbox", Level: hclog.LevelFromString(*level), Output: stderr})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return serve(ctx, addrs, logger, stdout, stderr)
}

// serve runs the sandbox until ctx ends.
func serve(ctx context.Context, addrs Addrs, logger hclog.Logger, stdout, stderr io.Writer) int {
	sb, err := StartSandbox(addrs, logger)
	if err != nil {
		fmt.Fprintf(stderr, "itsmbridge-sandbox: %v\n", err)
		return exitRuntime
	}
	sb.PrintBanner(stdout)
	fmt.Fprintln(stdout, "Press Ctrl-C to stop.")
	code := exitOK
	select {
	case <-ctx.Done():
	case err := <-sb.Failed():
		if err != nil {
			fmt.Fprintf(stderr, "itsmbridge-sandbox: %v\n", err)
			code = exitRuntime
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sb.Close(sctx); err != nil {
		fmt.Fprintf(stderr, "itsmbridge-sandbox: stopping: %v\n", err)
	}
	fmt.Fprintln(stdout, "itsmbridge-sandbox: stopped")
	return code
}
