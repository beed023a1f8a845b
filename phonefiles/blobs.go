package phonefiles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	blobstore "github.com/deskprov/deskprov/blob"
	"github.com/deskprov/deskprov/fault"
)

// Blobs keeps shared files' contents by SHA-256 (content-addressed: a blob
// never changes, so any copy of it is right). serve keeps them in the blob
// store (NewBlobStore); the store's own table (NewStoreBlobs) is where
// earlier releases kept them, and what AdoptStoreBlobs moves them from.
type Blobs interface {
	// Put stores data under sha unless it is there already.
	Put(ctx context.Context, sha string, data []byte) error
	// Open returns the contents stored under sha; the caller closes them.
	Open(ctx context.Context, sha string) (io.ReadSeekCloser, error)
	// Delete forgets sha; a missing one is no error.
	Delete(ctx context.Context, sha string) error
}

// blob is a shared file's contents in the store.
type blob struct {
	SHA256 string `gorm:"primaryKey;size:64"`
	Data   []byte `gorm:"not null"`
}

func (blob) TableName() string { return "phone_file_blobs" }

// storeBlobs keeps contents in the store, so every instance on one
// PostgreSQL serves the same bytes without a shared directory. Reads are
// kept in memory up to maxBlobCache bytes: contents never change under
// their hash, so a kept copy is never stale.
type storeBlobs struct {
	db    *gorm.DB
	mu    sync.Mutex
	kept  map[string][]byte
	bytes int
}

// maxBlobCache bounds the contents one instance keeps in memory.
const maxBlobCache = 32 << 20

// NewStoreBlobs keeps contents in db's phone_file_blobs table.
func NewStoreBlobs(db *gorm.DB) Blobs { return &storeBlobs{db: db, kept: map[string][]byte{}} }

func (b *storeBlobs) Put(ctx context.Context, sha string, data []byte) error {
	return b.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&blob{SHA256: sha, Data: data}).Error
}

func (b *storeBlobs) Open(ctx context.Context, sha string) (io.ReadSeekCloser, error) {
	b.mu.Lock()
	data, ok := b.kept[sha]
	b.mu.Unlock()
	if !ok {
		var rows []blob
		if err := b.db.WithContext(ctx).Where("sha256 = ?", sha).Limit(1).Find(&rows).Error; err != nil {
			return nil, err
		}
		if len(rows) == 0 {
			return nil, fault.NotFoundf("the contents %s are not in the store", sha)
		}
		data = rows[0].Data
		b.mu.Lock()
		if b.bytes+len(data) > maxBlobCache {
			b.kept, b.bytes = map[string][]byte{}, 0
		}
		if len(data) <= maxBlobCache {
			b.kept[sha] = data
			b.bytes += len(data)
		}
		b.mu.Unlock()
	}
	return nopCloser{bytes.NewReader(data)}, nil
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

func (b *storeBlobs) Delete(ctx context.Context, sha string) error {
	b.mu.Lock()
	if d, ok := b.kept[sha]; ok {
		delete(b.kept, sha)
		b.bytes -= len(d)
	}
	b.mu.Unlock()
	return b.db.WithContext(ctx).Where("sha256 = ?", sha).Delete(&blob{}).Error
}

// NewBlobStore keeps contents in the blob store s, which every instance on
// one store reads (package blob).
func NewBlobStore(s blobstore.Store) Blobs { return blobStore{s} }

type blobStore struct{ s blobstore.Store }

func (b blobStore) Put(ctx context.Context, sha string, data []byte) error {
	info, err := b.s.Put(ctx, bytes.NewReader(data), 0)
	if err == nil && info.SHA256 != sha {
		return fmt.Errorf("the blob store kept the contents as %s, not %s", info.SHA256, sha)
	}
	return err
}

func (b blobStore) Open(ctx context.Context, sha string) (io.ReadSeekCloser, error) {
	f, err := b.s.Open(ctx, sha)
	if errors.Is(err, blobstore.ErrNotExist) {
		return nil, fault.NotFoundf("the contents %s are not in the blob store", sha)
	}
	return f, err
}

// Delete lets go of sha: the blob store keeps it while another owner (a
// firmware image, a phone's upload of the same bytes) names it.
func (b blobStore) Delete(ctx context.Context, sha string) error {
	return blobstore.Release(ctx, b.s, sha, nil)
}

// Holds reports whether a shared file names the blob sha (a blob.Holder).
func (s *Service) Holds(ctx context.Context, sha string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&File{}).Where("sha256 = ?", sha).Count(&n).Error
	return n > 0, err
}

// AdoptStoreBlobs moves the contents earlier releases kept in the store's
// phone_file_blobs table into s.Blobs, one file at a time, and returns how
// many it moved. Several instances may run it at once: a put is kept once
// and a row deleted twice is no error.
func (s *Service) AdoptStoreBlobs(ctx context.Context) (int, error) {
	if _, ok := s.Blobs.(*storeBlobs); ok {
		return 0, nil
	}
	moved := 0
	for {
		var rows []blob
		if err := s.db.WithContext(ctx).Order("sha256").Limit(1).Find(&rows).Error; err != nil {
			return moved, err
		}
		if len(rows) == 0 {
			return moved, nil
		}
		if err := s.Blobs.Put(ctx, rows[0].SHA256, rows[0].Data); err != nil {
			return moved, err
		}
		if err := s.db.WithContext(ctx).Where("sha256 = ?", rows[0].SHA256).Delete(&blob{}).Error; err != nil {
			return moved, err
		}
		moved++
	}
}
