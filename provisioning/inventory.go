package provisioning

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
)

// DeviceRecord is one phone in the inventory.
type DeviceRecord struct {
	MAC           string    `gorm:"primaryKey;size:12" json:"id"`
	Vendor        string    `gorm:"size:16;index" json:"vendor"`
	Model         string    `gorm:"size:64;index" json:"model"`
	Serial        string    `gorm:"size:64" json:"serial,omitempty"`
	Firmware      string    `gorm:"size:64;index" json:"firmware"`
	Revision      string    `gorm:"size:32" json:"revision,omitempty"`
	Locale        string    `gorm:"size:16" json:"locale,omitempty"`
	IP            string    `gorm:"size:64" json:"ip"`
	FirstSeen     time.Time `json:"firstSeen"`
	LastSeen      time.Time `gorm:"index" json:"lastSeen"`
	Files         string    `gorm:"size:4000" json:"-"`
	ConfigVersion string    `gorm:"size:64" json:"configVersion,omitempty"`
	ConfigAt      time.Time `json:"configAt,omitzero"`
	User          string    `gorm:"size:320" json:"user,omitempty"`

	FileList []string `gorm:"-" json:"files"`
}

// TableName keeps the table's name stable.
func (DeviceRecord) TableName() string { return "devices" }

// Migrate creates provisioning's tables.
func Migrate(db *gorm.DB) error { return db.AutoMigrate(&DeviceRecord{}) }

// FlushEvery is how often buffered sightings are written.
const FlushEvery = 15 * time.Second

// inventory buffers sightings in memory so a poll does not write the store;
// Flush writes them (periodically, and before any inventory read).
type inventory struct {
	s       *Service
	mu      sync.Mutex
	pending map[string]*sighting
	flushMu sync.Mutex
}

type sighting struct {
	dev       Device
	ip        string
	first     time.Time
	last      time.Time
	files     map[string]bool
	config    string
	configAt  time.Time
	user      string
	knownUser bool
}

func newInventory(s *Service) *inventory {
	return &inventory{s: s, pending: map[string]*sighting{}}
}

func (iv *inventory) seen(dev Device, ip, file string, cfg *File) {
	if cfg != nil {
		iv.record(dev, ip, file, cfg.ETag, cfg.User, true)
		return
	}
	iv.record(dev, ip, file, "", "", false)
}

// version is the firmware version the phone with this MAC last reported:
// from a sighting not yet written, else from the store ("" when unknown).
func (iv *inventory) version(ctx context.Context, mac string) (string, error) {
	iv.mu.Lock()
	p := iv.pending[mac]
	v := ""
	if p != nil {
		v = p.dev.Version
	}
	iv.mu.Unlock()
	if v != "" {
		return v, nil
	}
	var r DeviceRecord
	err := iv.s.db.WithContext(ctx).Select("firmware").Where("mac = ?", mac).Limit(1).Find(&r).Error
	return r.Firmware, err
}

func (iv *inventory) seenUser(dev Device, ip, file, user string) {
	iv.record(dev, ip, file, "", user, true)
}

func (iv *inventory) record(dev Device, ip, file, config, user string, knownUser bool) {
	if dev.MAC == "" {
		return // nothing to key the sighting on (e.g. Polycom's 000000000000.cfg)
	}
	now := iv.s.Now().UTC()
	iv.mu.Lock()
	defer iv.mu.Unlock()
	p := iv.pending[dev.MAC]
	if p == nil {
		p = &sighting{first: now, files: map[string]bool{}}
		iv.pending[dev.MAC] = p
	}
	if p.dev != dev {
		p.dev = merge(p.dev, dev)
	}
	p.ip, p.last = ip, now
	if len(p.files) < 64 && !p.files[file] {
		p.files[file] = true
	}
	if config != "" {
		p.config, p.configAt = config, now
	}
	if knownUser {
		p.user, p.knownUser = user, true
	}
}

func merge(old, d Device) Device {
	pick := func(a, b string) string {
		if b != "" {
			return b
		}
		return a
	}
	return Device{Vendor: pick(old.Vendor, d.Vendor), Model: pick(old.Model, d.Model), MAC: d.MAC,
		Version: pick(old.Version, d.Version), Serial: pick(old.Serial, d.Serial),
		Revision: pick(old.Revision, d.Revision), Locale: pick(old.Locale, d.Locale)}
}

// Flush writes buffered sightings to the store, one transaction per batch.
func (s *Service) Flush(ctx context.Context) error {
	iv := s.inventory
	iv.flushMu.Lock()
	defer iv.flushMu.Unlock()
	iv.mu.Lock()
	batch := iv.pending
	iv.pending = map[string]*sighting{}
	iv.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	macs := make([]string, 0, len(batch))
	for m := range batch {
		macs = append(macs, m)
	}
	sort.Strings(macs) // a stable lock order between instances
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, m := range macs {
			if err := writeSighting(tx, batch[m]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Put the batch back so the next flush tries again; newer sightings win.
		iv.mu.Lock()
		for m, p := range batch {
			if _, ok := iv.pending[m]; !ok {
				iv.pending[m] = p
			}
		}
		iv.mu.Unlock()
	}
	return err
}

func writeSighting(tx *gorm.DB, p *sighting) error {
	var r DeviceRecord
	if err := tx.Where("mac = ?", p.dev.MAC).Limit(1).Find(&r).Error; err != nil {
		return err
	}
	isNew := r.MAC == ""
	if isNew {
		r = DeviceRecord{MAC: p.dev.MAC, FirstSeen: p.first}
	}
	// What a phone says about itself (its User-Agent, its headers) is kept
	// only as one line of text that fits its column: a value PostgreSQL
	// would refuse would otherwise fail the whole flush, again at every
	// retry, and no phone's sighting would be recorded.
	set := func(dst *string, v string, max int) {
		if v == "" || !textfield.Valid(v) {
			return
		}
		if utf8.RuneCountInString(v) > max {
			v = string([]rune(v)[:max])
		}
		*dst = v
	}
	set(&r.Vendor, p.dev.Vendor, 16)
	set(&r.Model, p.dev.Model, 64)
	set(&r.Serial, p.dev.Serial, 64)
	set(&r.Firmware, p.dev.Version, 64)
	set(&r.Revision, p.dev.Revision, 32)
	set(&r.Locale, p.dev.Locale, 16)
	set(&r.IP, p.ip, 64)
	if p.last.After(r.LastSeen) {
		r.LastSeen = p.last
	}
	files := splitFiles(r.Files)
	for f := range p.files {
		files = appendUnique(files, f)
	}
	sort.Strings(files)
	r.Files = strings.Join(files, "\n")
	for len(r.Files) > 4000 && len(files) > 0 {
		files = files[1:]
		r.Files = strings.Join(files, "\n")
	}
	if p.config != "" {
		r.ConfigVersion, r.ConfigAt = p.config, p.configAt
	}
	if p.knownUser {
		r.User = p.user
	}
	if isNew {
		// Another instance may have created the row since the read: then
		// this sighting updates it instead.
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&r)
		if res.Error != nil || res.RowsAffected == 1 {
			return res.Error
		}
		return writeSighting(tx, p)
	}
	return tx.Save(&r).Error
}

func splitFiles(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func appendUnique(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// Run flushes the inventory every FlushEvery until ctx ends, then once more.
func (s *Service) Run(ctx context.Context, onErr func(error)) {
	t := time.NewTicker(FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := s.Flush(context.Background()); err != nil && onErr != nil {
				onErr(err)
			}
			return
		case <-t.C:
			if err := s.Flush(ctx); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}

// DeviceFilter narrows a device listing; empty fields match everything.
type DeviceFilter struct {
	Vendor    string
	Model     string
	Firmware  string
	SeenSince time.Time
}

// Devices lists the inventory, most recently seen first.
func (s *Service) Devices(ctx context.Context, f DeviceFilter) ([]DeviceRecord, error) {
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Model(&DeviceRecord{})
	if f.Vendor != "" {
		q = q.Where("vendor = ?", strings.ToLower(f.Vendor))
	}
	if f.Model != "" {
		q = q.Where("model = ?", f.Model)
	}
	if f.Firmware != "" {
		q = q.Where("firmware = ?", f.Firmware)
	}
	if !f.SeenSince.IsZero() {
		q = q.Where("last_seen >= ?", f.SeenSince.UTC())
	}
	var rs []DeviceRecord
	if err := q.Order("last_seen DESC, mac").Limit(100000).Find(&rs).Error; err != nil {
		return nil, err
	}
	for i := range rs {
		rs[i].FileList = nonNil(splitFiles(rs[i].Files))
	}
	return rs, nil
}

// Device returns one device by its MAC in any common spelling.
func (s *Service) Device(ctx context.Context, mac string) (DeviceRecord, error) {
	m, err := ParseMAC(mac)
	if err != nil {
		return DeviceRecord{}, err
	}
	if err := s.Flush(ctx); err != nil {
		return DeviceRecord{}, err
	}
	var r DeviceRecord
	if err := s.db.WithContext(ctx).Where("mac = ?", m).Limit(1).Find(&r).Error; err != nil {
		return DeviceRecord{}, err
	}
	if r.MAC == "" {
		return DeviceRecord{}, fault.NotFoundf("no device with MAC %s has been seen", m)
	}
	r.FileList = nonNil(splitFiles(r.Files))
	return r, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// DeviceOf turns an inventory record back into device facts.
func (r DeviceRecord) DeviceOf() Device {
	return Device{Vendor: r.Vendor, Model: r.Model, MAC: r.MAC, Version: r.Firmware, Serial: r.Serial, Revision: r.Revision, Locale: r.Locale}
}
