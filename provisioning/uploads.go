package provisioning

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/blob"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/tempfile"
)

// Uploads keeps the files phones PUT (logs, override files): which phone
// uploaded which name in the store (phone_uploads), the bytes in the blob
// store, so that a file a phone uploaded through one instance is read
// through any other.
type Uploads struct {
	db    *gorm.DB
	blobs blob.Store
	// Max is the largest file accepted, in bytes.
	Max int64
	// Now is the clock; tests move it.
	Now func() time.Time
}

// DefaultMaxUpload caps one uploaded file.
const DefaultMaxUpload = 4 << 20

// MissingRetryAfter is the Retry-After, in seconds, of an upload whose
// bytes are missing from the blob store.
const MissingRetryAfter = 30

// phoneUpload is one phone's file of one name.
type phoneUpload struct {
	MAC        string    `gorm:"primaryKey;size:12"`
	Name       string    `gorm:"primaryKey;size:255"`
	SHA256     string    `gorm:"size:64;not null;index"`
	Size       int64     `gorm:"not null"`
	ModifiedAt time.Time `gorm:"not null"`
}

func (phoneUpload) TableName() string { return "phone_uploads" }

// NewUploads keeps uploads of at most max bytes (DefaultMaxUpload when not
// positive) in db and blobs.
func NewUploads(db *gorm.DB, blobs blob.Store, max int64) *Uploads {
	if max <= 0 {
		max = DefaultMaxUpload
	}
	return &Uploads{db: db, blobs: blobs, Max: max, Now: time.Now}
}

// Close releases nothing; it stays for the callers that close what they open.
func (u *Uploads) Close() error { return nil }

// UploadInfo describes one stored upload.
type UploadInfo struct {
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	ModifiedAt time.Time `json:"modifiedAt"`
}

// Holds reports whether an upload names the blob sha (a blob.Holder).
func (u *Uploads) Holds(ctx context.Context, sha string) (bool, error) {
	var n int64
	err := u.db.WithContext(ctx).Model(&phoneUpload{}).Where("sha256 = ?", sha).Count(&n).Error
	return n > 0, err
}

// Put stores body as mac's file name, replacing any earlier one. Only names a
// family resolved as Upload reach here, with the MAC in canonical form.
func (u *Uploads) Put(ctx context.Context, mac, name string, body io.Reader) (UploadInfo, error) {
	if err := u.check(mac, name); err != nil {
		return UploadInfo{}, err
	}
	info, err := u.blobs.Put(ctx, body, u.Max)
	switch {
	case errors.Is(err, blob.ErrTooLarge):
		return UploadInfo{}, fault.New(fault.TooLarge, "%s is over the %d-byte upload limit", name, u.Max)
	case errors.Is(err, blob.ErrRead):
		return UploadInfo{}, fault.Invalidf("the upload of %s was interrupted (%v): nothing was kept, send it again", name, err).Wrap(err)
	case err != nil:
		return UploadInfo{}, fmt.Errorf("store %s: %w", name, err)
	}
	return u.record(ctx, mac, name, info, u.Now().UTC())
}

// record names info as mac's file name, and lets go of the blob it named
// before.
func (u *Uploads) record(ctx context.Context, mac, name string, info blob.Info, at time.Time) (UploadInfo, error) {
	var before []phoneUpload
	row := phoneUpload{MAC: mac, Name: name, SHA256: info.SHA256, Size: info.Size, ModifiedAt: at}
	err := u.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("mac = ? AND name = ?", mac, name).Limit(1).Find(&before).Error; err != nil {
			return err
		}
		return tx.Clauses(clause.OnConflict{
			Columns:   []clause.Column{{Name: "mac"}, {Name: "name"}},
			DoUpdates: clause.AssignmentColumns([]string{"sha256", "size", "modified_at"}),
		}).Create(&row).Error
	})
	if err != nil {
		blob.Release(context.WithoutCancel(ctx), u.blobs, info.SHA256, u.Holds)
		return UploadInfo{}, err
	}
	if len(before) == 1 && before[0].SHA256 != info.SHA256 {
		blob.Release(context.WithoutCancel(ctx), u.blobs, before[0].SHA256, u.Holds)
	}
	return UploadInfo{Name: name, Size: info.Size, ModifiedAt: at}, nil
}

// Open returns a stored upload; one never uploaded is fault.NotFound, one
// whose bytes are missing from the blob store fault.Unavailable (a phone
// tries again later).
func (u *Uploads) Open(ctx context.Context, mac, name string) (*os.File, UploadInfo, error) {
	if err := u.check(mac, name); err != nil {
		return nil, UploadInfo{}, err
	}
	var rows []phoneUpload
	if err := u.db.WithContext(ctx).Where("mac = ? AND name = ?", mac, name).Limit(1).Find(&rows).Error; err != nil {
		return nil, UploadInfo{}, err
	}
	if len(rows) == 0 {
		return nil, UploadInfo{}, fault.NotFoundf("%s has not uploaded %s", mac, name)
	}
	f, err := u.blobs.Open(ctx, rows[0].SHA256)
	if errors.Is(err, blob.ErrNotExist) {
		return nil, UploadInfo{}, &fault.Error{Kind: fault.Unavailable, RetryAfter: MissingRetryAfter,
			Message: fmt.Sprintf("the file %s of %s is missing from the blob store", name, mac)}
	}
	if err != nil {
		return nil, UploadInfo{}, err
	}
	return f, UploadInfo{Name: name, Size: rows[0].Size, ModifiedAt: rows[0].ModifiedAt.UTC()}, nil
}

// List names mac's uploads.
func (u *Uploads) List(ctx context.Context, mac string) ([]UploadInfo, error) {
	if _, err := ParseMAC(mac); err != nil || len(mac) != 12 {
		return nil, fault.FieldInvalid("mac", "%q is not a canonical MAC", mac)
	}
	var rows []phoneUpload
	if err := u.db.WithContext(ctx).Where("mac = ?", mac).Order("name").Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]UploadInfo, len(rows))
	for i, r := range rows {
		out[i] = UploadInfo{Name: r.Name, Size: r.Size, ModifiedAt: r.ModifiedAt.UTC()}
	}
	return out, nil
}

func (u *Uploads) check(mac, name string) error {
	if m, err := ParseMAC(mac); err != nil || m != mac {
		return fault.FieldInvalid("mac", "%q is not a canonical MAC", clip(mac))
	}
	if err := CheckName(name); err != nil {
		return err
	}
	return nil
}

// tempPrefix started the name of an upload being written in the uploads
// directory of earlier releases.
const tempPrefix = ".tmp-"

// AdoptOld moves the uploads earlier releases kept as files under dir
// (<dir>/<mac>/<name>) into the store and the blob store, keeping their
// modification times, and removes what it moved and the temporary files
// of uploads those releases were killed in the middle of. A file the store
// already has a newer upload of the same name for is dropped. It returns
// how many it moved; what it could not move stays and is named in left.
func (u *Uploads) AdoptOld(ctx context.Context, dir string) (moved int, left []string, err error) {
	macs, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	for _, m := range macs {
		if !m.IsDir() {
			continue
		}
		mdir := filepath.Join(dir, m.Name())
		ents, err := os.ReadDir(mdir)
		if err != nil {
			left = append(left, fmt.Sprintf("%s (%v)", mdir, err))
			continue
		}
		for _, e := range ents {
			path := filepath.Join(mdir, e.Name())
			if !e.Type().IsRegular() { // a symlink leads nowhere deskprov made
				left = append(left, path+" (not a regular file)")
				continue
			}
			if strings.HasPrefix(e.Name(), tempPrefix) {
				tempfile.RemoveIfStale(path, os.Open, os.Remove)
				continue
			}
			if err := u.adopt(ctx, m.Name(), e.Name(), path); err != nil {
				left = append(left, fmt.Sprintf("%s (%v)", path, err))
				continue
			}
			moved++
		}
		os.Remove(mdir) // only when empty
	}
	return moved, left, nil
}

func (u *Uploads) adopt(ctx context.Context, mac, name, path string) error {
	if err := u.check(mac, name); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	var newer int64
	if err := u.db.WithContext(ctx).Model(&phoneUpload{}).Where("mac = ? AND name = ? AND modified_at >= ?", mac, name, fi.ModTime().UTC()).
		Count(&newer).Error; err != nil {
		return err
	}
	if newer == 0 {
		info, err := u.blobs.Put(ctx, f, 0)
		if err != nil {
			return err
		}
		if _, err := u.record(ctx, mac, name, info, fi.ModTime().UTC()); err != nil {
			return err
		}
	}
	return os.Remove(path)
}
