package tempfile

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestAHeldFileStaysAndAnAbandonedOneGoes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock")
	}
	dir := t.TempDir()
	held, abandoned := filepath.Join(dir, ".upload-held"), filepath.Join(dir, ".upload-abandoned")
	f, err := os.Create(held)
	if err != nil {
		t.Fatal(err)
	}
	Hold(f)
	if err := os.WriteFile(abandoned, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if RemoveIfStale(held, os.Open, os.Remove) {
		t.Fatal("a file its writer still holds was removed")
	}
	if !RemoveIfStale(abandoned, os.Open, os.Remove) {
		t.Fatal("an abandoned file was kept")
	}
	f.Close() // the writer died
	if !RemoveIfStale(held, os.Open, os.Remove) {
		t.Fatal("a file whose writer is gone was kept")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left %d files", len(ents))
	}
}
