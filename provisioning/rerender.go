package provisioning

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/deskprov/deskprov/policy"
)

// A phone's file is re-rendered whenever the config generation moves (for
// every phone at once) and whenever the caches, bounded by --cache-size,
// have evicted it (at a fleet larger than the caches hold, most polls). What
// a file depends on besides the phone's own rows changes only with the
// generation, so a re-render reads it once per generation and shares it:
// the Global policy, the firmware rules, and which phones are signed in.

// noGen is the generation of a caller that read none: everything is read
// from the store.
const noGen = -1

// SignedInAt is SignedIn for a caller that has just read the config
// generation gen: sign-in and sign-out bump it, so the phones signed in are
// known per generation (signin.Service).
type SignedInAt interface {
	UserOnDeviceAt(ctx context.Context, mac string, gen int64) (string, error)
}

// FirmwareAt is Firmware's Decide at the config generation gen: every rule
// change bumps it, so the rules are read once per generation
// (firmware.Service).
type FirmwareAt interface {
	DecideAt(ctx context.Context, dev Device, pol policy.Settings, gen int64) (Decision, error)
}

// heldPolicy is the effective policy of a phone nobody is signed in on (the
// Global policy) as read at a generation: every policy edit bumps it.
type heldPolicy struct {
	gen int64
	eff policy.Effective
}

// userAt is who is signed in on the phone with this MAC at generation gen.
func (s *Service) userAt(ctx context.Context, mac string, gen int64) (string, error) {
	at, ok := s.SignIn.(SignedInAt)
	if !ok || gen == noGen || mac == "" {
		return s.userOn(ctx, mac)
	}
	upn, err := at.UserOnDeviceAt(ctx, mac, gen)
	if err != nil {
		return "", fmt.Errorf("who is signed in on %s: %w", mac, err)
	}
	return upn, nil
}

// effectiveAt is the effective policy for user at generation gen.
func (s *Service) effectiveAt(ctx context.Context, user string, gen int64) (policy.Effective, error) {
	if s.Policy == nil {
		return GlobalDefaults{}.EffectiveForUser(ctx, user)
	}
	if user != "" || gen == noGen {
		return s.Policy.EffectiveForUser(ctx, user)
	}
	if h := s.globalPolicy.Load(); h != nil && h.gen == gen {
		return h.eff, nil
	}
	eff, err := s.Policy.EffectiveForUser(ctx, user)
	if err != nil {
		return eff, err
	}
	keepNewest(&s.globalPolicy, &heldPolicy{gen: gen, eff: eff})
	return eff, nil
}

// firmwareAt is firmware's decision for dev at generation gen.
func (s *Service) firmwareAt(ctx context.Context, dev Device, pol policy.Settings, gen int64) (Decision, error) {
	if at, ok := s.Firmware.(FirmwareAt); ok && gen != noGen {
		return at.DecideAt(ctx, dev, pol, gen)
	}
	return s.Firmware.Decide(ctx, dev, pol)
}

// keepNewest stores h unless what p holds is of a newer generation: the
// reader read the generation before what it keeps, so what it read is at
// least as new as h.gen, and a slow reader must not put back an older one.
func keepNewest(p *atomic.Pointer[heldPolicy], h *heldPolicy) {
	for {
		cur := p.Load()
		if cur != nil && cur.gen > h.gen {
			return
		}
		if p.CompareAndSwap(cur, h) {
			return
		}
	}
}
