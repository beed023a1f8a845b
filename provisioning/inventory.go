package provisioning

import (
	"context"
	"database/sql"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/store"
)

// DeviceRecord is one phone in the inventory.
type DeviceRecord struct {
	MAC string `gorm:"primaryKey;size:12" json:"id"`
	// idx_devices_census covers the fleet dashboard's GROUP BY (census.go).
	Vendor        string    `gorm:"size:16;index;index:idx_devices_census,priority:1" json:"vendor"`
	Model         string    `gorm:"size:64;index;index:idx_devices_census,priority:2" json:"model"`
	Serial        string    `gorm:"size:64" json:"serial,omitempty"`
	Firmware      string    `gorm:"size:64;index;index:idx_devices_census,priority:3" json:"firmware"`
	Revision      string    `gorm:"size:32" json:"revision,omitempty"`
	Locale        string    `gorm:"size:16" json:"locale,omitempty"`
	IP            string    `gorm:"size:64" json:"ip"`
	FirstSeen     time.Time `gorm:"-" json:"firstSeen"`
	LastSeen      time.Time `gorm:"-" json:"lastSeen"`
	Files         string    `gorm:"size:4000" json:"-"`
	ConfigVersion string    `gorm:"-" json:"configVersion,omitempty"`
	ConfigAt      time.Time `gorm:"-" json:"configAt,omitzero"`
	User          string    `gorm:"size:320" json:"user,omitempty"`

	FileList []string `gorm:"-" json:"files"`

	// The times as device_seen holds them (seen.go), read with the record
	// (withSeen) and turned into the fields above (AfterFind).
	FirstUS    int64  `gorm:"column:first_us;->;-:migration" json:"-"`
	SeenUS     int64  `gorm:"column:seen_us;->;-:migration" json:"-"`
	ConfigETag string `gorm:"column:config_etag;->;-:migration" json:"-"`
	ConfigUS   int64  `gorm:"column:config_us;->;-:migration" json:"-"`
	// said is sightingDigest of the sighting that creates the record.
	said int64
}

// AfterCreate writes the times of a new record into device_seen, in the
// same transaction: a record and its times are created together, by the
// inventory's flush or by anything else that creates one.
func (r *DeviceRecord) AfterCreate(tx *gorm.DB) error {
	return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&seenRecord{MAC: r.MAC, FirstUS: us(r.FirstSeen),
		SeenUS: us(r.LastSeen), ConfigETag: r.ConfigVersion, ConfigUS: us(r.ConfigAt), Said: r.said}).Error
}

// withSeen reads devices with their times.
func withSeen(q *gorm.DB) *gorm.DB {
	return q.Table("devices").Select("devices.*, device_seen.first_us, device_seen.seen_us, device_seen.config_etag, device_seen.config_us").
		Joins("JOIN device_seen ON device_seen.mac = devices.mac")
}

// AfterFind sets a record's times from what withSeen read, for every read
// of records (a read without the join leaves them zero, as they are then).
func (r *DeviceRecord) AfterFind(*gorm.DB) error {
	r.FirstSeen, r.LastSeen, r.ConfigAt = fromUS(r.FirstUS), fromUS(r.SeenUS), fromUS(r.ConfigUS)
	r.ConfigVersion = r.ConfigETag
	return nil
}

// TableName keeps the table's name stable.
func (DeviceRecord) TableName() string { return "devices" }

// Migrate creates provisioning's tables.
func Migrate(db *gorm.DB) error {
	if err := db.AutoMigrate(&DeviceRecord{}, &phoneUpload{}); err != nil {
		return err
	}
	return migrateSeen(db)
}

// FlushEvery is how often buffered sightings are written by default
// (serve --inventory-flush): a phone seen by one instance is in the
// inventory, for every instance, within this long (plus the flush itself).
const FlushEvery = 5 * time.Second

// inventory buffers sightings in memory so a poll does not write the store;
// Flush writes them (periodically, and before any inventory read).
type inventory struct {
	s       *Service
	mu      sync.Mutex
	pending map[string]*sighting
	flushMu sync.Mutex
	// bytes is about what pending holds; past budget the buffer is
	// flushed at once (kick), and while it stays past it (a flush under
	// way, or the store not answering) a phone not yet buffered is not
	// recorded until it polls again (dropped): the buffer never outgrows
	// its share of --cache-size (Service.ShareCache, SetCacheSize). bytes
	// is read without mu by the caches sharing --cache-size (heldBytes),
	// hence atomic; it changes only under mu.
	bytes  atomic.Int64
	budget func() int64
	// flushing is what the batch being written holds: out of the buffer,
	// not yet out of memory.
	flushing atomic.Int64
	kick     chan struct{}
	dropped  atomic.Int64
	// What the flushes did, for InventoryStats (/metrics).
	flushes, written, failed, flushNanos atomic.Int64
}

// InventoryStats is what the inventory's buffer and flushes have done since
// the service started (serve shows them on /metrics).
type InventoryStats struct {
	// Flushes is how many flushes wrote at least one sighting, Written the
	// sightings they wrote, Failed the flushes the store refused (their
	// sightings were kept for the next one), and FlushSeconds the time
	// spent in all of them.
	Flushes, Written, Failed int64
	FlushSeconds             float64
	// Dropped counts polls of phones not recorded because the buffer was
	// past its share of --cache-size (the phone is recorded at a later
	// poll); Pending and PendingBytes are what the buffer holds now.
	Dropped, Pending, PendingBytes int64
}

// InventoryStats reports the inventory's buffer and flushes.
func (s *Service) InventoryStats() InventoryStats {
	iv := s.inventory
	iv.mu.Lock()
	pending, bytes := int64(len(iv.pending)), iv.bytes.Load()
	iv.mu.Unlock()
	return InventoryStats{Flushes: iv.flushes.Load(), Written: iv.written.Load(), Failed: iv.failed.Load(),
		FlushSeconds: time.Duration(iv.flushNanos.Load()).Seconds(), Dropped: iv.dropped.Load(), Pending: pending, PendingBytes: bytes}
}

// sightingSize is about what a buffered sighting holds besides its
// strings and files: the sighting (~250 bytes) and its entry in pending.
// A hundred thousand sightings measured 354 bytes each on the heap with
// their strings, counted ~370 (the config version and user are often
// shared with a cached file, and are counted anyway).
const sightingSize = 240

// heldBytes is what the buffer and a flush in progress hold: what the
// buffer keeps of --cache-size (ShareCache).
func (iv *inventory) heldBytes() int64 { return iv.bytes.Load() + iv.flushing.Load() }

func sizeOfSighting(p *sighting) int64 {
	return int64(sightingSize+len(p.ip)+len(p.config)+len(p.user)) + devSize(p.dev) + p.filesSize
}

// addFile records that the phone asked for file (up to 64 names).
func (p *sighting) addFile(file string) {
	if len(p.files) < 64 && !slices.Contains(p.files, file) {
		p.files = append(p.files, file)
		p.filesSize += int64(len(file)) + 24
	}
}

type sighting struct {
	dev   Device
	ip    string
	first time.Time
	last  time.Time
	// files are the names asked for, each once (a slice: most sightings
	// name one or two, and a map per sighting was a third of its memory).
	files []string
	// filesSize is what files holds, counted as files are added: a poll
	// sizes its sighting twice, and walking the files for it (a map then)
	// was a twentieth of a cached poll's CPU.
	filesSize int64
	config    string
	configAt  time.Time
	user      string
	knownUser bool
	// said is sightingDigest(p), set as the sighting is flushed.
	said int64
}

func newInventory(s *Service) *inventory {
	return &inventory{s: s, pending: map[string]*sighting{}, kick: make(chan struct{}, 1)}
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
	// PostgreSQL keeps microseconds: a sighting written and read back must
	// compare equal to itself (writeSighting compares last_seen).
	now := iv.s.Now().UTC().Truncate(time.Microsecond)
	iv.mu.Lock()
	defer iv.mu.Unlock()
	p := iv.pending[dev.MAC]
	if p == nil {
		if iv.bytes.Load() > iv.budget() {
			iv.dropped.Add(1)
			iv.flushSoon()
			return
		}
		p = &sighting{first: now}
		iv.pending[dev.MAC] = p
	} else {
		iv.bytes.Add(-sizeOfSighting(p))
	}
	defer func() {
		iv.bytes.Add(sizeOfSighting(p))
		if iv.bytes.Load() > iv.budget() {
			iv.flushSoon()
		}
	}()
	if p.dev != dev {
		p.dev = merge(p.dev, dev)
	}
	p.ip, p.last = ip, now
	p.addFile(file)
	if config != "" {
		p.config, p.configAt = config, now
	}
	if knownUser {
		p.user, p.knownUser = user, true
	}
}

// flushSoon asks Run to flush now rather than at its next tick.
func (iv *inventory) flushSoon() {
	select {
	case iv.kick <- struct{}{}:
	default:
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
	iv.flushing.Store(iv.bytes.Swap(0))
	iv.mu.Unlock()
	defer iv.flushing.Store(0)
	if len(batch) == 0 {
		return nil
	}
	start := time.Now()
	defer func() { iv.flushNanos.Add(int64(time.Since(start))) }()
	macs := make([]string, 0, len(batch))
	for m := range batch {
		macs = append(macs, m)
	}
	sort.Strings(macs) // a stable lock order between instances
	for _, p := range batch {
		p.said = sightingDigest(p)
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The records are read a chunk at a time, not one by one: a large
		// fleet's flush is a write per phone, and at 100,000 phones a read
		// per phone besides was most of what a server did.
		for len(macs) > 0 {
			chunk := macs[:min(len(macs), flushChunk)]
			macs = macs[len(chunk):]
			if store.EngineOf(tx) == store.Postgres {
				// Every flush locks a chunk's times first, in MAC order,
				// then the facts it reads: two instances flushing the same
				// phones wait for each other instead of deadlocking.
				var locked []string
				if err := store.ForUpdate(tx).Model(&seenRecord{}).Where("mac IN ?", chunk).Order("mac").Pluck("mac", &locked).Error; err != nil {
					return err
				}
			}
			// Sightings that say what their phone's facts were last set
			// from (nearly every poll of a settled fleet) write their
			// times without a read; the rest are merged with their record.
			settled, err := writeSettledBatch(tx, batch, chunk)
			if err != nil {
				return err
			}
			if len(settled) > 0 {
				rest := make([]string, 0, len(chunk)-len(settled))
				for _, m := range chunk {
					if !settled[m] {
						rest = append(rest, m)
					}
				}
				chunk = rest
			}
			if len(chunk) == 0 {
				continue
			}
			var rs []DeviceRecord
			if err := store.ForUpdate(withSeen(tx)).Where("devices.mac IN ?", chunk).Order("devices.mac").Find(&rs).Error; err != nil {
				return err
			}
			held := make(map[string]*DeviceRecord, len(rs))
			for i := range rs {
				held[rs[i].MAC] = &rs[i]
			}
			// Sightings that tell nothing new (nearly every poll of a
			// settled fleet) are written together, one statement a chunk;
			// the others, and any a newer sighting overtook, one by one.
			again := make([]seenAgainRow, 0, len(chunk))
			for _, m := range chunk {
				if h := held[m]; h != nil {
					if row, ok := seenAgainOf(batch[m], *h, joinFiles(splitFiles(h.Files), batch[m].files)); ok {
						again = append(again, row)
						continue
					}
				}
				if err := writeSightingOn(tx, batch[m], held[m]); err != nil {
					return err
				}
			}
			done, err := writeSeenAgainBatch(tx, again)
			if err != nil {
				return err
			}
			for _, row := range again {
				if !done[row.mac] {
					if err := writeSightingOn(tx, batch[row.mac], held[row.mac]); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err == nil {
		iv.flushes.Add(1)
		iv.written.Add(int64(len(batch)))
	} else {
		iv.failed.Add(1)
		// Put the batch back so the next flush tries again; a sighting
		// buffered since is newer and wins, keeping the older's files and
		// first sighting.
		iv.mu.Lock()
		for m, p := range batch {
			q, ok := iv.pending[m]
			if !ok {
				iv.pending[m] = p
				iv.bytes.Add(sizeOfSighting(p))
				continue
			}
			if p.first.Before(q.first) {
				q.first = p.first
			}
			iv.bytes.Add(-sizeOfSighting(q))
			for _, f := range p.files {
				q.addFile(f)
			}
			iv.bytes.Add(sizeOfSighting(q))
		}
		iv.mu.Unlock()
	}
	return err
}

// writeSighting merges one buffered sighting into the phone's record. Several
// instances flush their buffers independently, so a sighting may arrive
// after a newer one from another instance: it must not replace what the
// newer one recorded (the firmware would go back, say from .130 to .120).
// Only a sighting at least as new as the record's lastSeen updates the
// phone's facts, and the UPDATE says so in its WHERE; an older one adds
// only the files it saw, its first sighting if earlier, and its config
// version if that was fetched later than the recorded one.
func writeSighting(tx *gorm.DB, p *sighting) error {
	var r DeviceRecord
	if err := store.ForUpdate(withSeen(tx)).Where("devices.mac = ?", p.dev.MAC).Limit(1).Find(&r).Error; err != nil {
		return err
	}
	return writeSightingOn(tx, p, &r)
}

// flushChunk is how many records a flush reads in one query.
const flushChunk = 500

// writeSightingOn is writeSighting with the phone's record already read
// (locked) in this transaction; held is nil or empty when there is none.
func writeSightingOn(tx *gorm.DB, p *sighting, held *DeviceRecord) error {
	var r DeviceRecord
	if held != nil {
		r = *held
	}
	if r.MAC == "" {
		r = DeviceRecord{MAC: p.dev.MAC, FirstSeen: p.first, LastSeen: p.last, ConfigVersion: p.config, ConfigAt: p.configAt, said: p.said}
		applySighting(&r, p)
		r.Files = joinFiles(nil, p.files)
		// Another instance may have created the row since the read: then
		// this sighting is merged into it instead.
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&r)
		if res.Error != nil || res.RowsAffected == 1 {
			return res.Error
		}
		return writeSighting(tx, p)
	}
	files := joinFiles(splitFiles(r.Files), p.files)
	if done, err := writeSeenAgain(tx, p, r, files); done || err != nil {
		return err
	}
	times := map[string]any{}
	if p.first.Before(r.FirstSeen) {
		times["first_us"] = us(p.first)
	}
	// The config file has its own time: a sighting older than the record
	// may still hold the latest config fetch.
	if p.config != "" && p.configAt.After(r.ConfigAt) {
		times["config_etag"], times["config_us"] = p.config, us(p.configAt)
	}
	if !p.last.Before(r.LastSeen) {
		newer := maps.Clone(times)
		newer["seen_us"], newer["said"] = us(p.last), p.said
		res := tx.Model(&seenRecord{}).Where("mac = ? AND seen_us <= ?", r.MAC, us(p.last)).Updates(newer)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 1 {
			applySighting(&r, p)
			return tx.Model(&DeviceRecord{}).Where("mac = ?", r.MAC).Updates(map[string]any{"vendor": r.Vendor, "model": r.Model,
				"serial": r.Serial, "firmware": r.Firmware, "revision": r.Revision, "locale": r.Locale, "ip": r.IP,
				"user": r.User, "files": files}).Error
		}
		// A newer sighting got there first (the row lock makes this rare):
		// this one is older after all.
	}
	if len(times) > 0 {
		if err := tx.Model(&seenRecord{}).Where("mac = ?", r.MAC).Updates(times).Error; err != nil {
			return err
		}
	}
	if files == r.Files {
		return nil
	}
	return tx.Model(&DeviceRecord{}).Where("mac = ?", r.MAC).Update("files", files).Error
}

// writeSeenAgain writes, in one plain statement, the sighting of a phone
// that told nothing new (the same facts and files): its lastSeen and the
// time of its config fetch. That is what nearly every poll of a settled
// fleet is. done is false when the sighting says more, or a newer one got
// there first; writeSightingOn then merges it in full.
func writeSeenAgain(tx *gorm.DB, p *sighting, r DeviceRecord, files string) (done bool, err error) {
	if _, ok := seenAgainOf(p, r, files); !ok {
		return false, nil
	}
	var res *gorm.DB
	if p.config != "" && p.configAt.After(r.ConfigAt) {
		res = tx.Exec("UPDATE device_seen SET seen_us = ?, said = ?, config_etag = ?, config_us = ? WHERE mac = ? AND seen_us <= ?",
			us(p.last), p.said, p.config, us(p.configAt), r.MAC, us(p.last))
	} else {
		res = tx.Exec("UPDATE device_seen SET seen_us = ?, said = ? WHERE mac = ? AND seen_us <= ?", us(p.last), p.said, r.MAC, us(p.last))
	}
	return res.Error == nil && res.RowsAffected == 1, res.Error
}

// seenAgainRow is what a sighting that tells nothing new writes: the
// phone's lastSeen and its config fetch (the record's own when it fetched
// none later).
type seenAgainRow struct {
	mac            string
	last, configAt time.Time
	config         string
	said           int64
}

// seenAgainOf tells whether sighting p of the phone whose record is r
// (files: r's files with p's added) tells nothing new but its times, and
// what it then writes.
func seenAgainOf(p *sighting, r DeviceRecord, files string) (seenAgainRow, bool) {
	if p.last.Before(r.LastSeen) || p.first.Before(r.FirstSeen) || files != r.Files {
		return seenAgainRow{}, false
	}
	after := r
	applySighting(&after, p)
	if after.Vendor != r.Vendor || after.Model != r.Model || after.Serial != r.Serial || after.Firmware != r.Firmware ||
		after.Revision != r.Revision || after.Locale != r.Locale || after.IP != r.IP || after.User != r.User {
		return seenAgainRow{}, false
	}
	row := seenAgainRow{mac: r.MAC, last: p.last, config: r.ConfigVersion, configAt: r.ConfigAt, said: p.said}
	if p.config != "" && p.configAt.After(r.ConfigAt) {
		row.config, row.configAt = p.config, p.configAt
	}
	return row, true
}

// writeSeenAgainBatch writes rows (of records read and locked in this
// transaction) in one statement, each only where the record's lastSeen is
// not newer, and returns the MACs it wrote. At a fleet whose phones each
// poll once between flushes, a statement per phone was a fourteenth of a
// server's CPU.
func writeSeenAgainBatch(tx *gorm.DB, rows []seenAgainRow) (map[string]bool, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 5*len(rows))
	for _, r := range rows {
		args = append(args, r.mac, us(r.last), r.config, us(r.configAt), r.said)
	}
	var q strings.Builder
	valuesCTE(&q, tx, len(rows), "mac text", "seen_us bigint", "config_etag text", "config_us bigint", "said bigint")
	q.WriteString(" UPDATE device_seen SET seen_us = v.seen_us, config_etag = v.config_etag, config_us = v.config_us, said = v.said" +
		" FROM v WHERE device_seen.mac = v.mac AND device_seen.seen_us <= v.seen_us RETURNING device_seen.mac")
	return returnedMACs(tx.Raw(q.String(), args...).Rows())
}

// returnedMACs reads the MACs an UPDATE … RETURNING mac wrote.
func returnedMACs(res *sql.Rows, err error) (map[string]bool, error) {
	if err != nil {
		return nil, err
	}
	defer res.Close()
	done := map[string]bool{}
	for res.Next() {
		var mac string
		if err := res.Scan(&mac); err != nil {
			return nil, err
		}
		done[mac] = true
	}
	return done, res.Err()
}

// applySighting sets what the phone said about itself on this sighting.
func applySighting(r *DeviceRecord, p *sighting) {
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
	if p.knownUser {
		r.User = p.user
	}
}

// joinFiles adds seen to the stored list, keeping it within its column.
func joinFiles(files []string, seen []string) string {
	for _, f := range seen {
		files = appendUnique(files, f)
	}
	sort.Strings(files)
	out := strings.Join(files, "\n")
	for len(out) > 4000 && len(files) > 0 {
		files = files[1:]
		out = strings.Join(files, "\n")
	}
	return out
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

// Run flushes the inventory every FlushInterval until ctx ends, then once more.
func (s *Service) Run(ctx context.Context, onErr func(error)) {
	every := s.FlushInterval
	if every <= 0 {
		every = FlushEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	var failedAt time.Time
	flush := func(ctx context.Context) {
		if err := s.Flush(ctx); err != nil {
			failedAt = time.Now()
			if onErr != nil {
				onErr(err)
			}
			return
		}
		failedAt = time.Time{}
	}
	for {
		select {
		case <-ctx.Done():
			flush(context.Background())
			return
		case <-t.C:
			flush(ctx)
		case <-s.inventory.kick:
			// A full buffer is written at once, as often as it fills: a
			// buffer that could not be written for a second would turn away
			// every phone it does not hold yet. Only while the store refuses
			// the writes is it tried at most once a second.
			if !failedAt.IsZero() && time.Since(failedAt) < time.Second {
				continue
			}
			flush(ctx)
		}
	}
}

// DeviceFilter narrows a device listing; empty fields match everything.
type DeviceFilter struct {
	// Search matches part of the MAC (in any spelling), the model or the
	// signed-in user, without regard to case; Enrolment keeps the phones in
	// one enrolment state (phoneid.State, or EnrolmentNone for phones with
	// no enrolment). Both are read in the store, like the paging below.
	Search    string
	Enrolment string

	Vendor    string
	Model     string
	Firmware  string
	SeenSince time.Time
	// Limit is the most records returned (0 or over MaxDevicePage:
	// MaxDevicePage); After continues a listing after the last record of
	// the page before (its LastSeen and MAC), read in the store.
	Limit int
	After DeviceRecord
}

// MaxDevicePage bounds one page of the device list: a listing of a large
// fleet is read page by page in the store, never whole in memory.
const MaxDevicePage = 1000

// Devices lists the inventory, most recently seen first.
func (s *Service) Devices(ctx context.Context, f DeviceFilter) ([]DeviceRecord, error) {
	if err := s.Flush(ctx); err != nil {
		return nil, err
	}
	q := withSeen(s.db.WithContext(ctx))
	q, err := f.narrow(q)
	if err != nil {
		return nil, err
	}

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
		q = q.Where("device_seen.seen_us >= ?", us(f.SeenSince))
	}
	if f.After.MAC != "" {
		at := us(f.After.LastSeen)
		q = q.Where("device_seen.seen_us < ? OR (device_seen.seen_us = ? AND devices.mac > ?)", at, at, f.After.MAC)
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxDevicePage {
		limit = MaxDevicePage
	}
	var rs []DeviceRecord
	if err := q.Order("device_seen.seen_us DESC, devices.mac").Limit(limit).Find(&rs).Error; err != nil {
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
	if err := withSeen(s.db.WithContext(ctx)).Where("devices.mac = ?", m).Limit(1).Find(&r).Error; err != nil {
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
