// Package blob keeps files by their SHA-256: firmware images, what phones
// upload, the admin's shared phone files. A blob never changes under its
// name, so any copy of it is right and a copy is checked by hashing it.
//
// Two backends: Dir keeps blobs as files in one directory (the SQLite
// default, one machine); DB keeps them in the store as 1 MiB chunks (the
// PostgreSQL default), so that every instance on one PostgreSQL reads the
// same blobs, each keeping a verified local copy to send with sendfile.
// Neither holds a blob whole in memory.
package blob

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
)

// Info describes a stored blob.
type Info struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Store is a content-addressed blob store.
type Store interface {
	// Put streams r into the store, hashing it on the way in, and returns
	// its SHA-256 and size. Bytes already stored are kept once. More than
	// max bytes (max > 0) is ErrTooLarge and stores nothing; a failing r
	// is an error wrapping ErrRead and stores nothing.
	Put(ctx context.Context, r io.Reader, max int64) (Info, error)
	// Open returns the blob as a file (Range requests and sendfile via
	// http.ServeContent). A blob not in the store is ErrNotExist.
	Open(ctx context.Context, sha string) (*os.File, error)
	// Stat tells a blob's size; ErrNotExist when it is not stored.
	Stat(ctx context.Context, sha string) (Info, error)
	// Delete removes a blob; a missing one is no error.
	Delete(ctx context.Context, sha string) error
	// List calls fn for every stored blob (for garbage collection).
	List(ctx context.Context, fn func(Info) error) error
}

var (
	// ErrNotExist is a blob the store does not hold.
	ErrNotExist = fs.ErrNotExist
	// ErrTooLarge is a Put over its max.
	ErrTooLarge = errors.New("the file is over the size limit")
	// ErrRead wraps the error of the reader given to Put.
	ErrRead = errors.New("the file could not be read to the end")
)

// ValidSHA reports whether s is a SHA-256 in lower-case hex, the only
// names a store takes (so a name is never a path).
func ValidSHA(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil && s == lower(s)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'F' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func checkSHA(sha string) error {
	if !ValidSHA(sha) {
		return &fs.PathError{Op: "open", Path: sha, Err: ErrNotExist}
	}
	return nil
}
