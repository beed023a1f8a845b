package provisioning

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/tempfile"
)

// Uploads keeps the files phones PUT (logs, override files), one directory
// per MAC under a root that symlinks cannot escape (os.Root).
type Uploads struct {
	root *os.Root
	// Max is the largest file accepted, in bytes.
	Max int64
}

// DefaultMaxUpload caps one uploaded file.
const DefaultMaxUpload = 4 << 20

// OpenUploads opens (creating it) the uploads directory.
func OpenUploads(dir string, max int64) (*Uploads, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create the uploads directory: %w", err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open the uploads directory: %w", err)
	}
	if max <= 0 {
		max = DefaultMaxUpload
	}
	return &Uploads{root: r, Max: max}, nil
}

// Close releases the directory.
func (u *Uploads) Close() error { return u.root.Close() }

// UploadInfo describes one stored upload.
type UploadInfo struct {
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	ModifiedAt time.Time `json:"modifiedAt"`
}

// Put stores body as mac's file name, replacing any earlier one. Only names a
// family resolved as Upload reach here, with the MAC in canonical form.
func (u *Uploads) Put(mac, name string, body io.Reader) (UploadInfo, error) {
	if err := u.check(mac, name); err != nil {
		return UploadInfo{}, err
	}
	if err := u.root.MkdirAll(mac, 0o750); err != nil {
		return UploadInfo{}, fmt.Errorf("create the upload directory of %s: %w", mac, err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := mac + "/" + tempPrefix + hex.EncodeToString(rnd[:])
	f, err := u.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return UploadInfo{}, fmt.Errorf("store %s: %w", name, err)
	}
	tempfile.Hold(f) // so that RemoveStale in another server leaves it
	n, err := io.Copy(f, io.LimitReader(body, u.Max+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > u.Max {
		err = fault.New(fault.TooLarge, "%s is over the %d-byte upload limit", name, u.Max)
	}
	if err != nil {
		u.root.Remove(tmp)
		return UploadInfo{}, err
	}
	if err := u.root.Rename(tmp, mac+"/"+name); err != nil {
		u.root.Remove(tmp)
		return UploadInfo{}, fmt.Errorf("store %s: %w", name, err)
	}
	return UploadInfo{Name: name, Size: n, ModifiedAt: time.Now().UTC()}, nil
}

// tempPrefix starts the name of an upload being written.
const tempPrefix = ".tmp-"

// RemoveStale removes the temporary files of uploads an earlier process was
// killed in the middle of, whatever their age, and returns how many it
// removed. An upload in progress (in a server sharing the directory) holds
// a lock on its file and keeps it.
func (u *Uploads) RemoveStale() (int, error) {
	dir, err := u.root.Open(".")
	if err != nil {
		return 0, err
	}
	macs, err := dir.ReadDir(-1)
	dir.Close()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range macs {
		if !m.IsDir() {
			continue
		}
		d, err := u.root.Open(m.Name())
		if err != nil {
			continue
		}
		ents, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			continue
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), tempPrefix) && e.Type().IsRegular() &&
				tempfile.RemoveIfStale(m.Name()+"/"+e.Name(), u.root.Open, u.root.Remove) {
				n++
			}
		}
	}
	return n, nil
}

// Open returns a stored upload; a missing one is fault.NotFound.
func (u *Uploads) Open(mac, name string) (*os.File, UploadInfo, error) {
	if err := u.check(mac, name); err != nil {
		return nil, UploadInfo{}, err
	}
	f, err := u.root.Open(mac + "/" + name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, UploadInfo{}, fault.NotFoundf("%s has not uploaded %s", mac, name)
	}
	if err != nil {
		return nil, UploadInfo{}, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, UploadInfo{}, fault.NotFoundf("%s has not uploaded %s", mac, name)
	}
	return f, UploadInfo{Name: name, Size: st.Size(), ModifiedAt: st.ModTime().UTC()}, nil
}

// List names mac's uploads.
func (u *Uploads) List(mac string) ([]UploadInfo, error) {
	if _, err := ParseMAC(mac); err != nil || len(mac) != 12 {
		return nil, fault.FieldInvalid("mac", "%q is not a canonical MAC", mac)
	}
	d, err := u.root.Open(mac)
	if errors.Is(err, fs.ErrNotExist) {
		return []UploadInfo{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	out := []UploadInfo{}
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name()[0] == '.' {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, UploadInfo{Name: e.Name(), Size: info.Size(), ModifiedAt: info.ModTime().UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
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
