package main

import (
	"context"
	"fmt"
	"github.com/deskprov/deskprov/blob"
	"runtime/debug"

	"github.com/spf13/cobra"
	"gorm.io/gorm"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/phonefiles"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/settings"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/site"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/tlsticket"
)

// migrations are every package's Migrate, in the order serve has always run
// them (store's own tables come first, in store.MigrateAll).
var migrations = []func(*gorm.DB) error{tenant.Migrate, policy.Migrate, provisioning.Migrate, site.Migrate, phonefiles.Migrate, firmware.Migrate, signin.Migrate, phoneid.Migrate, settings.Migrate, blob.Migrate, tlsticket.Migrate}

// migrateStore brings the schema up to this build's, one instance at a time
// (store.MigrateAll), and refuses a schema a newer deskprov wrote.
func migrateStore(ctx context.Context, db *gorm.DB) (before int, err error) {
	return store.MigrateAll(ctx, db, buildName(), migrations...)
}

// buildName names this build in the schema record: the module version and
// the commit it was built from, when Go recorded them.
func buildName() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	name := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			name += " " + s.Value[:12]
		}
	}
	if name == "" {
		name = "unknown"
	}
	return name
}

func init() {
	var dsn, dataDir string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema, then exit",
		Long: `Create or upgrade the database schema to this deskprov's version, then exit.

serve migrates at start as well; run migrate first when a deployment upgrades the schema
before rolling new servers out (docs/deploy.md). Several migrations at once are safe: on
PostgreSQL they take an advisory lock and run one after another. A schema written by a
newer deskprov is refused, naming both versions. With SQLite, migrate takes the data
directory's lock, so it is refused while a server runs on it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, engine, err := store.Open(dsn, dataDir)
			if err != nil {
				return err
			}
			defer func() {
				if sqlDB, err := db.DB(); err == nil {
					sqlDB.Close()
				}
			}()
			if engine == store.SQLite {
				release, err := store.LockDataDir(dataDir)
				if err != nil {
					return err
				}
				defer release()
			}
			before, err := migrateStore(cmd.Context(), db)
			if err != nil {
				return err
			}
			if before == store.SchemaVersion {
				fmt.Fprintf(cmd.OutOrStdout(), "the schema is at version %d already\n", before)
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "migrated the schema from version %d to %d\n", before, store.SchemaVersion)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dsn, "db", "", "database DSN, as serve's --db: empty for SQLite in the data dir, or postgres://user:pass@host/db")
	f.StringVar(&dataDir, "data-dir", "./deskprov-data", "data directory, as serve's --data-dir (for SQLite)")
	rootCmd.AddCommand(cmd)
}
