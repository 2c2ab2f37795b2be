package main

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/itsmbridge/itsmbridge/plugins/jira/emulator"
	"github.com/itsmbridge/itsmbridge/sdk"
)

// clock is a settable clock shared by the emulator (search lag) and the
// plugin (ledger window), so the tests need no sleeps.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// loseResponse forwards matching requests but reports a network failure
// instead of the answer: Jira did the work, the plugin never learns it.
type loseResponse struct {
	method, path string
	mu           sync.Mutex
	lost         int
}

func (l *loseResponse) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || r.Method != l.method || r.URL.Path != l.path {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	l.mu.Lock()
	l.lost++
	l.mu.Unlock()
	return nil, errors.New("connection reset by peer (simulated)")
}

func (f *fixture) pluginWith(extra string, clk *clock, tr http.RoundTripper) *Plugin {
	f.t.Helper()
	p := NewWithLogger(hclog.NewNullLogger())
	p.now, p.transport = clk.Now, tr
	if d := f.configure(p, extra); d.HasErrors() {
		f.t.Fatalf("Configure: %s", d.Error())
	}
	return p
}

// TestSearchLag: a retry of Create while Jira's search does not show the new
// issue yet must not make a second issue — in the same process, after a
// plugin restart, and when the first create's response was lost.
func TestSearchLag(t *testing.T) {
	for _, mode := range []struct{ name, extra string }{
		{"servicedesk", ""},
		{"issue", `mode = "issue"`},
	} {
		t.Run(mode.name, func(t *testing.T) {
			clk := &clock{t: time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)}
			// Jira's index lags 20 s; the plugin assumes at most 30 s (search_lag default).
			f := newServer(t, emulator.Options{SearchLag: 20 * time.Second, Now: clk.Now})
			p1 := f.pluginWith(mode.extra, clk, nil)
			f.p = p1

			ref := f.create(p1, "lag-1")
			if keys, _ := f.emu.Search(`labels = "lag-1"`); len(keys) != 0 {
				t.Fatalf("the emulator shows the new issue to search already: %v", keys)
			}
			t.Run("retry in the same process", func(t *testing.T) {
				if r := f.create(p1, "lag-1"); r.ID != ref.ID {
					t.Fatalf("retry created %+v, want %+v", r, ref)
				}
			})
			t.Run("retry after a restart (ledger)", func(t *testing.T) {
				p2 := f.pluginWith(mode.extra, clk, nil)
				if r := f.create(p2, "lag-1"); r.ID != ref.ID {
					t.Fatalf("restarted plugin created %+v, want %+v", r, ref)
				}
				found, err := f.pluginWith(mode.extra, clk, nil).Find(ctx(t), &sdk.FindRequest{TicketKey: "lag-1"})
				if err != nil || found == nil || found.ID != ref.ID {
					t.Fatalf("Find after a restart = %+v, %v", found, err)
				}
			})
			if n := f.emu.CountTickets("lag-1"); n != 1 {
				t.Fatalf("%d issues for lag-1, want 1", n)
			}

			t.Run("concurrent retries", func(t *testing.T) {
				var wg sync.WaitGroup
				ids := make([]string, 8)
				for i := range ids {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if r, err := p1.Create(ctx(t), createReq("lag-2")); err == nil {
							ids[i] = r.ID
						} else {
							t.Errorf("concurrent Create: %v", err)
						}
					}()
				}
				wg.Wait()
				for _, id := range ids {
					if id != ids[0] {
						t.Fatalf("concurrent creates returned %v", ids)
					}
				}
				if n := f.emu.CountTickets("lag-2"); n != 1 {
					t.Fatalf("%d issues for lag-2", n)
				}
			})

			t.Run("lost response, then restart", func(t *testing.T) {
				path := "/rest/servicedeskapi/request"
				if mode.name == "issue" {
					path = "/rest/api/3/issue"
				}
				lose := &loseResponse{method: http.MethodPost, path: path}
				crashy := f.pluginWith(mode.extra, clk, lose)
				_, err := crashy.Create(ctx(t), createReq("lag-3"))
				if err == nil || !sdk.IsRetryable(err) || lose.lost != 1 {
					t.Fatalf("create with a lost response: %v (lost %d)", err, lose.lost)
				}
				if n := f.emu.CountTickets("lag-3"); n != 1 {
					t.Fatalf("Jira holds %d issues for lag-3, want the 1 whose answer was lost", n)
				}
				// A restarted plugin cannot see the issue (search lag) and does
				// not know its key (the answer was lost): it must wait, not create.
				p3 := f.pluginWith(mode.extra, clk, nil)
				clk.Add(5 * time.Second)
				_, err = p3.Create(ctx(t), createReq("lag-3"))
				kind, after := sdk.Classify(err)
				if err == nil || kind != sdk.KindRetryable || after <= 0 || after > 30*time.Second {
					t.Fatalf("retry inside the window: %v (%s, retry after %v); want retryable with the rest of search_lag", err, kind, after)
				}
				if n := f.emu.CountTickets("lag-3"); n != 1 {
					t.Fatalf("%d issues for lag-3 after the retry inside the window", n)
				}
				// The host retries after Retry-After: search shows the issue by now.
				clk.Add(after)
				r, err := p3.Create(ctx(t), createReq("lag-3"))
				if err != nil {
					t.Fatalf("retry after the window: %v", err)
				}
				if n := f.emu.CountTickets("lag-3"); n != 1 {
					t.Fatalf("%d issues for lag-3", n)
				}
				// The create was completed: the issue property is set now.
				if tk := f.ticket(r.Number); len(tk.Properties["itsmbridge"]) == 0 {
					t.Errorf("issue property missing after completion: %+v", tk)
				}
			})

			t.Run("without the ledger a restart inside the lag duplicates", func(t *testing.T) {
				// Documents the limit of search-only deduplication, the reason
				// dedup_ledger defaults to true.
				noLedger := mode.extra + "\ndedup_ledger = false"
				first := f.create(f.pluginWith(noLedger, clk, nil), "lag-4")
				second := f.create(f.pluginWith(noLedger, clk, nil), "lag-4")
				if first.ID == second.ID || f.emu.CountTickets("lag-4") != 2 {
					t.Fatalf("expected the documented duplicate: %+v %+v", first, second)
				}
			})
		})
	}
}

// TestLedgerDenied: an account that may not write its own properties falls
// back to search-only deduplication instead of failing every create.
func TestLedgerDenied(t *testing.T) {
	f := newFixture(t, emulator.Options{}, "")
	f.emu.InjectFault(emulator.Fault{Status: 403, PathPrefix: "/rest/api/3/user/properties/"})
	ref := f.create(f.p, "denied")
	if !f.p.st.ledgerOff.Load() {
		t.Error("ledger still on after a 403")
	}
	if r := f.create(f.p, "denied"); r.ID != ref.ID {
		t.Errorf("retry %+v", r)
	}
}
