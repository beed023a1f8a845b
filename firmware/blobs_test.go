package firmware

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/blob"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestImagesOfAnEarlierReleaseMoveIntoTheBlobStore: images kept as
// <data-dir>/firmware/<sha256> move into the blob store at start, into a
// blob directory or into the database; files no entry names stay.
func TestImagesOfAnEarlierReleaseMoveIntoTheBlobStore(t *testing.T) {
	stores := map[string]func(t *testing.T, db *gorm.DB) blob.Store{
		"dir": func(t *testing.T, db *gorm.DB) blob.Store {
			d, err := blob.NewDir(filepath.Join(t.TempDir(), "blobs"))
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		"db": func(t *testing.T, db *gorm.DB) blob.Store {
			if err := blob.Migrate(db); err != nil {
				t.Fatal(err)
			}
			d, err := blob.NewDB(db, filepath.Join(t.TempDir(), "blobcache"))
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *gorm.DB) {
				ctx := context.Background()
				if err := Migrate(db); err != nil {
					t.Fatal(err)
				}
				old := filepath.Join(t.TempDir(), "firmware")
				before, err := New(db, old) // an earlier release: images in old
				if err != nil {
					t.Fatal(err)
				}
				img := firmwareTestImport(t, before, "420HD.img", "an old image", ImageMeta{Version: "3.4.6.600"})
				stray := sha256.Sum256([]byte("nobody's"))
				os.WriteFile(filepath.Join(old, hex.EncodeToString(stray[:])), []byte("nobody's"), 0o600)
				wrong := sha256.Sum256([]byte("not this"))
				os.WriteFile(filepath.Join(old, hex.EncodeToString(wrong[:])), []byte("damaged"), 0o600)

				s := NewOn(db, newStore(t, db), old)
				if _, err := s.Open(ctx, img); !fault.Is(err, fault.Unavailable) {
					t.Fatalf("before the move: %v", err)
				}
				moved, left, err := s.AdoptOld(ctx)
				if err != nil || moved != 1 || len(left) != 2 {
					t.Fatalf("moved %d, left %v, %v", moved, left, err)
				}
				f, err := s.Open(ctx, img)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(f)
				f.Close()
				if string(b) != "an old image" {
					t.Fatalf("read %q", b)
				}
				if _, err := os.Stat(filepath.Join(old, img.ID)); !os.IsNotExist(err) {
					t.Fatalf("the moved file is still in the old directory: %v", err)
				}
			})
		})
	}
}
