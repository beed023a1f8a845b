package firmware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/blob"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/tempfile"
	"github.com/deskprov/deskprov/store"
)

// Image is one certified firmware file in the catalog. Its ID is its SHA-256.
type Image struct {
	ID       string `gorm:"primaryKey;size:64"`
	Vendor   string `gorm:"size:16;not null;index:idx_fw_image_name"`
	FileName string `gorm:"size:200;not null;index:idx_fw_image_name"`
	Models   string `gorm:"size:400;not null"`
	Version  string `gorm:"size:64;not null"`
	Revision string `gorm:"size:64;not null;default:''"`
	Locale   string `gorm:"size:32;not null;default:''"`
	// Edition is told from the version (Edition): "skype", "sip" or "".
	Edition   string    `gorm:"size:16;not null;default:''"`
	Size      int64     `gorm:"not null"`
	CreatedAt time.Time `gorm:"not null"`
	CreatedBy string    `gorm:"size:200"`
}

func (Image) TableName() string { return "firmware_images" }

// ModelList is the models the image is for.
func (i Image) ModelList() []string { return strings.Split(i.Models, ",") }

// ImageView is an image as the API shows it (and the CLI reads it).
type ImageView struct {
	ID        string    `json:"id"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	Vendor    string    `json:"vendor"`
	Models    []string  `json:"models"`
	Version   string    `json:"version"`
	FileName  string    `json:"fileName"`
	Revision  string    `json:"revision,omitempty"`
	Locale    string    `json:"locale,omitempty"`
	Edition   string    `json:"edition,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	CreatedBy string    `json:"createdBy,omitempty"`
}

// MarshalJSON writes the API view.
func (i Image) MarshalJSON() ([]byte, error) {
	return json.Marshal(ImageView{i.ID, i.ID, i.Size, i.Vendor, i.ModelList(), i.Version, i.FileName, i.Revision, i.Locale, i.Edition, i.CreatedAt, i.CreatedBy})
}

// Upload is an image received in full, hashed and in the blob store, not
// yet in the catalog. Commit it or Discard it.
type Upload struct {
	s      *Service
	SHA256 string
	Size   int64
	done   bool
}

// Discard drops the stored blob unless the catalog (or another owner of
// the blob store) names it. Safe to call twice and after Commit.
func (u *Upload) Discard() {
	if u == nil || u.done {
		return
	}
	u.done = true
	// Under a context of its own: the upload's request may be gone.
	blob.Release(context.Background(), u.s.blobs, u.SHA256, u.s.Holds)
}

// tempPrefix started the name of an upload being written in the firmware
// directory of earlier releases.
const tempPrefix = ".upload-"

// Stage streams r into the blob store while hashing it, so an image is
// never held whole in memory. A read error or an image over MaxUpload
// leaves nothing behind.
func (s *Service) Stage(ctx context.Context, r io.Reader) (*Upload, error) {
	info, err := s.blobs.Put(ctx, r, s.MaxUpload)
	switch {
	case errors.Is(err, blob.ErrTooLarge):
		return nil, fault.New(fault.TooLarge, "the image is over %d bytes", s.MaxUpload)
	case errors.Is(err, blob.ErrRead):
		return nil, fault.Invalidf("the upload was interrupted (%v): nothing was kept, send it again", err).Wrap(err)
	case err != nil:
		return nil, err
	}
	u := &Upload{s: s, SHA256: info.SHA256, Size: info.Size}
	if info.Size == 0 {
		u.Discard()
		return nil, fault.FieldInvalid("file", "the image is empty")
	}
	return u, nil
}

// Commit adds a staged upload to the catalog under its SHA-256, reading
// vendor, models and version from fileName where given leaves them out. The
// image becomes the pending version of the rule of each model it is for.
// The same bytes uploaded again (even concurrently) give the existing entry
// and created=false, or a conflict when they now say another vendor, model,
// version, revision or locale than the entry does (the file name alone may
// differ). The blob stays only while the catalog names it.
func (s *Service) Commit(ctx context.Context, u *Upload, fileName string, given ImageMeta, actor string) (img Image, created bool, err error) {
	defer u.Discard()
	meta, err := ParseMeta(fileName, given)
	if err != nil {
		return Image{}, false, err
	}
	if existing, err := s.Image(ctx, u.SHA256); err == nil {
		return existing, false, sameImage(existing, meta)
	} else if !fault.Is(err, fault.NotFound) {
		return Image{}, false, err
	}
	img = Image{ID: u.SHA256, Vendor: meta.Vendor, FileName: meta.FileName, Models: strings.Join(meta.Models, ","),
		Version: meta.Version, Revision: meta.Revision, Locale: meta.Locale, Edition: meta.Edition, Size: u.Size, CreatedAt: s.now(), CreatedBy: actor}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(&img).Error; err != nil {
			return err
		}
		for _, m := range meta.Models {
			r, err := s.ruleFor(tx, meta.Vendor, m, meta.Revision, meta.Locale, meta.Edition, true, meta.Certified)
			if err != nil {
				return err
			}
			if err := tx.Model(&r).Updates(map[string]any{"pending_image": img.ID, "updated_at": s.now()}).Error; err != nil {
				return err
			}
			r.PendingImage = img.ID
			if r.AutoApprove {
				if err := s.autoApprove(tx, r, img, actor); err != nil {
					return err
				}
			}
		}
		return s.audit(tx, actor, "import", img.ID, meta.Vendor+" "+img.Models+" "+img.Version+" "+img.FileName)
	})
	if err != nil {
		if store.IsUniqueViolation(err) {
			if existing, gerr := s.Image(ctx, u.SHA256); gerr == nil {
				return existing, false, sameImage(existing, meta)
			}
		}
		return Image{}, false, err
	}
	u.done = true
	return img, true, nil
}

// sameImage is nil when meta describes the catalog entry existing, and a
// conflict naming both when it does not: one image cannot be two versions.
func sameImage(existing Image, meta ImageMeta) error {
	had, gave := strings.Split(existing.Models, ","), slices.Clone(meta.Models)
	slices.Sort(had)
	slices.Sort(gave)
	if existing.Vendor == meta.Vendor && slices.Equal(had, gave) && existing.Version == meta.Version &&
		existing.Revision == meta.Revision && existing.Locale == meta.Locale {
		return nil
	}
	describe := func(vendor, models, version, rev, loc string) string {
		d := vendor + " " + models + " version " + version
		if rev != "" || loc != "" {
			d += " (revision " + rev + ", locale " + loc + ")"
		}
		return d
	}
	return fault.Conflictf("this image (SHA-256 %s) is already in the catalog as %s; the same bytes cannot also be %s. Check the version and models you gave",
		existing.ID, describe(existing.Vendor, existing.Models, existing.Version, existing.Revision, existing.Locale),
		describe(meta.Vendor, strings.Join(meta.Models, ","), meta.Version, meta.Revision, meta.Locale))
}

// Image returns one catalog entry.
func (s *Service) Image(ctx context.Context, id string) (Image, error) {
	var img Image
	err := s.db.WithContext(ctx).Where("id = ?", strings.ToLower(id)).Limit(1).Find(&img).Error
	if err != nil {
		return img, err
	}
	if img.ID == "" {
		return img, fault.NotFoundf("no firmware image %s", id)
	}
	return img, nil
}

// Remove takes an image out of the catalog and deletes its file. id is its
// SHA-256 or a prefix of it of at least 8 hex digits that names one image
// (firmware list shows 12). An image a rule holds as its pending, approved
// or restore version, or that an unfinished rollout installs or replaces,
// stays: the conflict says which. A phone downloading it at that moment
// finishes (the open file outlives its name).
func (s *Service) Remove(ctx context.Context, id, actor string) (Image, error) {
	img, err := s.imageByPrefix(ctx, id)
	if err != nil {
		return Image{}, err
	}
	err = s.tx(ctx, func(tx *gorm.DB) error {
		var rules []Rule
		if err := store.ForUpdate(tx).Where("pending_image = ? OR approved_image = ? OR restore_image = ?", img.ID, img.ID, img.ID).
			Order("id").Find(&rules).Error; err != nil {
			return err
		}
		if len(rules) > 0 {
			r := rules[0]
			as := "restore"
			switch img.ID {
			case r.PendingImage:
				as = "pending"
			case r.ApprovedImage:
				as = "approved"
			}
			return fault.Conflictf("%s %s is the %s version of device update rule %d (%s %s)%s: approve or reset that rule so it no longer holds this image first",
				img.Vendor, img.Version, as, r.ID, r.Vendor, r.Model, moreRules(len(rules)-1))
		}
		var ros []Rollout
		if err := tx.Where("state IN ? AND (image = ? OR from_image = ? OR prev_restore = ?)", activeStates, img.ID, img.ID, img.ID).
			Order("id").Find(&ros).Error; err != nil {
			return err
		}
		if len(ros) > 0 {
			return fault.Conflictf("rollout %d (%s) still uses %s %s: finish or cancel it first", ros[0].ID, ros[0].State, img.Vendor, img.Version)
		}
		res := tx.Where("id = ?", img.ID).Delete(&Image{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fault.NotFoundf("no firmware image %s", img.ID) // removed meanwhile
		}
		return s.audit(tx, actor, "remove", img.ID, img.Vendor+" "+img.Models+" "+img.Version+" "+img.FileName)
	})
	if err != nil {
		return Image{}, err
	}
	// After the commit: a crash in between leaves a blob no entry names,
	// which the next upload of the same bytes takes over.
	if err := blob.Release(ctx, s.blobs, img.ID, s.Holds); err != nil {
		return img, fmt.Errorf("the catalog entry is removed, but its file is not: %w", err)
	}
	return img, nil
}

func moreRules(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return " and of 1 more rule"
	}
	return fmt.Sprintf(" and of %d more rules", n)
}

// imageByPrefix finds the one image whose SHA-256 is id or starts with it.
func (s *Service) imageByPrefix(ctx context.Context, id string) (Image, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if len(id) < 8 || len(id) > 64 || strings.Trim(id, "0123456789abcdef") != "" {
		return Image{}, fault.FieldInvalid("id", "give the image's SHA-256, or at least its first 8 hex digits as firmware list shows them, not %q", id)
	}
	var imgs []Image
	if err := s.db.WithContext(ctx).Where("id LIKE ?", id+"%").Order("id").Limit(2).Find(&imgs).Error; err != nil {
		return Image{}, err
	}
	switch len(imgs) {
	case 0:
		return Image{}, fault.NotFoundf("no firmware image %s", id)
	case 1:
		return imgs[0], nil
	}
	return Image{}, fault.Invalidf("%s starts more than one image's SHA-256 (%s, %s, …): give more of it", id, imgs[0].ID[:16], imgs[1].ID[:16])
}

// Images lists the catalog, newest first, optionally for one vendor.
func (s *Service) Images(ctx context.Context, vendor string) ([]Image, error) {
	q := s.db.WithContext(ctx).Order("created_at DESC, id")
	if vendor != "" {
		q = q.Where("vendor = ?", strings.ToLower(vendor))
	}
	out := []Image{}
	return out, q.Find(&out).Error
}

// Open opens an image's file for reading. An image whose blob is missing
// is fault.Unavailable: a phone tries again later rather than taking a 404
// as "no such image".
func (s *Service) Open(ctx context.Context, img Image) (*os.File, error) {
	f, err := s.blobs.Open(ctx, img.ID)
	if errors.Is(err, blob.ErrNotExist) {
		return nil, fault.New(fault.Unavailable, "the file of image %s is missing from the blob store", img.ID).Wrap(err)
	}
	return f, err
}

// Offered finds the image named name that deskprov offers the phone asking
// for it (issue 14, item 13: an image goes only to a phone it is offered
// to). dev is what the request tells of the phone. A phone deskprov
// follows (its MAC is known, from the User-Agent or path) gets only the
// image its current offer names. A request that names no followed phone
// (Polycom's and AudioCodes Skype builds' image requests carry no MAC; a
// Lync Phone Edition file URL) gets an image of that name only while it is
// offered to at least one followed phone of the model and edition the
// request tells, when it tells them. ok is false when no image has that
// name; a named image offered to nobody asking is a fault.NotFound saying so.
func (s *Service) Offered(ctx context.Context, vendor, name string, dev Device) (Image, bool, error) {
	vendor = strings.ToLower(vendor)
	var cands []Image
	err := s.db.WithContext(ctx).Where("vendor = ? AND LOWER(file_name) = ?", vendor, strings.ToLower(name)).
		Order("created_at DESC").Find(&cands).Error
	if err != nil || len(cands) == 0 {
		return Image{}, false, err
	}
	img, err := s.offeredAmong(ctx, vendor, cands, dev)
	if err != nil {
		if fault.Is(err, fault.NotFound) {
			return Image{}, true, fault.NotFoundf("%s is not offered to this phone: deskprov serves a firmware image only to a phone its configuration offers it to (%v)", name, err)
		}
		return Image{}, true, err
	}
	return img, true, nil
}

// OfferedImage is Offered for one catalog entry (Lync Phone Edition's
// /RequestHandler/Files/<sha256>/<name>).
func (s *Service) OfferedImage(ctx context.Context, img Image, dev Device) error {
	_, err := s.offeredAmong(ctx, img.Vendor, []Image{img}, dev)
	return err
}

func (s *Service) offeredAmong(ctx context.Context, vendor string, cands []Image, dev Device) (Image, error) {
	db := s.db.WithContext(ctx)
	if mac := NormalizeMAC(dev.MAC); mac != "" {
		var st deviceState
		if err := db.Where("mac = ?", mac).Limit(1).Find(&st).Error; err != nil {
			return Image{}, err
		}
		if st.MAC != "" {
			for _, c := range cands {
				if st.OfferedImage == c.ID {
					return c, nil
				}
			}
			if st.OfferedImage == "" {
				return Image{}, fault.NotFoundf("phone %s is offered no firmware", mac)
			}
			return Image{}, fault.NotFoundf("phone %s is offered another image", mac)
		}
	}
	ids := make([]string, len(cands))
	for i, c := range cands {
		ids[i] = c.ID
	}
	q := db.Model(&deviceState{}).Distinct("offered_image").Where("vendor = ? AND offered_image IN ?", vendor, ids)
	what := vendor
	if m := NormalizeModel(vendor, dev.Model); m != "" {
		q, what = q.Where("model = ?", m), what+" "+m
	}
	if v := strings.TrimSpace(dev.Version); v != "" {
		q = q.Where("edition = ?", Edition(vendor, v))
	}
	var offered []string
	if err := q.Pluck("offered_image", &offered).Error; err != nil {
		return Image{}, err
	}
	cands = slices.DeleteFunc(slices.Clone(cands), func(c Image) bool { return !slices.Contains(offered, c.ID) })
	if len(cands) == 0 {
		return Image{}, fault.NotFoundf("no %s phone of that edition is offered it", what)
	}
	if len(cands) > 1 {
		// Several versions share the name (Polycom's part numbers carry no
		// version) and each is offered to some phone: a phone that cannot
		// be told apart gets the approved one before a test device's
		// pending one, then the newest.
		ids = ids[:0]
		for _, c := range cands {
			ids = append(ids, c.ID)
		}
		var rules []Rule
		if err := db.Where("approved_image IN ? OR pending_image IN ?", ids, ids).Find(&rules).Error; err != nil {
			return Image{}, err
		}
		rank := map[string]int{}
		for _, r := range rules {
			rank[r.ApprovedImage] = 2
			if rank[r.PendingImage] < 1 {
				rank[r.PendingImage] = 1
			}
		}
		sort.SliceStable(cands, func(i, j int) bool { return rank[cands[i].ID] > rank[cands[j].ID] })
	}
	return cands[0], nil
}

// RemoveStaleUploads removes the temporary files of uploads an earlier
// release was killed in the middle of in the firmware directory, whatever
// their age, and returns how many it removed. An upload in progress (in a
// server sharing the directory) holds a lock on its file and keeps it.
func (s *Service) RemoveStaleUploads() (int, error) {
	if s.dir == "" {
		return 0, nil
	}
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tempPrefix) && e.Type().IsRegular() &&
			tempfile.RemoveIfStale(filepath.Join(s.dir, e.Name()), os.Open, os.Remove) {
			n++
		}
	}
	return n, nil
}

// AdoptOld moves the images earlier releases kept as files in the firmware
// directory into the blob store, and returns how many it moved. A file
// that no catalog entry names, or that does not hash to its name, stays
// where it is (and is reported).
func (s *Service) AdoptOld(ctx context.Context) (moved int, left []string, err error) {
	if s.dir == "" {
		return 0, nil, nil
	}
	if d := blob.DirOf(s.blobs); d != nil && filepath.Clean(d.Path()) == filepath.Clean(s.dir) {
		return 0, nil, nil // the store is that directory
	}
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	for _, e := range ents {
		if !blob.ValidSHA(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(s.dir, e.Name())
		if held, err := s.Holds(ctx, e.Name()); err != nil {
			return moved, left, err
		} else if !held {
			left = append(left, path+" (no catalog entry names it)")
			continue
		}
		if err := blob.Adopt(ctx, s.blobs, path, e.Name()); err != nil {
			left = append(left, fmt.Sprintf("%s (%v)", path, err))
			continue
		}
		moved++
	}
	return moved, left, nil
}
