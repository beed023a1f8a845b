package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/deskprov/deskprov/internal/tempfile"
)

// Dir keeps blobs as files named by their SHA-256 in one directory: the
// data directory's layout when the store is SQLite, one machine.
type Dir struct {
	dir string
}

// NewDir returns the store in dir, creating it.
func NewDir(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create the blob directory %s: %w", dir, err)
	}
	return &Dir{dir: dir}, nil
}

// Path is where the directory is.
func (d *Dir) Path() string { return d.dir }

func (d *Dir) path(sha string) string { return filepath.Join(d.dir, sha) }

// Put stages r in a temporary file and renames it to its hash.
func (d *Dir) Put(ctx context.Context, r io.Reader, max int64) (Info, error) {
	tmp, info, err := stage(d.dir, r, max)
	if err != nil {
		return Info{}, err
	}
	// Renaming over an existing copy is right either way: the bytes are
	// the same, or the old copy was damaged.
	if err := os.Rename(tmp, d.path(info.SHA256)); err != nil {
		os.Remove(tmp)
		return Info{}, err
	}
	return info, nil
}

// Open opens the blob's file.
func (d *Dir) Open(ctx context.Context, sha string) (*os.File, error) {
	if err := checkSHA(sha); err != nil {
		return nil, err
	}
	return os.Open(d.path(sha))
}

// Stat tells the blob's size.
func (d *Dir) Stat(ctx context.Context, sha string) (Info, error) {
	if err := checkSHA(sha); err != nil {
		return Info{}, err
	}
	fi, err := os.Stat(d.path(sha))
	if err != nil {
		return Info{}, err
	}
	return Info{SHA256: sha, Size: fi.Size()}, nil
}

// Delete removes the blob's file. A phone downloading it at that moment
// finishes: the open file outlives its name.
func (d *Dir) Delete(ctx context.Context, sha string) error {
	if !ValidSHA(sha) {
		return nil
	}
	if err := os.Remove(d.path(sha)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// List calls fn for every blob file, in name order.
func (d *Dir) List(ctx context.Context, fn func(Info) error) error {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return err
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
	for _, e := range ents {
		if !ValidSHA(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if err := fn(Info{SHA256: e.Name(), Size: fi.Size()}); err != nil {
			return err
		}
	}
	return nil
}

// RemoveStale removes the temporary files of puts an earlier process was
// killed in the middle of and returns how many. A put in progress (in a
// server sharing the directory) holds a lock on its file and keeps it.
func (d *Dir) RemoveStale() (int, error) {
	return removeStale(d.dir)
}

func removeStale(dir string) (int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tempPrefix) && e.Type().IsRegular() &&
			tempfile.RemoveIfStale(filepath.Join(dir, e.Name()), os.Open, os.Remove) {
			n++
		}
	}
	return n, nil
}

// tempPrefix starts the name of a file being written.
const tempPrefix = ".put-"

// copyBuffer is the size of the buffer a put or fetch streams through.
const copyBuffer = 256 << 10

// stage streams r into a new temporary file in dir while hashing it, and
// returns its path. Nothing is left behind on an error.
func stage(dir string, r io.Reader, max int64) (string, Info, error) {
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return "", Info{}, err
	}
	tempfile.Hold(f) // so that RemoveStale in another server leaves it
	h := sha256.New()
	src := &readErr{r: r}
	var lr io.Reader = src
	if max > 0 {
		lr = io.LimitReader(src, max+1)
	}
	n, err := io.CopyBuffer(io.MultiWriter(f, h), lr, make([]byte, copyBuffer))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if src.err != nil {
		err = fmt.Errorf("%w after %d bytes: %w", ErrRead, n, src.err)
	} else if err == nil && max > 0 && n > max {
		err = fmt.Errorf("%w of %d bytes", ErrTooLarge, max)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", Info{}, err
	}
	return f.Name(), Info{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// readErr remembers the reader's own error, to tell it from the disk's.
type readErr struct {
	r   io.Reader
	err error
}

func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// hashFile is the SHA-256 and size of the file at path.
func hashFile(f *os.File) (Info, error) {
	h := sha256.New()
	n, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, 1<<62), make([]byte, copyBuffer))
	if err != nil {
		return Info{}, err
	}
	return Info{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}
