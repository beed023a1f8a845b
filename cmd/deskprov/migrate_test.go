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
	"testing"
	"time"

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
	t.Setenv("DESKPROV_ADMIN_PASSWORD", "admin-password")
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make([]string, 3)
	done := make(chan error, len(addrs))
	start := make(chan struct{})
	for i := range addrs {
		addrs[i] = freeAddr(t)
		o := serveOptions{Listen: addrs[i], DataDir: t.TempDir(), DB: dsn, SecretKeyFile: key, LogLevel: "error", LogFormat: "text"}
		go func() {
			<-start
			done <- serve(ctx, o, io.Discard)
		}()
	}
	running := len(addrs)
	t.Cleanup(func() {
		cancel()
		for range running {
			if err := <-done; err != nil {
				t.Errorf("serve returned %v after shutdown", err)
			}
		}
	})
	close(start)
	deadline := time.Now().Add(60 * time.Second)
	for _, addr := range addrs {
		for {
			res, err := http.Get("http://" + addr + "/readyz")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					break
				}
			}
			select {
			case err := <-done:
				running--
				t.Fatalf("a server stopped instead of coming up: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s did not come up: %v", addr, err)
			}
			time.Sleep(50 * time.Millisecond)
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
