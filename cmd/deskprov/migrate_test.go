package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
)

// sharedKeyFile writes one secret key file, as every server on one
// PostgreSQL shares.
func sharedKeyFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "deskprov.key")
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(path, key, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestThreeServersStartedAtOnceOnAnEmptyPostgreSQLAllComeUp(t *testing.T) {
	dsn := storetest.PostgresEmpty(t)
	key := sharedKeyFile(t)
	urls := make([]string, 3)
	var wg sync.WaitGroup
	for i := range urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// startServeWith fails the test when serve stops instead of
			// coming up.
			urls[i] = startServeWith(t, func(o *serveOptions) { o.DB, o.SecretKeyFile = dsn, key })
		}()
	}
	wg.Wait()
	for _, u := range urls {
		if u == "" {
			t.FailNow()
		}
		res, err := http.Get(u + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("%s/readyz: %d", u, res.StatusCode)
		}
	}
}

func TestMigrateThenServeAndANewerSchemaIsRefused(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dataDir, dsn, key := t.TempDir(), "", ""
			if engine == "postgres" {
				dsn, key = storetest.PostgresEmpty(t), sharedKeyFile(t)
			}
			out, err := runCLI(t, "migrate", "--db", dsn, "--data-dir", dataDir)
			cliWant(t, out, err, false, fmt.Sprintf("from version 0 to %d", store.SchemaVersion))
			out, err = runCLI(t, "migrate", "--db", dsn, "--data-dir", dataDir)
			cliWant(t, out, err, false, fmt.Sprintf("at version %d already", store.SchemaVersion))

			db, _, err := store.Open(dsn, dataDir)
			if err != nil {
				t.Fatal(err)
			}
			newer := store.SchemaVersion + 1
			err = db.Exec("UPDATE schema_info SET version = ?, written_by = ?", newer, "v2.0.0").Error
			if sqlDB, e := db.DB(); e == nil {
				sqlDB.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			o := serveOptions{Listen: "127.0.0.1:0", DataDir: dataDir, DB: dsn, SecretKeyFile: key, LogLevel: "error", LogFormat: "text"}
			err = serve(context.Background(), o, io.Discard)
			if err == nil {
				t.Fatal("serve started against a schema newer than it knows")
			}
			for _, want := range []string{fmt.Sprintf("version %d", newer), fmt.Sprintf("version %d that this deskprov knows", store.SchemaVersion), "v2.0.0"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("serve's refusal %q does not say %q", err, want)
				}
			}
			out, err = runCLI(t, "migrate", "--db", dsn, "--data-dir", dataDir)
			cliWant(t, out, err, true, fmt.Sprintf("version %d", newer))
		})
	}
}
