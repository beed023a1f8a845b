// Package phonefiles keeps the files an admin uploads for phones: the
// organisation's trusted CA certificates, which every family installs (by
// URL or inline, see provisioning.Inputs.CACerts), and shared files
// (backgrounds, ringtones, directory files, language dictionaries) that
// phones of one family or all families, at one site or all sites, fetch
// under /prov/. Both are kept in the store, so every instance on one
// PostgreSQL serves the same; every change bumps the config generation,
// and each instance reads them again only when the generation moves.
package phonefiles

import (
	"context"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store"
)

// Service keeps CA certificates and shared files.
type Service struct {
	db *gorm.DB
	// Now is the clock; tests move it.
	Now func() time.Time
	// Blobs holds shared files' contents, by SHA-256.
	Blobs Blobs
	// MaxFile caps one shared file, MaxTotal all of them, MaxFiles their
	// number; MaxCACerts caps the CA certificates.
	MaxFile    int64
	MaxTotal   int64
	MaxFiles   int
	MaxCACerts int
	// Reserved refuses a path a phone family answers itself
	// (provisioning.Service.Reserved); nil refuses none.
	Reserved func(path string) error

	genOnce sync.Once
	genRead func(context.Context) (int64, error)

	mu   sync.Mutex
	snap *snapshot
}

// Defaults for the caps. A Polycom background is at most a screen's worth
// of JPEG, a ringtone a few seconds of WAV, a directory file a few thousand
// contacts: 4 MiB is ample for each, and 64 MiB in all keeps them cheap to
// hold in the store.
const (
	DefaultMaxFile    = 4 << 20
	DefaultMaxTotal   = 64 << 20
	DefaultMaxFiles   = 500
	DefaultMaxCACerts = 20
)

// New returns the service on db, with contents kept in the store.
func New(db *gorm.DB) *Service {
	return &Service{db: db, Now: time.Now, Blobs: NewStoreBlobs(db), MaxFile: DefaultMaxFile, MaxTotal: DefaultMaxTotal,
		MaxFiles: DefaultMaxFiles, MaxCACerts: DefaultMaxCACerts}
}

// Migrate creates the tables.
func Migrate(db *gorm.DB) error {
	if err := audit.Migrate(db); err != nil {
		return err
	}
	return db.AutoMigrate(&CACert{}, &File{}, &blob{})
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// tx runs fn in a transaction that bumps the config generation: a CA
// certificate changes what phones' files say, and a shared file what
// /prov/ answers, on every instance.
func (s *Service) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := fn(tx); err != nil {
			return err
		}
		return store.Bump(tx, store.ConfigGeneration)
	})
	if err == nil {
		s.mu.Lock()
		s.snap = nil // this instance's own change: never wait for a reread
		s.mu.Unlock()
	}
	return err
}

// snapshot is everything phones are served, as of one config generation.
type snapshot struct {
	gen   int64
	certs []provisioning.CACert
	byCA  map[string]CACert // by FileName
	files []File
}

func (s *Service) generation(ctx context.Context) (int64, error) {
	s.genOnce.Do(func() {
		s.genRead = func(ctx context.Context) (int64, error) { return store.Generation(ctx, s.db, store.ConfigGeneration) }
		if r, err := store.NewGenerationReader(s.db, store.ConfigGeneration); err == nil {
			s.genRead = r.Read
		}
	})
	return s.genRead(ctx)
}

// current is the snapshot of the current generation, read again from the
// store only when the generation has moved since the last one.
func (s *Service) current(ctx context.Context) (*snapshot, error) {
	gen, err := s.generation(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	snap := s.snap
	s.mu.Unlock()
	if snap != nil && snap.gen == gen {
		return snap, nil
	}
	snap = &snapshot{gen: gen, byCA: map[string]CACert{}}
	var certs []CACert
	if err := s.db.WithContext(ctx).Order("name").Find(&certs).Error; err != nil {
		return nil, err
	}
	for _, c := range certs {
		snap.certs = append(snap.certs, provisioning.CACert{Name: c.Name, PEM: c.PEM, FileName: c.FileName()})
		snap.byCA[c.FileName()] = c
	}
	if err := s.db.WithContext(ctx).Order("path_key, vendor, site").Find(&snap.files).Error; err != nil {
		return nil, err
	}
	s.mu.Lock()
	// A snapshot read at an older generation than one already kept (two
	// readers racing) must not replace it.
	if s.snap == nil || s.snap.gen <= gen {
		s.snap = snap
	}
	s.mu.Unlock()
	return snap, nil
}
