package webtest

import (
	"path/filepath"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/blob"
	"github.com/deskprov/deskprov/provisioning"
)

// Shared by the tests of several faces (once in web/blob_test.go).

// TestUploads keeps phones' uploads of at most max bytes in db and a blob
// directory of the test's own.
func TestUploads(t testing.TB, db *gorm.DB, max int64) *provisioning.Uploads {
	t.Helper()
	if err := provisioning.Migrate(db); err != nil {
		t.Fatal(err)
	}
	blobs, err := blob.NewDir(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	return provisioning.NewUploads(db, blobs, max)
}
