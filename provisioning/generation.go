package provisioning

import (
	"context"
	"sync"
	"time"
)

// genReads coalesces concurrent reads of the config generation without ever
// answering stale: a caller joins the next read that starts after it
// arrived, never one already in flight. Under load, polls arriving together
// share one store read; alone, a poll reads once as before.
type genReads struct {
	read    func(ctx context.Context) (int64, error)
	mu      sync.Mutex
	pending *genBatch
	running bool
}

type genBatch struct {
	done    chan struct{}
	val     int64
	err     error
	waiters int
}

// readTimeout bounds one shared read (it does not follow any one caller's
// context, since several callers wait on it).
const readTimeout = 5 * time.Second

func (g *genReads) get(ctx context.Context) (int64, error) {
	g.mu.Lock()
	if g.pending == nil {
		g.pending = &genBatch{done: make(chan struct{})}
	}
	b := g.pending
	b.waiters++
	if !g.running {
		g.running = true
		go g.loop()
	}
	g.mu.Unlock()
	select {
	case <-b.done:
		return b.val, b.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// loop runs batches one after another while callers are waiting. A batch is
// taken (and new callers start a fresh one) just before its read begins, so
// every caller in it arrived before the read.
func (g *genReads) loop() {
	for {
		g.mu.Lock()
		b := g.pending
		g.pending = nil
		if b == nil {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
		b.val, b.err = g.read(ctx)
		cancel()
		close(b.done)
	}
}
