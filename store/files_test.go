package store_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/deskprov/deskprov/store"
)

func TestSecureDataDir(t *testing.T) {
	t.Run("a data directory of deskprov's own is narrowed", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		os.MkdirAll(filepath.Join(dir, "firmware"), 0o755)
		os.Chmod(dir, 0o755)
		db := filepath.Join(dir, "deskprov.db")
		os.WriteFile(db, nil, 0o644)
		os.Chmod(db, 0o644)
		got, err := store.SecureDataDir(dir, db)
		if err != nil || len(got) != 2 {
			t.Fatalf("%+v %v", got, err)
		}
		for path, want := range map[string]os.FileMode{dir: 0o700, db: 0o600} {
			if fi, _ := os.Stat(path); fi.Mode().Perm() != want {
				t.Errorf("%s: %s", path, fi.Mode().Perm())
			}
		}
	})
	t.Run("a directory that holds other files is reported, not changed", func(t *testing.T) {
		dir := t.TempDir()
		os.Chmod(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "someone-elses.txt"), nil, 0o644)
		got, err := store.SecureDataDir(dir, "")
		if err != nil || len(got) != 1 || got[0].Left == "" {
			t.Fatalf("%+v %v", got, err)
		}
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
			t.Fatalf("changed to %s", fi.Mode().Perm())
		}
	})
}
