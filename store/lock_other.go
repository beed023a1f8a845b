//go:build !unix

package store

// LockDataDir is a no-op where flock is not available.
func LockDataDir(dir string) (release func(), err error) { return func() {}, nil }

// LockSQLiteFile is a no-op where flock is not available.
func LockSQLiteFile(path string) (release func(), err error) { return func() {}, nil }
