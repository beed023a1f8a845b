package blob

import (
	"context"
	"fmt"
	"os"
	"sync"
)

// Holder reports whether something (a firmware image, a phone's upload, a
// shared phone file) still names the blob sha.
type Holder func(ctx context.Context, sha string) (bool, error)

// Shared is one store that several owners put into: the same bytes
// uploaded as an image and as a phone file are one blob, so a blob is
// deleted only when no owner holds it any more (Release).
type Shared struct {
	Store
	mu      sync.Mutex
	holders []Holder
}

// NewShared wraps s.
func NewShared(s Store) *Shared { return &Shared{Store: s} }

// Hold adds an owner that Release asks before deleting.
func (s *Shared) Hold(h Holder) {
	s.mu.Lock()
	s.holders = append(s.holders, h)
	s.mu.Unlock()
}

// Held reports whether any owner holds sha.
func (s *Shared) Held(ctx context.Context, sha string) (bool, error) {
	s.mu.Lock()
	hs := append([]Holder(nil), s.holders...)
	s.mu.Unlock()
	for _, h := range hs {
		if held, err := h(ctx, sha); err != nil || held {
			return held, err
		}
	}
	return false, nil
}

// Release deletes sha from s unless own or, when s is Shared, any other
// owner still holds it. Call it after the owner's own row naming sha is
// gone. Between the check and the delete another owner may start naming
// the same bytes; that owner's next put of them stores them again.
func Release(ctx context.Context, s Store, sha string, own Holder) error {
	if own != nil {
		if held, err := own(ctx, sha); err != nil || held {
			return err
		}
	}
	if sh, ok := s.(*Shared); ok {
		if held, err := sh.Held(ctx, sha); err != nil || held {
			return err
		}
	}
	return s.Delete(ctx, sha)
}

// DirOf is the Dir under s, or nil when s keeps blobs elsewhere.
func DirOf(s Store) *Dir {
	if sh, ok := s.(*Shared); ok {
		s = sh.Store
	}
	d, _ := s.(*Dir)
	return d
}

// Adopt moves the file at path, which must hash to sha, into s: a file of
// an earlier release's layout. Into a Dir it is renamed (no copy); into
// another store it is copied, and removed once stored.
func Adopt(ctx context.Context, s Store, path, sha string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if d := DirOf(s); d != nil {
		got, err := hashFile(f)
		if err != nil {
			return err
		}
		if got.SHA256 != sha {
			return fmt.Errorf("it hashes to %s, not its name", got.SHA256)
		}
		return os.Rename(path, d.path(sha))
	}
	info, err := s.Put(ctx, f, 0)
	if err != nil {
		return err
	}
	if info.SHA256 != sha {
		Release(ctx, s, info.SHA256, nil)
		return fmt.Errorf("it hashes to %s, not its name", info.SHA256)
	}
	return os.Remove(path)
}
