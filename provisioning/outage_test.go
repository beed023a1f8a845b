package provisioning

import (
	"errors"
	"syscall"
	"testing"
	"time"
)

func TestCachedConfigIsServedDuringAnOutageOnlyWithinItsBound(t *testing.T) {
	var o outage
	f := &File{Name: "000000000000.cfg", Generation: 7}
	down := errors.Join(errors.New("read the generation"), syscall.ECONNREFUSED)
	t0 := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	if got := o.fallback(t0, f, down); got != nil {
		t.Fatal("served a cached file before the generation was ever read")
	}
	o.ok(t0)
	if got := o.fallback(t0.Add(StaleConfigFor), f, down); got != f {
		t.Fatal("did not serve the cached file within the bound")
	}
	if got := o.fallback(t0.Add(StaleConfigFor+time.Second), f, down); got != nil {
		t.Fatal("served the cached file past the bound")
	}
	if got := o.fallback(t0.Add(time.Second), f, errors.New("template: bad")); got != nil {
		t.Fatal("served the cached file for an error that is not an outage")
	}
	if got := o.fallback(t0.Add(time.Second), nil, down); got != nil {
		t.Fatal("served a file it did not have")
	}
	o.ok(t0.Add(StaleConfigFor + time.Minute))
	if o.stale.Load() {
		t.Fatal("still marked stale after the store answered")
	}
	if got := o.fallback(t0.Add(StaleConfigFor+2*time.Minute), f, down); got != f {
		t.Fatal("the bound did not restart from the last successful read")
	}
}
