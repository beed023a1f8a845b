package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestServeRefusesAnInventoryFlushOutOfRange: --inventory-flush bounds how
// late the inventory is; under 1 s would write the store nearly per poll,
// over 1 m would leave it stale for long.
func TestServeRefusesAnInventoryFlushOutOfRange(t *testing.T) {
	for _, d := range []time.Duration{500 * time.Millisecond, 2 * time.Minute} {
		o := serveOptions{Listen: "127.0.0.1:0", DataDir: t.TempDir(), LogLevel: "info", LogFormat: "text", InventoryFlush: d}
		err := serve(context.Background(), o, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--inventory-flush") {
			t.Fatalf("--inventory-flush %s: %v", d, err)
		}
	}
}
