package wake

import (
	"context"
	"sync"
)

// Hub delivers coalesced per-key signals. The zero value is ready to use.
type Hub struct {
	mu       sync.Mutex
	watchers map[string]map[chan struct{}]struct{}
}

// Watch returns a channel signalled by Signal(key); it is closed when ctx ends.
func (h *Hub) Watch(ctx context.Context, key string) <-chan struct{} {
	ch := make(chan struct{}, 1)
	h.mu.Lock()
	if h.watchers == nil {
		h.watchers = make(map[string]map[chan struct{}]struct{})
	}
	if h.watchers[key] == nil {
		h.watchers[key] = make(map[chan struct{}]struct{})
	}
	h.watchers[key][ch] = struct{}{}
	h.mu.Unlock()
	go func() {
		<-ctx.Done()
		h.mu.Lock()
		delete(h.watchers[key], ch)
		if len(h.watchers[key]) == 0 {
			delete(h.watchers, key)
		}
		close(ch)
		h.mu.Unlock()
	}()
	return ch
}

// Signal wakes every watcher of key without blocking (signals coalesce).
func (h *Hub) Signal(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch := range h.watchers[key] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
