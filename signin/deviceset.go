package signin

import (
	"context"
	"sync/atomic"
)

// maxHeldSessions is how many signed-in phones UserOnDeviceAt keeps the MACs
// of; past it every lookup reads the store, as UserOnDevice does.
const maxHeldSessions = 65536

// heldSessions is which phones had a session at a config generation.
type heldSessions struct {
	gen  int64
	macs map[string]struct{}
	// tooMany: more phones than maxHeldSessions were signed in at gen.
	tooMany bool
}

// UserOnDeviceAt is UserOnDevice for a caller that has just read the config
// generation gen (provisioning re-rendering a phone's file). A session is
// only ever created or ended in a transaction that bumps the generation
// (signIn, endSessions), so while gen stands the phones with a session are
// the ones read at gen: a phone nobody is signed in on, most of a fleet, is
// answered without a store read. One that has a session is read as
// UserOnDevice reads it (its session may have ended with its credentials).
func (s *Service) UserOnDeviceAt(ctx context.Context, mac string, gen int64) (string, error) {
	m, err := NormalizeMAC(mac)
	if err != nil {
		return "", err
	}
	h, err := s.sessionsAt(ctx, gen)
	if err != nil {
		return "", err
	}
	if !h.tooMany {
		if _, ok := h.macs[m]; !ok {
			return "", nil
		}
	}
	return s.UserOnDevice(ctx, m)
}

// sessionsAt reads the MACs with a session once per generation. gen was read
// before this read, so what is read is at least as new as gen; an older read
// never replaces a newer generation's set.
func (s *Service) sessionsAt(ctx context.Context, gen int64) (*heldSessions, error) {
	if h := s.heldSessions.Load(); h != nil && h.gen == gen {
		return h, nil
	}
	var macs []string
	if err := s.db.WithContext(ctx).Model(&Session{}).Limit(maxHeldSessions+1).Pluck("mac", &macs).Error; err != nil {
		return nil, err
	}
	h := &heldSessions{gen: gen, tooMany: len(macs) > maxHeldSessions}
	if !h.tooMany {
		h.macs = make(map[string]struct{}, len(macs))
		for _, m := range macs {
			h.macs[m] = struct{}{}
		}
	}
	for {
		cur := s.heldSessions.Load()
		if cur != nil && cur.gen > gen {
			return h, nil
		}
		if s.heldSessions.CompareAndSwap(cur, h) {
			return h, nil
		}
	}
}

// heldSessionsPtr is the field's type (Service.heldSessions).
type heldSessionsPtr = atomic.Pointer[heldSessions]
