// Package tempfile tells deskprov's own temporary files that a live upload
// is still writing from those a killed process left behind. A writer holds
// an exclusive flock on its temporary file for as long as it has it open;
// at start, a temporary file nobody holds a lock on is stale whatever its
// age, so it goes, while an upload in progress in another server sharing
// the directory keeps its file.
package tempfile

import "os"

// Hold marks f as being written for as long as it stays open. Where locks
// are not to be had it does nothing, and RemoveIfStale then takes every file.
func Hold(f *os.File) { hold(f) }

// RemoveIfStale removes the file at path when no writer holds it, and
// reports whether it did. open opens the file (os.Open, or an os.Root's
// Open for a directory a path must not escape); remove removes it.
func RemoveIfStale(path string, open func(string) (*os.File, error), remove func(string) error) bool {
	f, err := open(path)
	if err != nil {
		return false
	}
	free := unheld(f)
	// Removed while open: the lock taken stays until Close, so a writer
	// that comes along meanwhile cannot be confused with this one.
	removed := free && remove(path) == nil
	f.Close()
	return removed
}
