package wake

import (
	"context"
	"testing"
)

func TestHub(t *testing.T) {
	var h Hub
	ctx, cancel := context.WithCancel(context.Background())
	a, b := h.Watch(ctx, "servicenow.prod"), h.Watch(context.Background(), "jira.ops")

	h.Signal("servicenow.prod")
	h.Signal("servicenow.prod") // coalesces: Signal never blocks
	if _, ok := <-a; !ok {
		t.Fatal("watcher channel closed, want a signal")
	}
	select {
	case <-a:
		t.Fatal("two signals delivered, want them coalesced into one")
	case <-b:
		t.Fatal("a signal for another key reached jira.ops")
	default:
	}
	cancel()
	for range a { // closed once ctx ends
	}
	h.mu.Lock()
	n := len(h.watchers["servicenow.prod"])
	h.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d watchers left after cancel, want 0", n)
	}
	h.Signal("unwatched") // no watchers: no-op
}
