package main

import (
	"log/slog"
	"os"
	"path/filepath"

	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/store"
)

// secureDataDir narrows the data directory to 0700 and the SQLite store and
// the key file in it to 0600, saying in the log what was wider (a data
// directory made by an earlier version, or copied in by hand).
func secureDataDir(o serveOptions, engine store.Engine, log *slog.Logger) error {
	sqlitePath := ""
	if engine == store.SQLite {
		sqlitePath = store.SQLitePath(o.DB, o.DataDir)
	}
	var keys []string
	if o.SecretKeyFile == "" {
		keys = append(keys, filepath.Join(o.DataDir, sealbox.KeyFileName))
	} else if fi, err := os.Stat(o.SecretKeyFile); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the secret key file can be read by other accounts: chmod 600 it", "key_file", o.SecretKeyFile, "mode", fi.Mode().Perm().String())
	}
	fixed, err := store.SecureDataDir(o.DataDir, sqlitePath, keys...)
	for _, f := range fixed {
		if f.Left != "" {
			log.Warn("the data directory can be entered by other accounts and was left as it is", "path", f.Path, "mode", f.From.String(), "why", f.Left)
			continue
		}
		log.Warn("narrowed the mode of a file in the data directory", "path", f.Path, "was", f.From.String(), "now", f.To.String())
	}
	return err
}
