package provisioning

import (
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/store"
)

// seenRecord is the part of a phone's inventory record that its polls move:
// when it was first and last seen, and which config file it fetched when.
// It is kept apart from the phone's facts (DeviceRecord, table devices) in
// a narrow table of fixed-size rows: a poll of a settled phone writes this
// row alone. At a million phones each poll is a different phone's row; a
// devices row (its facts, files and text times, ~300 bytes) shares its
// page with a dozen others, a seen row (~75 bytes) with ~55: a million
// phones' times are ~18,000 pages and their lastSeen index ~6,000, and a
// flush of tens of thousands of sightings dirties, logs and checkpoints
// those pages once each, however many of its sightings share them.
//
// Said is a digest of what the sighting that last wrote the phone's facts
// said (sightingDigest): a sighting that says exactly the same changes no
// fact when merged again, so it writes only its times, without the
// record being read (writeSettledBatch).
type seenRecord struct {
	MAC        string `gorm:"primaryKey;size:12"`
	FirstUS    int64  `gorm:"column:first_us;not null"`
	SeenUS     int64  `gorm:"column:seen_us;not null;index"`
	ConfigETag string `gorm:"column:config_etag;size:64;not null"`
	ConfigUS   int64  `gorm:"column:config_us;not null"`
	Said       int64  `gorm:"column:said;not null"`
}

func (seenRecord) TableName() string { return "device_seen" }

// us is t in microseconds since 1970 (0 for the zero time); fromUS undoes it.
func us(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromUS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// migrateSeen creates device_seen and moves into it the times that earlier
// builds kept in devices (first_seen, last_seen, config_version, config_at),
// dropping those columns once moved.
func migrateSeen(db *gorm.DB) error {
	m := db
	if store.EngineOf(db) == store.SQLite {
		// A table keyed by the MAC alone: one B-tree, no rowid beside it.
		m = db.Set("gorm:table_options", "WITHOUT ROWID")
	}
	if err := m.AutoMigrate(&seenRecord{}); err != nil {
		return err
	}
	if !db.Migrator().HasColumn("devices", "last_seen") {
		return nil
	}
	type oldTimes struct {
		MAC                           string
		FirstSeen, LastSeen, ConfigAt time.Time
		ConfigVersion                 string
	}
	after := ""
	for {
		var page []oldTimes
		if err := db.Table("devices").Select("mac, first_seen, last_seen, config_version, config_at").
			Where("mac > ?", after).Order("mac").Limit(2000).Scan(&page).Error; err != nil {
			return fmt.Errorf("read the inventory's times: %w", err)
		}
		if len(page) == 0 {
			break
		}
		rows := make([]seenRecord, len(page))
		for i, o := range page {
			rows[i] = seenRecord{MAC: o.MAC, FirstUS: us(o.FirstSeen), SeenUS: us(o.LastSeen), ConfigETag: o.ConfigVersion, ConfigUS: us(o.ConfigAt)}
		}
		if err := db.Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(rows, 500).Error; err != nil {
			return fmt.Errorf("move the inventory's times: %w", err)
		}
		after = page[len(page)-1].MAC
	}
	// Plain statements (both engines take them): gorm's SQLite migrator
	// drops a column of a model, not of a table named alone. SQLite drops
	// a column in place, unless an index holds it: the index goes first.
	if err := db.Exec("DROP INDEX IF EXISTS idx_devices_last_seen").Error; err != nil {
		return err
	}
	for _, c := range []string{"first_seen", "last_seen", "config_version", "config_at"} {
		if !db.Migrator().HasColumn("devices", c) {
			continue
		}
		if err := db.Exec("ALTER TABLE devices DROP COLUMN " + c).Error; err != nil {
			return fmt.Errorf("drop devices.%s (moved to device_seen): %w", c, err)
		}
	}
	return nil
}

// sightingDigest sums up what a sighting says about its phone: the facts it
// sets (as applySighting sets them), its user when it knows one, and the
// files it asked for. Stable across instances and builds (FNV-1a).
func sightingDigest(p *sighting) int64 {
	var says DeviceRecord
	applySighting(&says, p)
	h := fnv.New64a()
	for _, v := range []string{says.Vendor, says.Model, says.Serial, says.Firmware, says.Revision, says.Locale, says.IP} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	if p.knownUser {
		h.Write([]byte{1})
		h.Write([]byte(p.user))
	}
	h.Write([]byte{0})
	files := slices.Clone(p.files)
	sort.Strings(files)
	for _, f := range files {
		h.Write([]byte(f))
		h.Write([]byte{'\n'})
	}
	return int64(h.Sum64())
}

// writeSettledBatch writes, in one statement and without reading any
// record, the sightings of macs (under lock, in this transaction) that say
// exactly what the sighting that last set their phone's facts said: merged
// again, they would change no fact and add no file. Each writes its
// lastSeen, and its config fetch where that is later than the recorded
// one, only where the record's lastSeen is not newer and its first
// sighting not later. It returns the MACs it wrote; the others are merged
// in full by the caller.
func writeSettledBatch(tx *gorm.DB, batch map[string]*sighting, macs []string) (map[string]bool, error) {
	if len(macs) == 0 {
		return nil, nil
	}
	args := make([]any, 0, 6*len(macs))
	for _, m := range macs {
		p := batch[m]
		args = append(args, m, us(p.first), us(p.last), p.config, us(p.configAt), p.said)
	}
	var q strings.Builder
	valuesCTE(&q, tx, len(macs), "mac text", "first_us bigint", "seen_us bigint", "config_etag text", "config_us bigint", "said bigint")
	q.WriteString(" UPDATE device_seen SET seen_us = v.seen_us," +
		" config_etag = CASE WHEN v.config_etag <> '' AND v.config_us > device_seen.config_us THEN v.config_etag ELSE device_seen.config_etag END," +
		" config_us = CASE WHEN v.config_etag <> '' AND v.config_us > device_seen.config_us THEN v.config_us ELSE device_seen.config_us END" +
		" FROM v WHERE device_seen.mac = v.mac AND device_seen.said = v.said AND device_seen.seen_us <= v.seen_us" +
		" AND device_seen.first_us <= v.first_us RETURNING device_seen.mac")
	return returnedMACs(tx.Raw(q.String(), args...).Rows())
}

// valuesCTE writes "WITH v(col, …) AS (VALUES (?, …), …)" for rows rows
// of the columns cols ("name type"), to be followed by the statement that
// reads v. PostgreSQL types a VALUES list by its first row, so the first
// row's parameters are cast to the types named (SQLite compares them as the
// values they are, and would turn a value cast to an unknown type into a
// number).
func valuesCTE(q *strings.Builder, tx *gorm.DB, rows int, cols ...string) {
	names := make([]string, len(cols))
	casts := make([]string, len(cols))
	for i, c := range cols {
		name, typ, _ := strings.Cut(c, " ")
		names[i], casts[i] = name, "CAST(? AS "+typ+")"
	}
	plain := "(" + strings.Repeat("?, ", len(cols)-1) + "?)"
	first := plain
	if store.EngineOf(tx) == store.Postgres {
		first = "(" + strings.Join(casts, ", ") + ")"
	}
	q.WriteString("WITH v(" + strings.Join(names, ", ") + ") AS (VALUES ")
	q.WriteString(first)
	for range rows - 1 {
		q.WriteString(", " + plain)
	}
	q.WriteString(")")
}
