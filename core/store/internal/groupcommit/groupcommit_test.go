package groupcommit

import (
	"slices"
	"testing"
)

// TestCollect: what queues up while a batch commits forms the next batch
// (up to max), and closing ends the loop between batches.
func TestCollect(t *testing.T) {
	in, closing := make(chan int, 10), make(chan struct{})
	batches := make(chan []int, 10)
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		Collect(in, closing, 3, 0, func(b []int) {
			batches <- slices.Clone(b)
			if b[0] == 0 {
				<-release // a slow first commit: 1..4 queue up meanwhile
			}
		})
	}()
	in <- 0
	if got := <-batches; !slices.Equal(got, []int{0}) {
		t.Fatalf("first batch = %v, want [0]", got)
	}
	for i := 1; i <= 4; i++ {
		in <- i
	}
	close(release)
	for _, want := range [][]int{{1, 2, 3}, {4}} {
		if got := <-batches; !slices.Equal(got, want) {
			t.Fatalf("batch = %v, want %v", got, want)
		}
	}
	close(closing)
	<-done // Collect returns once closing is closed
}
