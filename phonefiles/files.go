package phonefiles

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"path"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/audit"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/store"
)

// File is a shared file phones fetch under /prov/<Path>: for one family
// (Vendor) or all (""), at one site (Site, by name) or all ("").
type File struct {
	ID          uint      `gorm:"primaryKey"`
	Path        string    `gorm:"size:255;not null"`
	PathKey     string    `gorm:"size:255;not null;uniqueIndex:idx_phone_file_scope"`
	Vendor      string    `gorm:"size:16;not null;default:'';uniqueIndex:idx_phone_file_scope"`
	Site        string    `gorm:"size:64;not null;default:'';uniqueIndex:idx_phone_file_scope"`
	SHA256      string    `gorm:"size:64;not null;index"`
	Size        int64     `gorm:"not null"`
	ContentType string    `gorm:"size:100;not null"`
	CreatedAt   time.Time `gorm:"not null"`
	UpdatedAt   time.Time `gorm:"not null"`
	CreatedBy   string    `gorm:"size:200"`
}

func (File) TableName() string { return "phone_files" }

// FileView is a shared file as the API shows it (and the CLI reads it).
type FileView struct {
	ID          uint      `json:"id"`
	Path        string    `json:"path"`
	Vendor      string    `json:"vendor"`
	Site        string    `json:"site"`
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	ContentType string    `json:"contentType"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	CreatedBy   string    `json:"createdBy,omitempty"`
}

// MarshalJSON writes the API view.
func (f File) MarshalJSON() ([]byte, error) {
	return json.Marshal(FileView{f.ID, f.Path, f.Vendor, f.Site, f.SHA256, f.Size, f.ContentType, f.CreatedAt, f.UpdatedAt, f.CreatedBy})
}

// ETag is the file's entity tag: its contents' hash.
func (f File) ETag() string { return `"` + f.SHA256[:32] + `"` }

// ContentTypes are the kinds of file phones are known to fetch, by
// extension. Anything else is refused: deskprov serves these from its own
// origin, so it must never serve an admin's HTML or script to a browser.
var ContentTypes = map[string]string{
	".xml": "application/xml", ".cfg": "text/plain; charset=utf-8", ".txt": "text/plain; charset=utf-8",
	".csv": "text/csv; charset=utf-8", ".lang": "text/plain; charset=utf-8",
	".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".bmp": "image/bmp", ".gif": "image/gif",
	".wav": "audio/wav", ".mp3": "audio/mpeg",
	".pem": "application/x-pem-file", ".crt": "application/x-x509-ca-cert", ".cer": "application/x-x509-ca-cert",
}

// Vendors are the families a file may be limited to ("" is all of them).
var Vendors = []string{provisioning.Polycom, provisioning.Yealink, provisioning.AudioCodes}

// FileInput describes an upload: where phones find it and for whom.
type FileInput struct {
	Path, Vendor, Site string
}

// AddFile stores a shared file of at most MaxFile bytes read from r,
// replacing the one with the same path, family and site (created false).
// Contents are read whole (they are capped small) and stored by hash.
func (s *Service) AddFile(ctx context.Context, in FileInput, r io.Reader, actor string) (f File, created bool, err error) {
	in.Path = strings.TrimPrefix(strings.TrimSpace(in.Path), "/prov/")
	in.Vendor = strings.ToLower(strings.TrimSpace(in.Vendor))
	in.Site = strings.TrimSpace(in.Site)
	if in.Vendor == "all" {
		in.Vendor = ""
	}
	if err := provisioning.CheckPath(in.Path); err != nil {
		return f, false, err
	}
	if strings.HasPrefix(strings.ToLower(in.Path), provisioning.CAFilePrefix) {
		return f, false, fault.FieldInvalid("path", "names starting with %s are the CA certificates' own: choose another", provisioning.CAFilePrefix)
	}
	if s.Reserved != nil {
		if err := s.Reserved(in.Path); err != nil {
			return f, false, err
		}
	}
	ct, ok := ContentTypes[strings.ToLower(path.Ext(in.Path))]
	if !ok {
		return f, false, fault.FieldInvalid("path", "deskprov serves phones only files ending in %s: %q is none of them", extList(), clipText(in.Path, 80))
	}
	if in.Vendor != "" && !contains(Vendors, in.Vendor) {
		return f, false, fault.FieldInvalid("vendor", "vendor %q: use polycom, yealink, audiocodes, or leave it empty for every family", clipText(in.Vendor, 40))
	}
	if in.Site != "" {
		if err := checkLabel("site", in.Site); err != nil {
			return f, false, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(r, s.MaxFile+1))
	if err != nil {
		return f, false, fault.Invalidf("the upload was interrupted (%v): nothing was kept, send it again", err).Wrap(err)
	}
	if int64(len(data)) > s.MaxFile {
		return f, false, fault.New(fault.TooLarge, "the file is over the %d-byte limit for one shared file", s.MaxFile)
	}
	if len(data) == 0 {
		return f, false, fault.FieldInvalid("file", "the file is empty")
	}
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	// The contents first: a blob nobody names is harmless and the next
	// upload of the same bytes reuses it, while a row naming a blob that
	// is not there would answer phones 503.
	if err := s.Blobs.Put(ctx, sha, data); err != nil {
		return f, false, err
	}
	var dropped string
	now := s.now()
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var all []File
		if err := store.ForUpdate(tx).Order("id").Find(&all).Error; err != nil {
			return err
		}
		key := strings.ToLower(in.Path)
		total, n := int64(len(data)), 1
		var old *File
		for i := range all {
			if all[i].PathKey == key && all[i].Vendor == in.Vendor && all[i].Site == in.Site {
				old = &all[i]
				continue
			}
			total += all[i].Size
			n++
		}
		if n > s.MaxFiles {
			return fault.Conflictf("deskprov keeps at most %d shared files: remove one first", s.MaxFiles)
		}
		if total > s.MaxTotal {
			return fault.New(fault.TooLarge, "the shared files would take %d bytes, over the %d-byte total: remove some first", total, s.MaxTotal)
		}
		if old != nil {
			f = *old
			if f.SHA256 != sha {
				dropped = f.SHA256
			}
			f.Path, f.SHA256, f.Size, f.ContentType, f.UpdatedAt, f.CreatedBy = in.Path, sha, int64(len(data)), ct, now, actor
			if err := tx.Save(&f).Error; err != nil {
				return err
			}
			return audit.Record(ctx, tx, audit.Change{At: now, Actor: actor, Kind: audit.KindPhoneFile, ObjectID: fileObject(f), Action: "replace", Before: old, After: f})
		}
		created = true
		f = File{Path: in.Path, PathKey: key, Vendor: in.Vendor, Site: in.Site, SHA256: sha, Size: int64(len(data)), ContentType: ct,
			CreatedAt: now, UpdatedAt: now, CreatedBy: actor}
		if err := tx.Create(&f).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Change{At: now, Actor: actor, Kind: audit.KindPhoneFile, ObjectID: fileObject(f), Action: "add", After: f})
	})
	if store.IsUniqueViolation(err) {
		return File{}, false, fault.Conflictf("%s was uploaded for the same family and site meanwhile: send it again to replace it", in.Path)
	}
	if err != nil {
		return File{}, false, err
	}
	s.dropUnused(ctx, dropped)
	return f, created, nil
}

// Files lists the shared files by path, family and site.
func (s *Service) Files(ctx context.Context) ([]File, error) {
	out := []File{}
	return out, s.db.WithContext(ctx).Order("path_key, vendor, site").Find(&out).Error
}

// RemoveFile removes a shared file by its ID.
func (s *Service) RemoveFile(ctx context.Context, id uint, actor string) (File, error) {
	var f File
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("id = ?", id).Limit(1).Find(&f).Error; err != nil {
			return err
		}
		if f.ID == 0 {
			return fault.NotFoundf("no shared file %d", id)
		}
		if err := tx.Where("id = ?", id).Delete(&File{}).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Change{At: s.now(), Actor: actor, Kind: audit.KindPhoneFile, ObjectID: fileObject(f), Action: "remove", Before: f})
	})
	if err != nil {
		return File{}, err
	}
	s.dropUnused(ctx, f.SHA256)
	return f, nil
}

// dropUnused deletes contents no file names any more. Two files may share
// contents (the same ringtone for two families), so it asks first.
func (s *Service) dropUnused(ctx context.Context, sha string) {
	if sha == "" {
		return
	}
	var n int64
	if err := s.db.WithContext(ctx).Model(&File{}).Where("sha256 = ?", sha).Count(&n).Error; err == nil && n == 0 {
		s.Blobs.Delete(ctx, sha)
	}
}

// Find is the shared file served as p to a phone of family vendor ("" when
// unknown) at site ("" for none): a file for that site wins over one for
// every site, then one for that family over one for every family. ok is
// false when deskprov holds none.
func (s *Service) Find(ctx context.Context, vendor, site, p string) (f File, ok bool, err error) {
	snap, err := s.current(ctx)
	if err != nil {
		return f, false, err
	}
	key, best := strings.ToLower(p), -1
	for _, c := range snap.files {
		if c.PathKey != key || (c.Vendor != "" && c.Vendor != vendor) || (c.Site != "" && c.Site != site) {
			continue
		}
		rank := 0
		if c.Site != "" {
			rank += 2
		}
		if c.Vendor != "" {
			rank++
		}
		if rank > best {
			f, best = c, rank
		}
	}
	return f, best >= 0, nil
}

// Open returns a shared file's contents; the caller closes them. Contents
// missing from the blob store are fault.Unavailable with a Retry-After, so
// a phone tries again later rather than taking a 404 as "no such file".
func (s *Service) Open(ctx context.Context, f File) (io.ReadSeekCloser, error) {
	rd, err := s.Blobs.Open(ctx, f.SHA256)
	if fault.Is(err, fault.NotFound) {
		return nil, &fault.Error{Kind: fault.Unavailable, RetryAfter: MissingRetryAfter,
			Message: "the contents of " + f.Path + " are missing from the blob store: upload the file again"}
	}
	return rd, err
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func extList() string {
	return ".xml .cfg .txt .csv .lang .jpg .jpeg .png .bmp .gif .wav .mp3 .pem .crt .cer"
}

// MissingRetryAfter is the Retry-After, in seconds, of a shared file whose
// contents are missing from the blob store.
const MissingRetryAfter = 30

// fileObject names a shared file in the audit log: its ID, which tells two
// files of one path (for other families or sites) apart.
func fileObject(f File) string { return strconv.FormatUint(uint64(f.ID), 10) }
