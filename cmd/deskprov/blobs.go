package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/deskprov/deskprov/blob"
	"github.com/deskprov/deskprov/store"
)

// Blob store kinds for --blob-store.
const (
	blobStoreDB  = "db"
	blobStoreDir = "dir"
)

// blobStoreKind is the store --blob-store names, its default being the
// database with PostgreSQL (every instance reads it) and the data
// directory with SQLite (one machine).
func blobStoreKind(flag string, engine store.Engine) (string, error) {
	switch flag {
	case "":
		if engine == store.Postgres {
			return blobStoreDB, nil
		}
		return blobStoreDir, nil
	case blobStoreDB, blobStoreDir:
		return flag, nil
	}
	return "", fmt.Errorf("--blob-store %q: give db (in the database, shared by every instance on it) or dir (<data-dir>/blobs, this machine only); "+
		"no S3 backend is built, see docs/deploy.md", flag)
}

// openBlobs builds the blob store that keeps firmware images, phones'
// uploads and shared phone files, and clears what an earlier run left
// half-written.
func (a *app) openBlobs(ctx context.Context, o serveOptions) error {
	kind, err := blobStoreKind(o.BlobStore, a.engine)
	if err != nil {
		return err
	}
	var s blob.Store
	var stale int
	switch kind {
	case blobStoreDB:
		d, err := blob.NewDB(a.db, filepath.Join(o.DataDir, "blobcache"))
		if err != nil {
			return err
		}
		stale, err = d.RemoveStale(ctx)
		if err != nil {
			a.log.Warn("could not clear the blob cache of unfinished and deleted files", "dir", d.CacheDir(), "err", err)
		}
		a.log.Info("files (firmware images, phone uploads, shared phone files) are kept in the database", "cache", d.CacheDir())
		s = d
	default:
		d, err := blob.NewDir(filepath.Join(o.DataDir, "blobs"))
		if err != nil {
			return err
		}
		stale, err = d.RemoveStale()
		if err != nil {
			a.log.Warn("could not clear the blob directory of unfinished files", "dir", d.Path(), "err", err)
		}
		if a.engine == store.Postgres {
			a.log.Warn("--blob-store dir with PostgreSQL: files are kept on this machine only, and other instances answer 503 for them", "dir", d.Path())
		} else {
			a.log.Info("files (firmware images, phone uploads, shared phone files) are kept in the data directory", "dir", d.Path())
		}
		s = d
	}
	if stale > 0 {
		a.log.Info("removed blob files an earlier run did not finish, or that the store no longer holds", "count", stale)
	}
	a.blobs = blob.NewShared(s)
	return nil
}

// adoptOld logs what moving an earlier release's files into the blob store
// did.
func (a *app) adoptOld(what string, moved int, left []string, err error) {
	if err != nil {
		a.log.Warn("could not move "+what+" of an earlier release into the blob store", "err", err)
	}
	if moved > 0 {
		a.log.Info("moved "+what+" of an earlier release into the blob store", "count", moved)
	}
	for _, l := range left {
		a.log.Warn("left "+what+" of an earlier release where it was", "file", l)
	}
}
