package blob

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ChunkSize is how much of a blob one row of blob_chunks holds: large
// enough that a 2 GiB image is 2,048 rows, small enough that a chunk in
// flight costs little memory.
const ChunkSize = 1 << 20

// DB keeps blobs in the store (blobs and blob_chunks), written in one
// transaction so that a half-written blob is never seen, and streamed in
// and out a chunk at a time. Each instance keeps a copy of what it serves
// in a local cache directory, named by hash and checked against it before
// first use, so downloads still go out of a file with sendfile.
type DB struct {
	db    *gorm.DB
	cache string

	flight singleflight.Group
	mu     sync.Mutex
	// checked remembers the cache files this process hashed and found
	// right, by their identity, size and modification time: a file
	// rewritten since is hashed again.
	checked map[string]os.FileInfo
}

// blobRow is a complete blob: its chunks are all in blob_chunks.
type blobRow struct {
	SHA256    string    `gorm:"primaryKey;size:64"`
	Size      int64     `gorm:"not null"`
	Chunks    int       `gorm:"not null"`
	CreatedAt time.Time `gorm:"not null"`
}

func (blobRow) TableName() string { return "blobs" }

// chunkRow is one ChunkSize piece of a blob; Idx counts from 0.
type chunkRow struct {
	SHA256 string `gorm:"primaryKey;size:64"`
	Idx    int    `gorm:"primaryKey;autoIncrement:false"`
	Data   []byte `gorm:"not null"`
}

func (chunkRow) TableName() string { return "blob_chunks" }

// Migrate creates the blob tables.
func Migrate(db *gorm.DB) error { return db.AutoMigrate(&blobRow{}, &chunkRow{}) }

// NewDB returns the store in db, caching blobs in cacheDir (created).
func NewDB(db *gorm.DB, cacheDir string) (*DB, error) {
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("create the blob cache directory %s: %w", cacheDir, err)
	}
	return &DB{db: db, cache: cacheDir, checked: map[string]os.FileInfo{}}, nil
}

// CacheDir is where this instance keeps its copies.
func (d *DB) CacheDir() string { return d.cache }

func (d *DB) path(sha string) string { return filepath.Join(d.cache, sha) }

// Put stages r in the cache directory while hashing it, then copies it into
// the store in one transaction unless the store holds it already (another
// put of the same bytes, on any instance, may be writing it: the primary
// key makes the second wait for the first and then find it). The staged
// file becomes this instance's cached copy.
func (d *DB) Put(ctx context.Context, r io.Reader, max int64) (Info, error) {
	tmp, info, err := stage(d.cache, r, max)
	if err != nil {
		return Info{}, err
	}
	defer os.Remove(tmp) // a no-op once renamed
	if err := d.write(ctx, tmp, info); err != nil {
		return Info{}, err
	}
	if err := d.keep(tmp, info.SHA256); err != nil { // just hashed on the way in
		return Info{}, err
	}
	return info, nil
}

// keep makes tmp, a file just hashed to sha, the cached copy of sha, unless
// the cache holds a copy already checked: the bytes are the same, and
// renaming over a copy other requests are opening would make their check
// fail (a boot storm puts every Yealink's identical -local.cfg at once).
func (d *DB) keep(tmp, sha string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if seen, ok := d.checked[sha]; ok {
		if fi, err := os.Stat(d.path(sha)); err == nil && sameCopy(seen, fi) {
			return os.Remove(tmp)
		}
	}
	if err := os.Rename(tmp, d.path(sha)); err != nil {
		return err
	}
	fi, err := os.Stat(d.path(sha))
	if err != nil {
		return err
	}
	d.checked[sha] = fi
	return nil
}

func (d *DB) write(ctx context.Context, tmp string, info Info) error {
	if _, err := d.Stat(ctx, info.SHA256); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotExist) {
		return err
	}
	f, err := os.Open(tmp)
	if err != nil {
		return err
	}
	defer f.Close()
	chunks := int((info.Size + ChunkSize - 1) / ChunkSize)
	return d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).
			Create(&blobRow{SHA256: info.SHA256, Size: info.Size, Chunks: chunks, CreatedAt: time.Now().UTC()})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error // 0 rows: another put stored it meanwhile
		}
		buf := make([]byte, ChunkSize)
		for i := 0; i < chunks; i++ {
			n, err := io.ReadFull(f, buf)
			if err != nil && !(errors.Is(err, io.ErrUnexpectedEOF) && i == chunks-1) {
				return fmt.Errorf("read chunk %d of the staged blob: %w", i, err)
			}
			if err := tx.Exec("INSERT INTO blob_chunks (sha256, idx, data) VALUES (?, ?, ?)", info.SHA256, i, buf[:n]).Error; err != nil {
				return err
			}
		}
		return nil
	})
}

// Open returns this instance's cached copy, fetching it from the store when
// it is missing or does not hash to its name. The store is asked first, so
// a blob deleted through another instance is gone here too (and its copy
// dropped).
func (d *DB) Open(ctx context.Context, sha string) (*os.File, error) {
	if err := checkSHA(sha); err != nil {
		return nil, err
	}
	row, err := d.row(ctx, sha)
	if errors.Is(err, ErrNotExist) {
		d.drop(sha)
	}
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if f, err := os.Open(d.path(sha)); err == nil {
			if d.trusted(sha, f, row.Size) {
				return f, nil
			}
			f.Close()
		}
		if attempt == 2 {
			return nil, fmt.Errorf("the cached copy of blob %s keeps changing under %s", sha, d.cache)
		}
		// One fetch per blob at a time, whoever asks; it outlives a
		// caller who hangs up, since the others wait on it.
		if _, err, _ := d.flight.Do(sha, func() (any, error) {
			return nil, d.ensure(context.WithoutCancel(ctx), row)
		}); err != nil {
			return nil, err
		}
	}
}

// trusted reports whether f is a copy this process hashed and found right.
func (d *DB) trusted(sha string, f *os.File, size int64) bool {
	fi, err := f.Stat()
	if err != nil || fi.Size() != size {
		return false
	}
	d.mu.Lock()
	seen, ok := d.checked[sha]
	d.mu.Unlock()
	return ok && sameCopy(seen, fi)
}

// sameCopy reports whether fi is still the file seen was taken of.
func sameCopy(seen, fi os.FileInfo) bool {
	return os.SameFile(seen, fi) && seen.Size() == fi.Size() && seen.ModTime().Equal(fi.ModTime())
}

func (d *DB) remember(sha string, fi os.FileInfo) {
	d.mu.Lock()
	d.checked[sha] = fi
	d.mu.Unlock()
}

// ensure makes the cached copy right: it hashes the copy there, and fetches
// the blob again when there is none or it hashes to something else.
func (d *DB) ensure(ctx context.Context, row blobRow) error {
	if f, err := os.Open(d.path(row.SHA256)); err == nil {
		got, herr := hashFile(f)
		fi, serr := f.Stat()
		f.Close()
		if herr == nil && serr == nil && got.SHA256 == row.SHA256 && got.Size == row.Size {
			d.remember(row.SHA256, fi)
			return nil
		}
		os.Remove(d.path(row.SHA256)) // damaged: fetch it again
	}
	return d.fetch(ctx, row)
}

// fetch copies the blob from the store into the cache, a chunk at a time,
// and keeps it only when it hashes to its name.
func (d *DB) fetch(ctx context.Context, row blobRow) error {
	f, err := os.CreateTemp(d.cache, tempPrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op once renamed
	h := sha256.New()
	w := io.MultiWriter(f, h)
	var n int64
	for i := 0; i < row.Chunks; i++ {
		var data []byte
		err := d.db.WithContext(ctx).Raw("SELECT data FROM blob_chunks WHERE sha256 = ? AND idx = ?", row.SHA256, i).Row().Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			f.Close()
			return fmt.Errorf("blob %s was deleted while this instance copied it: %w", row.SHA256, ErrNotExist)
		}
		if err == nil {
			_, err = w.Write(data)
		}
		if err != nil {
			f.Close()
			return fmt.Errorf("copy blob %s from the store: %w", row.SHA256, err)
		}
		n += int64(len(data))
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != row.SHA256 || n != row.Size {
		return fmt.Errorf("blob %s in the store reads as %d bytes hashing to %s: the store's copy is damaged", row.SHA256, n, got)
	}
	return d.keep(tmp, row.SHA256)
}

// drop forgets this instance's copy of a blob the store no longer holds.
func (d *DB) drop(sha string) {
	d.mu.Lock()
	delete(d.checked, sha)
	d.mu.Unlock()
	os.Remove(d.path(sha))
}

func (d *DB) row(ctx context.Context, sha string) (blobRow, error) {
	var rows []blobRow
	if err := d.db.WithContext(ctx).Where("sha256 = ?", sha).Limit(1).Find(&rows).Error; err != nil {
		return blobRow{}, err
	}
	if len(rows) == 0 {
		return blobRow{}, fmt.Errorf("blob %s: %w", sha, ErrNotExist)
	}
	return rows[0], nil
}

// Stat tells the blob's size from the store.
func (d *DB) Stat(ctx context.Context, sha string) (Info, error) {
	if err := checkSHA(sha); err != nil {
		return Info{}, err
	}
	row, err := d.row(ctx, sha)
	if err != nil {
		return Info{}, err
	}
	return Info{SHA256: row.SHA256, Size: row.Size}, nil
}

// Delete removes the blob from the store, for every instance, and this
// instance's copy; the others drop theirs when next asked for it.
func (d *DB) Delete(ctx context.Context, sha string) error {
	if !ValidSHA(sha) {
		return nil
	}
	err := d.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("sha256 = ?", sha).Delete(&blobRow{}).Error; err != nil {
			return err
		}
		return tx.Where("sha256 = ?", sha).Delete(&chunkRow{}).Error
	})
	if err != nil {
		return err
	}
	d.drop(sha)
	return nil
}

// List calls fn for every blob in the store, in hash order, a page at a
// time.
func (d *DB) List(ctx context.Context, fn func(Info) error) error {
	after := ""
	for {
		var rows []blobRow
		if err := d.db.WithContext(ctx).Where("sha256 > ?", after).Order("sha256").Limit(500).Find(&rows).Error; err != nil {
			return err
		}
		for _, r := range rows {
			if err := fn(Info{SHA256: r.SHA256, Size: r.Size}); err != nil {
				return err
			}
		}
		if len(rows) < 500 {
			return nil
		}
		after = rows[len(rows)-1].SHA256
	}
}

// RemoveStale removes what puts and fetches an earlier process was killed
// in the middle of, and the cached copies of blobs the store no longer
// holds; it returns how many files it removed.
func (d *DB) RemoveStale(ctx context.Context) (int, error) {
	n, err := removeStale(d.cache)
	if err != nil {
		return n, err
	}
	ents, err := os.ReadDir(d.cache)
	if err != nil {
		return n, err
	}
	for _, e := range ents {
		if !ValidSHA(e.Name()) {
			continue
		}
		if _, err := d.row(ctx, e.Name()); errors.Is(err, ErrNotExist) {
			d.drop(e.Name())
			n++
		} else if err != nil {
			return n, err
		}
	}
	return n, nil
}
