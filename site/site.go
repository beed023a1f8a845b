// Package site keeps sites: named sets of phone settings (NTP servers, time
// zone, language, the phones' local admin password) chosen by the phone's
// subnet, for organisations whose buildings need different ones. Where a
// site leaves a setting unset, or no site holds the phone's address, the
// server-wide defaults (serve --ntp-server, --time-zone, --language) apply
// (provisioning.Service.SiteFor).
package site

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/store"
)

// Service keeps the sites and finds a phone's site by its address.
type Service struct {
	db *gorm.DB
	// Secrets seals the admin passwords; without it none can be stored
	// (serve always sets it).
	Secrets *sealbox.Box
	// Now is the clock; tests move it.
	Now func() time.Time

	// snap is the sites as of a config generation: a phone's poll finds
	// its site in memory, and every site change bumps the generation, so a
	// change made through any instance sharing the store is seen at the
	// next poll that reads the new generation.
	snap   atomic.Pointer[snapshot]
	loadMu sync.Mutex
}

// New returns the site service on db. Call Migrate first.
func New(db *gorm.DB) *Service { return &Service{db: db, Now: time.Now} }

// Site is one site as admins see it. The admin password is never shown:
// only whether one is set.
type Site struct {
	Name       string   `json:"name"`
	Subnets    []string `json:"subnets"`
	NTPServers []string `json:"ntpServers"`
	TimeZone   string   `json:"timeZone"`
	Language   string   `json:"language"`
	// AdminPassword says whether the site sets the phones' local admin
	// password.
	AdminPassword PasswordState `json:"adminPassword"`
	CreatedAt     time.Time     `json:"createdAt"`
	UpdatedAt     time.Time     `json:"updatedAt"`
}

// PasswordState stands for a secret in answers.
type PasswordState struct {
	Set bool `json:"set"`
}

// Input is what a create or a change gives. On a change (PATCH) a nil
// field is left as it is; NTPServers, TimeZone and Language set to empty
// fall back to the server-wide defaults.
type Input struct {
	Name       *string   `json:"name,omitempty"`
	Subnets    *[]string `json:"subnets,omitempty"`
	NTPServers *[]string `json:"ntpServers,omitempty"`
	TimeZone   *string   `json:"timeZone,omitempty"`
	Language   *string   `json:"language,omitempty"`
	// AdminPassword sets the phones' local admin password.
	AdminPassword *string `json:"adminPassword,omitempty"`
	// RemoveAdminPassword removes it: the phones keep their own.
	RemoveAdminPassword bool `json:"removeAdminPassword,omitempty"`
}

// record is a site's row.
type record struct {
	ID      int64  `gorm:"primaryKey"`
	Name    string `gorm:"size:64;not null"`
	NameKey string `gorm:"size:64;not null;uniqueIndex"`
	// NTPServers is comma-separated (host names and addresses hold none).
	NTPServers string `gorm:"size:1100;not null"`
	TimeZone   string `gorm:"size:64;not null"`
	Language   string `gorm:"size:64;not null"`
	// AdminPassword is sealed (sealbox), bound to the row's id.
	AdminPassword string `gorm:"size:512;not null"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

func (record) TableName() string { return "sites" }

// subnet is one network of a site; a network belongs to one site at most,
// which the unique prefix enforces on every instance at once.
type subnet struct {
	Prefix string `gorm:"primaryKey;size:64"`
	SiteID int64  `gorm:"not null;index"`
}

func (subnet) TableName() string { return "site_subnets" }

// Migrate creates the site tables.
func Migrate(db *gorm.DB) error {
	if err := store.Migrate(db); err != nil { // the generation counter site changes bump
		return err
	}
	if err := audit.Migrate(db); err != nil {
		return err
	}
	return db.AutoMigrate(&record{}, &subnet{})
}

func nameKey(name string) string { return strings.ToLower(name) }

func passwordBinding(id int64) string { return "sites.admin_password:" + strconv.FormatInt(id, 10) }

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func viewOf(r record, subnets []string) Site {
	if subnets == nil {
		subnets = []string{}
	}
	return Site{Name: r.Name, Subnets: subnets, NTPServers: splitList(r.NTPServers), TimeZone: r.TimeZone, Language: r.Language,
		AdminPassword: PasswordState{Set: r.AdminPassword != ""}, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// List returns every site, by name.
func (s *Service) List(ctx context.Context) ([]Site, error) {
	var rs []record
	if err := s.db.WithContext(ctx).Order("name_key").Find(&rs).Error; err != nil {
		return nil, err
	}
	nets, err := subnetsOf(s.db.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	out := make([]Site, len(rs))
	for i, r := range rs {
		out[i] = viewOf(r, nets[r.ID])
	}
	return out, nil
}

// subnetsOf maps site ids to their subnets, most specific first.
func subnetsOf(db *gorm.DB, ids ...int64) (map[int64][]string, error) {
	var ns []subnet
	q := db
	if len(ids) > 0 {
		q = q.Where("site_id IN ?", ids)
	}
	if err := q.Find(&ns).Error; err != nil {
		return nil, err
	}
	ps := make([]netip.Prefix, 0, len(ns))
	owner := map[netip.Prefix]int64{}
	for _, n := range ns {
		p, err := netip.ParsePrefix(n.Prefix)
		if err != nil {
			return nil, fmt.Errorf("site subnet %q in the store: %w", n.Prefix, err)
		}
		ps = append(ps, p)
		owner[p] = n.SiteID
	}
	sortPrefixes(ps)
	out := map[int64][]string{}
	for _, p := range ps {
		out[owner[p]] = append(out[owner[p]], p.String())
	}
	return out, nil
}

// sortPrefixes orders IPv4 before IPv6, then by address, then longer first.
func sortPrefixes(ps []netip.Prefix) {
	sort.Slice(ps, func(i, j int) bool {
		if c := ps[i].Addr().Compare(ps[j].Addr()); c != 0 {
			return c < 0
		}
		return ps[i].Bits() > ps[j].Bits()
	})
}

// find reads a site's row by name (any case).
func find(tx *gorm.DB, name string) (record, error) {
	var r record
	if !textfield.Valid(name) || len(name) > 4*MaxName {
		return r, notFound(name)
	}
	err := tx.Where("name_key = ?", nameKey(strings.TrimSpace(name))).Limit(1).Find(&r).Error
	if err == nil && r.ID == 0 {
		err = notFound(name)
	}
	return r, err
}

func notFound(name string) error {
	return fault.Hintf(fault.NotFound, "no site is named %q: {fix} shows the sites", clip(name)).WithFix("site.list")
}

// Get returns one site by name (any case).
func (s *Service) Get(ctx context.Context, name string) (Site, error) {
	db := s.db.WithContext(ctx)
	r, err := find(db, name)
	if err != nil {
		return Site{}, err
	}
	nets, err := subnetsOf(db, r.ID)
	if err != nil {
		return Site{}, err
	}
	return viewOf(r, nets[r.ID]), nil
}

// Create adds a site. Name and subnets are required; the rest may be left
// to the server-wide defaults.
func (s *Service) Create(ctx context.Context, in Input) (Site, error) {
	if in.Name == nil {
		return Site{}, fault.FieldInvalid("name", "name is missing: give the site a name such as \"HQ\"")
	}
	if in.Subnets == nil {
		return Site{}, fault.FieldInvalid("subnets", "subnets is missing: give the site's networks, such as [\"10.1.0.0/16\"]")
	}
	if in.RemoveAdminPassword {
		return Site{}, fault.FieldInvalid("removeAdminPassword", "a new site has no admin password to remove")
	}
	var r record
	var nets []netip.Prefix
	if err := s.apply(&r, &nets, in); err != nil {
		return Site{}, err
	}
	now := s.now()
	r.CreatedAt, r.UpdatedAt = now, now
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&r).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return fault.Conflictf("a site named %q already exists: choose another name, or change that site", r.Name).Wrap(err)
			}
			return err
		}
		if in.AdminPassword != nil {
			if err := s.sealPassword(tx, &r, *in.AdminPassword); err != nil {
				return err
			}
		}
		if err := putSubnets(tx, r.ID, nets); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Change{At: now, Kind: audit.KindSite, ObjectID: r.Name, Action: "create", After: siteAudit(r, nets)}); err != nil {
			return err
		}
		return store.Bump(tx, store.ConfigGeneration)
	})
	if err != nil {
		return Site{}, err
	}
	return s.Get(ctx, r.Name)
}

// Update changes a site: fields left nil stay as they are.
func (s *Service) Update(ctx context.Context, name string, in Input) (Site, error) {
	if in.AdminPassword != nil && in.RemoveAdminPassword {
		return Site{}, fault.Hintf(fault.Invalid, "give {field} or {set:removeAdminPassword}, not both").On("adminPassword")
	}
	var out string
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		r, err := find(tx, name)
		if err != nil {
			return err
		}
		before := siteAudit(r, nil)
		var nets []netip.Prefix
		if err := s.apply(&r, &nets, in); err != nil {
			return err
		}
		switch {
		case in.AdminPassword != nil:
			if err := s.sealPassword(tx, &r, *in.AdminPassword); err != nil {
				return err
			}
		case in.RemoveAdminPassword:
			r.AdminPassword = ""
		}
		r.UpdatedAt = s.now()
		if err := tx.Save(&r).Error; err != nil {
			if store.IsUniqueViolation(err) {
				return fault.Conflictf("a site named %q already exists: choose another name", r.Name).Wrap(err)
			}
			return err
		}
		if in.Subnets != nil {
			if err := tx.Where("site_id = ?", r.ID).Delete(&subnet{}).Error; err != nil {
				return err
			}
			if err := putSubnets(tx, r.ID, nets); err != nil {
				return err
			}
		}
		out = r.Name
		if err := audit.Record(ctx, tx, audit.Change{At: r.UpdatedAt, Kind: audit.KindSite, ObjectID: before.Name, Action: "update", Before: before, After: siteAudit(r, nets)}); err != nil {
			return err
		}
		return store.Bump(tx, store.ConfigGeneration)
	})
	if err != nil {
		return Site{}, err
	}
	return s.Get(ctx, out)
}

// Delete removes a site: its phones get the server-wide defaults.
func (s *Service) Delete(ctx context.Context, name string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		r, err := find(tx, name)
		if err != nil {
			return err
		}
		if err := tx.Where("site_id = ?", r.ID).Delete(&subnet{}).Error; err != nil {
			return err
		}
		if err := tx.Delete(&r).Error; err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Change{At: s.now(), Kind: audit.KindSite, ObjectID: r.Name, Action: "delete", Before: siteAudit(r, nil)}); err != nil {
			return err
		}
		return store.Bump(tx, store.ConfigGeneration)
	})
}

// apply checks the fields in gives and writes them into r (nets gets the
// subnets when they are given).
func (s *Service) apply(r *record, nets *[]netip.Prefix, in Input) error {
	if in.Name != nil {
		n, err := CheckName(*in.Name)
		if err != nil {
			return err
		}
		r.Name, r.NameKey = n, nameKey(n)
	}
	if in.Subnets != nil {
		ps, err := CheckSubnets(*in.Subnets)
		if err != nil {
			return err
		}
		*nets = ps
	}
	if in.NTPServers != nil {
		ns, err := CheckNTPServers("ntpServers", *in.NTPServers)
		if err != nil {
			return err
		}
		r.NTPServers = strings.Join(ns, ",")
	}
	if in.TimeZone != nil {
		tz, err := CheckTimeZone("timeZone", *in.TimeZone)
		if err != nil {
			return err
		}
		r.TimeZone = tz
	}
	if in.Language != nil {
		l, err := CheckLanguage("language", *in.Language)
		if err != nil {
			return err
		}
		r.Language = l
	}
	if in.AdminPassword != nil {
		if err := CheckAdminPassword(*in.AdminPassword); err != nil {
			return err
		}
	}
	return nil
}

// sealPassword seals pw for r's row (which must have its id).
func (s *Service) sealPassword(tx *gorm.DB, r *record, pw string) error {
	sealed, err := s.Secrets.Seal(pw, passwordBinding(r.ID))
	if errors.Is(err, sealbox.ErrNoKey) {
		return fault.New(fault.Unavailable, "this server has no secret key to seal the admin password with (serve --secret-key-file)").Wrap(err)
	}
	if err != nil {
		return fmt.Errorf("seal the admin password of site %s: %w", r.Name, err)
	}
	r.AdminPassword = sealed
	return tx.Model(&record{}).Where("id = ?", r.ID).Update("admin_password", sealed).Error
}

// putSubnets gives the site its networks. A network held by another site is
// a conflict naming that site; the unique prefix settles two instances
// adding the same network at once.
func putSubnets(tx *gorm.DB, id int64, nets []netip.Prefix) error {
	strs := make([]string, len(nets))
	for i, p := range nets {
		strs[i] = p.String()
	}
	var held []subnet
	if err := tx.Where("prefix IN ? AND site_id <> ?", strs, id).Find(&held).Error; err != nil {
		return err
	}
	if len(held) > 0 {
		var other record
		if err := tx.Where("id = ?", held[0].SiteID).Limit(1).Find(&other).Error; err != nil {
			return err
		}
		return fault.Conflictf("subnet %s belongs to site %q already: a subnet belongs to one site (a smaller subnet inside it may go to another site, and the most specific wins)", held[0].Prefix, other.Name).WithCode("subnet_taken")
	}
	rows := make([]subnet, len(strs))
	for i, p := range strs {
		rows[i] = subnet{Prefix: p, SiteID: id}
	}
	if err := tx.Create(&rows).Error; err != nil {
		if store.IsUniqueViolation(err) {
			return fault.Conflictf("one of the subnets %s was just given to another site: list the sites and try again", strings.Join(strs, ", ")).WithCode("subnet_taken").Wrap(err)
		}
		return err
	}
	return nil
}

// siteAudited is a site as the audit log shows it: whether it has an admin
// password, never the password (even sealed).
type siteAudited struct {
	Name             string   `json:"name"`
	NTPServers       string   `json:"ntpServers"`
	TimeZone         string   `json:"timeZone"`
	Language         string   `json:"language"`
	HasAdminPassword bool     `json:"hasAdminPassword"`
	Subnets          []string `json:"subnets,omitempty"`
}

// siteAudit is r as the log shows it, with nets when the change set them.
func siteAudit(r record, nets []netip.Prefix) siteAudited {
	out := siteAudited{Name: r.Name, NTPServers: r.NTPServers, TimeZone: r.TimeZone, Language: r.Language, HasAdminPassword: r.AdminPassword != ""}
	for _, n := range nets {
		out.Subnets = append(out.Subnets, n.String())
	}
	return out
}
