// Package firmware keeps the certified image catalog, the update rules
// (pending, approved, restore) with their test devices, staged rollouts and
// the update-loop guard, and decides which image each phone is offered.
// Images are blobs named by their SHA-256 in the blob store the caller
// gives (package blob), which every instance on one store reads.
package firmware

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/blob"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/notify"
)

// Device is a phone as provisioning sees it on one request.
type Device struct {
	Vendor, Model, MAC, Serial, Version, Revision, Locale string
}

// Decision is what one phone is offered. FileName is the vendor's file name
// the phone will request.
type Decision struct {
	Offer    bool   `json:"offer"`
	Reason   string `json:"reason"`
	Version  string `json:"version,omitempty"`
	FileName string `json:"fileName,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Size     int64  `json:"size,omitempty"`
}

// Service is the firmware area.
type Service struct {
	db    *gorm.DB
	blobs blob.Store
	// dir is the directory images were kept in before the blob store (and
	// are still, when the store is that directory).
	dir string
	// Now is the clock; tests move it.
	Now func() time.Time
	// MaxUpload caps one image (bytes).
	MaxUpload int64
	// LoopFlips is how many version changes within LoopWindow flag a phone.
	LoopFlips  int
	LoopWindow time.Duration

	// polls remembers recent polls that changed nothing (see pollCache).
	polls pollCache
	hub   *notify.Hub
	// held is the rules table at the newest generation DecideAt was asked
	// at (rulecache.go).
	held atomic.Pointer[heldRules]
}

// UseHub announces this server's writes to phones' firmware state to the
// other servers on the store, and makes it forget the phones they write, so
// that a poll answered from memory is never more than moments stale (the
// update-loop guard counts version changes whichever server saw them).
// Call it before serving.
func (s *Service) UseHub(h *notify.Hub) {
	if h == nil {
		return // as before: no other instance's write is heard
	}
	s.hub = h
	s.polls.exact.Store(true) // while the hub is down the cache is off
	h.Subscribe(hubTopic, func(mac string) { s.polls.forget(mac) }, s.polls.heard)
}

// hubTopic is the topic of firmware's messages: the data is a phone's MAC.
const hubTopic = "firmware.device"

// New returns the service storing images as files under dir (created if
// missing), as one server on its own does.
func New(db *gorm.DB, dir string) (*Service, error) {
	d, err := blob.NewDir(dir)
	if err != nil {
		return nil, err
	}
	return NewOn(db, d, dir), nil
}

// NewOn returns the service storing images in blobs. oldDir is the
// firmware directory of earlier releases, whose images AdoptOld moves into
// blobs ("" for none).
func NewOn(db *gorm.DB, blobs blob.Store, oldDir string) *Service {
	s := &Service{db: db, blobs: blobs, dir: oldDir, Now: time.Now, MaxUpload: 2 << 30, LoopFlips: 3, LoopWindow: 24 * time.Hour}
	// Where this process sees every write (SQLite), a remembered poll
	// stands until a write clears it (pollcache).
	s.polls.exact.Store(store.Owned(db))
	return s
}

// Dir is the firmware directory of the data directory.
func (s *Service) Dir() string { return s.dir }

// Holds reports whether a catalog entry names the blob sha (a
// blob.Holder).
func (s *Service) Holds(ctx context.Context, sha string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Image{}).Where("id = ?", sha).Count(&n).Error
	return n > 0, err
}

// Migrate creates the firmware tables, and brings a store from before
// editions to rules per edition (migrateEditions).
func Migrate(db *gorm.DB) error {
	// The old firmware_audit rows move into the one audit log first.
	if err := audit.Migrate(db); err != nil {
		return err
	}
	// The rule key gained the edition: the old unique index (without it)
	// would refuse a model's second edition.
	if db.Migrator().HasTable(&Rule{}) && db.Migrator().HasIndex(&Rule{}, "idx_fw_rule_key") {
		if err := db.Migrator().DropIndex(&Rule{}, "idx_fw_rule_key"); err != nil {
			return fmt.Errorf("drop the firmware rule index without editions: %w", err)
		}
	}
	if err := db.AutoMigrate(&Image{}, &Rule{}, &TestDevice{}, &Rollout{}, &deviceState{}, &versionChange{}); err != nil {
		return err
	}
	return migrateEditions(db)
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// tx runs fn in a transaction that also bumps the config generation: every
// write here can change what a phone is offered.
func (s *Service) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := fn(tx); err != nil {
			return err
		}
		return store.Bump(tx, store.ConfigGeneration)
	})
}

// AuditEntry is one firmware entry of the service's audit log (package
// audit), in the shape the firmware audit had before it became part of
// that log: GET /api/v1/firmwareaudit still answers it.
type AuditEntry struct {
	ID     uint      `json:"id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Target string    `json:"target"`
	Detail string    `json:"detail"`
}

func (s *Service) audit(tx *gorm.DB, actor, action, target, detail string) error {
	return audit.Record(tx.Statement.Context, tx, audit.Change{At: s.now(), Actor: actor, Kind: audit.KindFirmware,
		ObjectID: target, Action: action, After: audit.FirmwareDetail{Detail: detail}})
}

// Audit lists the newest firmware entries of the audit log first.
func (s *Service) Audit(ctx context.Context, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	p, err := audit.List(ctx, s.db, audit.Filter{Kind: audit.KindFirmware, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]AuditEntry, len(p.Entries))
	for i, e := range p.Entries {
		var d audit.FirmwareDetail
		_ = json.Unmarshal(e.After, &d) // an entry without a detail shows none
		out[i] = AuditEntry{ID: e.ID, At: e.At, Actor: e.Actor, Action: e.Action, Target: e.ObjectID, Detail: d.Detail}
	}
	return out, nil
}
