package firmware

import (
	"context"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/policy"
)

// maxHeldRules is how many rules DecideAt keeps in memory; a catalogue
// larger than that (none is near it: a rule is one model, revision, locale
// and edition) is read from the store per decision, as Decide does.
const maxHeldRules = 10000

// heldRules is the rules table as read at a config generation.
type heldRules struct {
	gen   int64
	rules []Rule
	// tooMany: the table outgrew maxHeldRules at gen; rules is empty.
	tooMany bool
}

// DecideAt is Decide for a caller that has just read the config generation
// gen (provisioning re-rendering a phone's file). Every write to a rule bumps
// the generation in its transaction (Service.tx), so while gen stands the
// rules read at gen are still the table: matching a phone to its rule reads
// nothing, and a re-render after its file was evicted costs no rules query.
// The phone's own firmware row, and a matched rule's rollout and images, are
// still read as Decide reads them.
func (s *Service) DecideAt(ctx context.Context, dev Device, pol policy.Settings, gen int64) (Decision, error) {
	return s.decide(ctx, dev, pol, func(db *gorm.DB, vendor, model, rev, loc, edition string) (Rule, error) {
		held, err := s.rulesAt(db, gen)
		if err != nil || held.tooMany {
			if err == nil {
				return matchRule(db, vendor, model, rev, loc, edition)
			}
			return Rule{}, err
		}
		return matchHeld(held.rules, vendor, model, rev, loc, edition), nil
	})
}

// rulesAt is the rules table as of generation gen: read once per generation
// and shared by every decision at it. The caller read gen before this read,
// so the rules read are at least as new as gen; a table kept under an older
// generation is never used at a newer one, and a newer one is never replaced
// by an older read.
func (s *Service) rulesAt(db *gorm.DB, gen int64) (*heldRules, error) {
	if h := s.held.Load(); h != nil && h.gen == gen {
		return h, nil
	}
	h := &heldRules{gen: gen}
	if err := db.Order("id").Limit(maxHeldRules + 1).Find(&h.rules).Error; err != nil {
		return nil, err
	}
	if len(h.rules) > maxHeldRules {
		h.rules, h.tooMany = nil, true
	}
	for {
		cur := s.held.Load()
		if cur != nil && cur.gen > gen {
			return h, nil
		}
		if s.held.CompareAndSwap(cur, h) {
			return h, nil
		}
	}
}

// matchHeld is matchRule over rules in memory: the same conditions as its
// query (exact vendor, model, edition and revision; the phone's locale or
// none) and the same preference (a rule naming the locale over one that
// does not).
func matchHeld(rules []Rule, vendor, model, rev, loc, edition string) Rule {
	if vendor == LPE && rev == "" {
		return Rule{}
	}
	best, score := Rule{}, -1
	for _, r := range rules {
		if r.Vendor != vendor || r.Model != model || r.Edition != edition || r.Revision != rev || (r.Locale != loc && r.Locale != "") {
			continue
		}
		sc := 0
		if r.Revision != "" {
			sc += 2
		}
		if r.Locale != "" {
			sc++
		}
		if sc > score {
			best, score = r, sc
		}
	}
	return best
}
