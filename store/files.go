package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Modes of what the data directory holds: the SQLite store holds password
// hashes, sealed secrets and everyone's sign-in state, and secret.key opens
// the sealed ones, so only the server's own account may read them.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o600
)

// Tightened is one mode SecureDataDir changed, for the log. When Left is
// set the mode was left as it was, for that reason.
type Tightened struct {
	Path     string
	From, To fs.FileMode
	Left     string
}

// dataDirNames are what deskprov keeps at the top of a data directory.
var dataDirNames = map[string]bool{"deskprov.db": true, "deskprov.db-wal": true, "deskprov.db-shm": true,
	"deskprov.db-journal": true, "deskprov.lock": true, "secret.key": true, "firmware": true, "uploads": true,
	"blobs": true, "blobcache": true}

// ownDataDir reports whether dir holds only what deskprov keeps there, so
// that narrowing it takes nothing from anyone else: a data directory given
// as /tmp or a home directory is reported, not changed.
func ownDataDir(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if !dataDirNames[e.Name()] && !strings.HasPrefix(e.Name(), ".secret.key-") {
			return false
		}
	}
	return true
}

// SecureDataDir creates dir with DirMode, or narrows an existing one to it,
// and narrows the SQLite store at sqlitePath (with its -wal and -shm files)
// and every file named in files to FileMode. It returns what it changed, so
// that serve can say so in its log; files that do not exist are skipped.
// SQLite gives a new -wal or -shm file the main file's mode, so once
// deskprov.db is 0600 they are too.
func SecureDataDir(dir, sqlitePath string, files ...string) ([]Tightened, error) {
	var out []Tightened
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return nil, fmt.Errorf("create the data directory %s: %w", dir, err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, err
	} else if mode := fi.Mode().Perm(); mode&^DirMode != 0 && !ownDataDir(dir) {
		out = append(out, Tightened{Path: dir, From: mode, To: mode, Left: "it holds files deskprov did not make; give deskprov a directory of its own, or chmod 700 it"})
	} else {
		t, err := narrow(dir, DirMode)
		if err != nil {
			return nil, err
		}
		out = append(out, t...)
	}
	paths := append([]string{}, files...)
	if sqlitePath != "" {
		paths = append(paths, sqlitePath, sqlitePath+"-wal", sqlitePath+"-shm", sqlitePath+"-journal")
	}
	for _, p := range paths {
		t, err := narrow(p, FileMode)
		if err != nil {
			return out, err
		}
		out = append(out, t...)
	}
	return out, nil
}

// narrow takes away from path's mode every permission beyond limit.
func narrow(path string, limit fs.FileMode) ([]Tightened, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	mode := fi.Mode().Perm()
	if mode&^limit == 0 {
		return nil, nil
	}
	if err := os.Chmod(path, mode&limit); err != nil {
		return nil, fmt.Errorf("narrow the mode of %s to %s: %w", path, limit, err)
	}
	return []Tightened{{Path: path, From: mode, To: mode & limit}}, nil
}

// createPrivate creates path empty with FileMode unless it exists, so that
// SQLite opens a file only the server may read rather than creating one with
// its default 0644.
func createPrivate(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), DirMode); err != nil {
		return fmt.Errorf("create the directory of %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, FileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return f.Close()
}
