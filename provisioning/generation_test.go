package provisioning

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestACallerArrivingDuringAReadGetsALaterRead(t *testing.T) {
	var value atomic.Int64
	value.Store(1)
	started := make(chan struct{}, 4)
	release := make(chan struct{})
	var reads atomic.Int64
	g := &genReads{read: func(context.Context) (int64, error) {
		v := value.Load() // the value as of the read's start
		reads.Add(1)
		started <- struct{}{}
		<-release
		return v, nil
	}}
	ctx := context.Background()
	first := make(chan int64)
	go func() { v, _ := g.get(ctx); first <- v }()
	<-started // the first read is in flight
	value.Store(2)
	second := make(chan int64)
	go func() { v, _ := g.get(ctx); second <- v }()
	genTestWaitFor(t, g, 1) // the second caller queues behind the read in flight
	release <- struct{}{}
	if v := <-first; v != 1 {
		t.Fatalf("first caller got %d, want 1", v)
	}
	<-started
	release <- struct{}{}
	if v := <-second; v != 2 {
		t.Fatalf("a caller that arrived after the bump got %d: a stale read was shared", v)
	}
	if n := reads.Load(); n != 2 {
		t.Fatalf("%d reads, want 2", n)
	}
}

func TestCallersWaitingTogetherShareOneRead(t *testing.T) {
	var reads atomic.Int64
	gate := make(chan struct{})
	started := make(chan struct{}, 8)
	g := &genReads{read: func(context.Context) (int64, error) {
		started <- struct{}{}
		<-gate
		return reads.Add(1), nil
	}}
	ctx := context.Background()
	go g.get(ctx) // occupies the first read
	<-started
	done := make(chan int64, 5)
	for i := 0; i < 5; i++ {
		go func() { v, _ := g.get(ctx); done <- v }()
	}
	genTestWaitFor(t, g, 5)
	close(gate)
	for i := 0; i < 5; i++ {
		if v := <-done; v != 2 {
			t.Fatalf("a queued caller got read #%d, want the one shared read #2", v)
		}
	}
}

// genTestWaitFor waits (bounded) until n callers wait on the next read.
func genTestWaitFor(t *testing.T, g *genReads, n int) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		g.mu.Lock()
		w := 0
		if g.pending != nil {
			w = g.pending.waiters
		}
		g.mu.Unlock()
		if w == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d callers never queued", n)
}
