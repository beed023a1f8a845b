package phonefiles

import (
	"bytes"
	"context"
	"io"
	"sync"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/fault"
)

// Blobs keeps shared files' contents by SHA-256 (content-addressed: a blob
// never changes, so any copy of it is right). It is the one seam a shared
// blob store (issue 16) replaces.
type Blobs interface {
	// Put stores data under sha unless it is there already.
	Put(ctx context.Context, sha string, data []byte) error
	// Open returns the contents stored under sha.
	Open(ctx context.Context, sha string) (io.ReadSeeker, error)
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

func (b *storeBlobs) Open(ctx context.Context, sha string) (io.ReadSeeker, error) {
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
	return bytes.NewReader(data), nil
}

func (b *storeBlobs) Delete(ctx context.Context, sha string) error {
	b.mu.Lock()
	if d, ok := b.kept[sha]; ok {
		delete(b.kept, sha)
		b.bytes -= len(d)
	}
	b.mu.Unlock()
	return b.db.WithContext(ctx).Where("sha256 = ?", sha).Delete(&blob{}).Error
}
