//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// LockDataDir takes the data directory for this process alone, as a SQLite
// store needs: the server keeps the store's generation counters in memory,
// which is right only while no other process writes the file. A second
// server on the same directory is refused, naming the first one's pid. The
// lock goes with the process, however it ends.
func LockDataDir(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, DirMode); err != nil {
		return nil, fmt.Errorf("create the data directory %s: %w", dir, err)
	}
	return lockFile(filepath.Join(dir, "deskprov.lock"), "the data directory "+dir, "give this one another --data-dir")
}

// LockSQLiteFile takes a SQLite store kept outside the data directory
// (--db sqlite://PATH) for this process alone, by a lock file beside it.
func LockSQLiteFile(path string) (release func(), err error) {
	return lockFile(path+".lock", "the SQLite store "+path, "give this one another --db")
}

func lockFile(path, what, instead string) (release func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another deskprov"
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b[:n]))); perr == nil {
				who += " (pid " + strconv.Itoa(pid) + ")"
			}
			return nil, fmt.Errorf("%s is already serving %s: stop it, or %s (a SQLite store belongs to one server; use PostgreSQL to run several)", who, what, instead)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
