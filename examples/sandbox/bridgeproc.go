package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"
)

// bridgeProc is `itsmbridge serve` running as a child process.
type bridgeProc struct {
	cmd     *exec.Cmd
	stderr  *tailBuffer
	stdout  *lineWatcher
	exited  chan struct{} // closed when the process has exited
	waitErr error         // set before exited is closed

	// Ingress and Admin are the base URLs ("http://host:port") the bridge
	// printed when it started listening.
	Ingress, Admin string
}

// listeningLine is what `itsmbridge serve` prints once it listens.
var listeningLine = regexp.MustCompile(`itsmbridge listening: ingress (http://\S+)\s+admin (http://\S+)`)

// startBridge starts `bin serve -config cfg` with its output going to log
// (and stderr also to a tail kept for error messages).
func startBridge(bin, cfg string, log io.Writer) (*bridgeProc, error) {
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("the bridge binary %s is missing (run `make build`): %w", bin, err)
	}
	p := &bridgeProc{
		stderr: newTailBuffer(40),
		stdout: newLineWatcher(listeningLine),
		exited: make(chan struct{}),
	}
	cmd := exec.Command(bin, "serve", "-config", cfg)
	cmd.Stdout = io.MultiWriter(log, p.stdout)
	cmd.Stderr = io.MultiWriter(log, p.stderr)
	cmd.WaitDelay = 2 * time.Second // do not hang on pipes a grandchild holds
	isolate(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p.cmd = cmd
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// failure describes why the bridge is not usable, with its stderr tail.
func (p *bridgeProc) failure(what string) error {
	msg := what
	select {
	case <-p.exited:
		msg = fmt.Sprintf("%s: the bridge exited (%v)", what, p.waitErr)
	default:
	}
	if tail := p.stderr.String(); tail != "" {
		msg += "\n--- bridge stderr (last lines) ---\n" + tail
	}
	return errors.New(msg)
}

// waitListening waits for the "listening" line and reads the URLs from it.
func (p *bridgeProc) waitListening(ctx context.Context) error {
	select {
	case m := <-p.stdout.match:
		p.Ingress, p.Admin = m[1], m[2]
		return nil
	case <-p.exited:
		return p.failure("starting the bridge")
	case <-ctx.Done():
		return p.failure(fmt.Sprintf("the bridge did not start listening: %v", ctx.Err()))
	}
}

// waitReady polls GET /readyz until it answers 200.
func (p *bridgeProc) waitReady(ctx context.Context, client *http.Client) error {
	last := "no answer yet"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Admin+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			var r struct {
				Reason string `json:"reason"`
			}
			if json.Unmarshal(body, &r) == nil && r.Reason != "" {
				last = r.Reason
			} else {
				last = fmt.Sprintf("%d %s", resp.StatusCode, bytes.TrimSpace(body))
			}
		} else {
			last = err.Error()
		}
		select {
		case <-p.exited:
			return p.failure("waiting for /readyz")
		case <-ctx.Done():
			return p.failure(fmt.Sprintf("the bridge is not ready (%s): %v", last, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop asks the bridge to drain and exit (SIGTERM), then kills its whole
// process group after grace — also if it exited, in case a plugin lingers.
func (p *bridgeProc) stop(grace time.Duration) {
	select {
	case <-p.exited:
	default:
		_ = terminate(p.cmd)
		select {
		case <-p.exited:
		case <-time.After(grace):
		}
	}
	_ = killGroup(p.cmd)
	<-p.exited
}

// tailBuffer keeps the last n lines written to it.
type tailBuffer struct {
	mu      sync.Mutex
	n       int
	lines   []string
	partial []byte
}

func newTailBuffer(n int) *tailBuffer { return &tailBuffer{n: n} }

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, b...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, string(t.partial[:i]))
		t.partial = t.partial[i+1:]
		if len(t.lines) > t.n {
			t.lines = t.lines[len(t.lines)-t.n:]
		}
	}
	return len(b), nil
}

// String returns the kept lines (and an unfinished last line).
func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := strings.Join(t.lines, "\n")
	if len(t.partial) > 0 {
		if out != "" {
			out += "\n"
		}
		out += string(t.partial)
	}
	return out
}

// lineWatcher sends the submatches of the first line matching re.
type lineWatcher struct {
	re      *regexp.Regexp
	match   chan []string
	mu      sync.Mutex
	partial []byte
	found   bool
}

func newLineWatcher(re *regexp.Regexp) *lineWatcher {
	return &lineWatcher{re: re, match: make(chan []string, 1)}
}

func (w *lineWatcher) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.found {
		return len(b), nil
	}
	w.partial = append(w.partial, b...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := string(w.partial[:i])
		w.partial = w.partial[i+1:]
		if m := w.re.FindStringSubmatch(line); m != nil {
			w.found = true
			w.partial = nil
			w.match <- m
			break
		}
	}
	return len(b), nil
}
