package site

import (
	"context"
	"fmt"
	"net/netip"
	"sort"

	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store"
)

// snapshot is every site as of one config generation, ready for lookups:
// for each prefix length in use (longest first), the networks of that
// length, so a lookup masks the address once per length and stops at the
// first hit, which is the most specific.
type snapshot struct {
	gen    int64
	v4, v6 []level
	byName map[string]*provisioning.Site
}

type level struct {
	bits int
	nets map[netip.Prefix]*provisioning.Site
}

func (sn *snapshot) match(a netip.Addr) (*provisioning.Site, bool) {
	levels := sn.v6
	if a.Is4() {
		levels = sn.v4
	}
	for _, l := range levels {
		p, err := a.Prefix(l.bits)
		if err != nil {
			continue
		}
		if st, ok := l.nets[p]; ok {
			return st, true
		}
	}
	return nil, false
}

// SiteFor is the site whose subnets hold ip (the most specific one); ok is
// false when none does or ip is not an address. It reads the config
// generation to know whether its copy of the sites is current; a caller
// that has just read it uses SiteAt.
func (s *Service) SiteFor(ctx context.Context, ip string) (provisioning.Site, bool, error) {
	gen, err := store.Generation(ctx, s.db, store.ConfigGeneration)
	if err != nil {
		return provisioning.Site{}, false, err
	}
	return s.SiteAt(ctx, ip, gen)
}

// SiteAt is SiteFor for a caller that has just read the config generation
// gen: a phone's poll. While the generation stands it touches no store.
func (s *Service) SiteAt(ctx context.Context, ip string, gen int64) (provisioning.Site, bool, error) {
	sn, err := s.at(ctx, gen)
	if err != nil {
		return provisioning.Site{}, false, err
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return provisioning.Site{}, false, nil
	}
	st, ok := sn.match(a.Unmap().WithZone(""))
	if !ok {
		return provisioning.Site{}, false, nil
	}
	return *st, true, nil
}

// SiteNamed is the site with this name (any case), for previews.
func (s *Service) SiteNamed(ctx context.Context, name string) (provisioning.Site, bool, error) {
	gen, err := store.Generation(ctx, s.db, store.ConfigGeneration)
	if err != nil {
		return provisioning.Site{}, false, err
	}
	sn, err := s.at(ctx, gen)
	if err != nil {
		return provisioning.Site{}, false, err
	}
	st, ok := sn.byName[nameKey(name)]
	if !ok {
		return provisioning.Site{}, false, nil
	}
	return *st, true, nil
}

// at returns a snapshot at least as new as gen, loading one when the copy
// held is older. The load starts after gen was read and every site change
// bumps the generation in its own transaction, so what it reads includes
// every change up to gen.
func (s *Service) at(ctx context.Context, gen int64) (*snapshot, error) {
	if sn := s.snap.Load(); sn != nil && sn.gen >= gen {
		return sn, nil
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if sn := s.snap.Load(); sn != nil && sn.gen >= gen {
		return sn, nil
	}
	sn, err := s.load(ctx, gen)
	if err != nil {
		return nil, err
	}
	s.snap.Store(sn)
	return sn, nil
}

func (s *Service) load(ctx context.Context, gen int64) (*snapshot, error) {
	db := s.db.WithContext(ctx)
	var rs []record
	if err := db.Find(&rs).Error; err != nil {
		return nil, fmt.Errorf("read the sites: %w", err)
	}
	var ns []subnet
	if err := db.Find(&ns).Error; err != nil {
		return nil, fmt.Errorf("read the sites' subnets: %w", err)
	}
	sn := &snapshot{gen: gen, byName: make(map[string]*provisioning.Site, len(rs))}
	byID := make(map[int64]*provisioning.Site, len(rs))
	for _, r := range rs {
		pw, err := s.Secrets.Open(r.AdminPassword, passwordBinding(r.ID))
		if err != nil {
			return nil, fmt.Errorf("open the admin password of site %s: %w", r.Name, err)
		}
		st := &provisioning.Site{Name: r.Name, TimeZone: r.TimeZone, Language: r.Language, AdminPassword: pw}
		if r.NTPServers != "" {
			st.NTPServers = splitList(r.NTPServers)
		}
		byID[r.ID] = st
		sn.byName[r.NameKey] = st
	}
	v4, v6 := map[int]map[netip.Prefix]*provisioning.Site{}, map[int]map[netip.Prefix]*provisioning.Site{}
	for _, n := range ns {
		p, err := netip.ParsePrefix(n.Prefix)
		st := byID[n.SiteID]
		if err != nil || st == nil {
			continue // written by this package, so never; a bad row must not stop every phone's poll
		}
		m := v6
		if p.Addr().Is4() {
			m = v4
		}
		if m[p.Bits()] == nil {
			m[p.Bits()] = map[netip.Prefix]*provisioning.Site{}
		}
		m[p.Bits()][p] = st
	}
	sn.v4, sn.v6 = levels(v4), levels(v6)
	return sn, nil
}

func levels(m map[int]map[netip.Prefix]*provisioning.Site) []level {
	out := make([]level, 0, len(m))
	for bits, nets := range m {
		out = append(out, level{bits: bits, nets: nets})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].bits > out[j].bits })
	return out
}
