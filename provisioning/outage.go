package provisioning

import (
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/deskprov/deskprov/store"
)

// StaleConfigFor bounds how long after the config generation was last read
// a phone is still answered with the file cached for it when the store does
// not answer. Within it, a phone that reboots during a database restart gets
// its configuration; beyond it, an admin's change made before the outage
// could be missing from what phones get for too long, so they get 503 with
// Retry-After instead (and keep the configuration they have).
const StaleConfigFor = 10 * time.Minute

// outage remembers when the generation was last read, and whether cached
// files are being served in its place, so that the log says so once when it
// starts and once when the store answers again, not per poll. Atomics: ok
// runs on every poll.
type outage struct {
	lastOK atomic.Int64 // UnixNano of the last successful read
	stale  atomic.Bool
}

// ok records a successful read of the generation.
func (o *outage) ok(now time.Time) {
	o.lastOK.Store(now.UnixNano())
	if o.stale.Load() && o.stale.CompareAndSwap(true, false) {
		slog.Default().Info("the store answers again: phone configs are rendered from it as before")
	}
}

// fallback returns the cached file f for a poll whose generation read failed
// with err, when err means the store is unavailable, f exists and the
// generation was read within StaleConfigFor; nil otherwise.
func (o *outage) fallback(now time.Time, f *File, err error) *File {
	if f == nil || !store.IsUnavailable(err) {
		return nil
	}
	last := o.lastOK.Load()
	if last == 0 || now.Sub(time.Unix(0, last)) > StaleConfigFor {
		return nil
	}
	if o.stale.CompareAndSwap(false, true) {
		lastOK := time.Unix(0, last).UTC()
		slog.Default().Warn("the store does not answer: serving phones the configs cached before it stopped, rendered at the last config generation read",
			"generation", f.Generation, "last_read", lastOK.Format(time.RFC3339), "until", lastOK.Add(StaleConfigFor).Format(time.RFC3339), "err", err)
	}
	return f
}

// cachedFile is the file last rendered for a poll like this one: the one the
// answer cache holds for it, or the rendered-file cache's. The site of the
// phone cannot be read while the store is out, so the rendered cache (keyed
// by site) is asked only when there are no sites: an answer evicted from the
// answer cache must not be replaced by another site's file.
func (s *Service) cachedFile(known answerSeen) *File {
	if known.file != nil {
		return known.file
	}
	if s.Sites != nil {
		return nil
	}
	dev := known.dev
	if !known.e.PerDevice {
		dev.MAC, dev.Serial = "", ""
	}
	f, _ := s.rendered.Get(renderKey{template: known.e.Template, name: known.e.Name, dev: dev})
	return f
}

// pollSkippable reports whether the firmware poll's failure err may be let
// pass: the loop guard and rollouts only miss one poll of this phone while
// the store does not answer, and the phone still gets its file.
func pollSkippable(err error) bool { return store.IsUnavailable(err) }
