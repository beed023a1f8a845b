package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/internal/phoneclient"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestTwoServersOnOneDatabaseShareFiles: two servers on one PostgreSQL,
// each with its own data directory (as on two machines), serve the same
// firmware images and phone uploads (issue 16 item 1).
func TestTwoServersOnOneDatabaseShareFiles(t *testing.T) {
	dsn := storetest.PostgresEmpty(t)
	key := sharedKeyFile(t)
	addrA, addrB := freeAddr(t), freeAddr(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startServeWith(t, func(o *serveOptions) {
		o.DB, o.SecretKeyFile, o.Listen, o.PublicURL, o.DataDir = dsn, key, addrA, "http://"+addrA, dirA
		o.FirmwareRetryAfter = 17
	})
	startServeWith(t, func(o *serveOptions) {
		o.DB, o.SecretKeyFile, o.Listen, o.DataDir = dsn, key, addrB, dirB
		o.FirmwareRetryAfter = 17
	})
	b := "http://" + addrB
	db, _, err := store.Open(dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			s.Close()
		}
	})
	tokA, tokB := cliAPILogin(t, a, "admin-password"), cliAPILogin(t, b, "admin-password")

	// 3 MiB and a bit: several chunks, the last one short.
	image := bytes.Repeat([]byte("T46G firmware 28.83.0.130 "), 121_000)
	sum := sha256.Sum256(image)
	sha := hex.EncodeToString(sum[:])
	const name = "T46-28.83.0.130.rom"
	if st, body := postImage(t, a, tokA, name, image); st != http.StatusCreated {
		t.Fatalf("import on A: %d %s", st, body)
	}
	apiCall(t, a, tokA, "POST", "/api/v1/deviceupdaterules/1/approve", http.StatusOK)
	phone := phoneclient.New(nil, "Yealink SIP-T46G 28.83.0.100 00:15:65:00:00:01")
	for i := range 2 {
		if st, _, body, err := phone.Do(context.Background(), "GET", a+"/prov/001565000001.cfg", nil, nil); err != nil || st != 200 || (i == 1 && !bytes.Contains(body, []byte(name))) {
			t.Fatalf("poll %d on A: %d %v\n%s", i, st, err, body)
		}
	}

	t.Run("the same bytes imported again through B give the existing entry, and B serves them", func(t *testing.T) {
		st, body := postImage(t, b, tokB, name, image)
		if st != http.StatusOK || !strings.Contains(body, sha) {
			t.Fatalf("re-import on B: %d %s", st, body)
		}
		st, _, got, err := phone.Do(context.Background(), "GET", b+"/prov/"+name, nil, nil)
		if err != nil || st != 200 || !bytes.Equal(got, image) {
			t.Fatalf("download from B: %d %v, %d bytes", st, err, len(got))
		}
	})
	t.Run("an image imported on A downloads by ranges from B", func(t *testing.T) {
		os.RemoveAll(filepath.Join(dirB, "blobcache", sha)) // B has no copy yet
		for _, r := range [][2]int{{0, 99}, {1 << 20, 3<<20 + 5}, {len(image) - 10, len(image) - 1}} {
			hdr := http.Header{"Range": {"bytes=" + itoa(r[0]) + "-" + itoa(r[1])}}
			st, h, got, err := phone.Do(context.Background(), "GET", b+"/prov/"+name, nil, hdr)
			if err != nil || st != http.StatusPartialContent || !bytes.Equal(got, image[r[0]:r[1]+1]) {
				t.Fatalf("range %v from B: %d %v %v, %d bytes", r, st, err, h, len(got))
			}
		}
		if _, err := os.Stat(filepath.Join(dirB, "blobcache", sha)); err != nil {
			t.Fatalf("B kept no local copy to send from: %v", err)
		}
	})
	t.Run("a phone's upload written on A is read on B", func(t *testing.T) {
		const up = "/prov/001565000001-local.cfg"
		body := []byte("#!version:1.0.0.1\nlocal.setting = 1\n")
		if st, _, b, err := phone.Do(context.Background(), "PUT", a+up, body, nil); err != nil || st/100 != 2 {
			t.Fatalf("PUT on A: %d %v %s", st, err, b)
		}
		if st, _, got, err := phone.Do(context.Background(), "GET", b+up, nil, nil); err != nil || st != 200 || !bytes.Equal(got, body) {
			t.Fatalf("the phone's GET on B: %d %v %q", st, err, got)
		}
		got := apiCall(t, b, tokB, "GET", "/api/v1/devices/001565000001/uploads/001565000001-local.cfg", http.StatusOK)
		if got != string(body) {
			t.Fatalf("the admin's download on B: %q", got)
		}
		// Its bytes lost from the store: the phone is told to come back.
		usum := sha256.Sum256(body)
		db.Exec("DELETE FROM blobs WHERE sha256 = ?", hex.EncodeToString(usum[:]))
		st, h, _, err := phone.Do(context.Background(), "GET", b+up, nil, nil)
		if err != nil || st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
			t.Fatalf("an upload whose bytes are lost: %d %v Retry-After %q", st, err, h.Get("Retry-After"))
		}
	})
	t.Run("a shared phone file added through A is served by B", func(t *testing.T) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("path", "VVXLocalization/Swedish_Sweden/VVX-dictionary.xml")
		fw, _ := mw.CreateFormFile("file", "dict.xml")
		fw.Write([]byte("<dictionary/>"))
		mw.Close()
		req, _ := http.NewRequest("POST", a+"/api/v1/phonefiles", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+tokA)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("add on A: %d", resp.StatusCode)
		}
		pua := "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"
		if st, body := fetch(t, b+"/prov/VVXLocalization/Swedish_Sweden/VVX-dictionary.xml", pua); st != 200 || body != "<dictionary/>" {
			t.Fatalf("B serves %d %q", st, body)
		}
		dsum := sha256.Sum256([]byte("<dictionary/>"))
		db.Exec("DELETE FROM blobs WHERE sha256 = ?", hex.EncodeToString(dsum[:]))
		req, _ = http.NewRequest("GET", b+"/prov/VVXLocalization/Swedish_Sweden/VVX-dictionary.xml", nil)
		req.Header.Set("User-Agent", pua)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("a shared file whose bytes are lost: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	})
	t.Run("an image removed through B is gone from the store and B's cache", func(t *testing.T) {
		other := bytes.Repeat([]byte("T48G firmware 28.83.0.130 "), 50_000)
		osum := sha256.Sum256(other)
		osha := hex.EncodeToString(osum[:])
		if st, body := postImage(t, a, tokA, "T48-28.83.0.130.rom", other); st != http.StatusCreated {
			t.Fatalf("import on A: %d %s", st, body)
		}
		if _, err := os.Stat(filepath.Join(dirA, "blobcache", osha)); err != nil {
			t.Fatalf("A kept no copy of what it imported: %v", err)
		}
		if got := apiCall(t, b, tokB, "GET", "/api/v1/firmware/"+osha+"/file", http.StatusOK); got != string(other) {
			t.Fatalf("the admin's download from B: %d bytes", len(got))
		}
		if _, err := os.Stat(filepath.Join(dirB, "blobcache", osha)); err != nil {
			t.Fatalf("B kept no copy of what it served: %v", err)
		}
		apiCall(t, b, tokB, "POST", "/api/v1/deviceupdaterules/2/reset", http.StatusOK)
		apiCall(t, b, tokB, "DELETE", "/api/v1/firmware/"+osha, http.StatusNoContent)
		var blobs, chunks int64
		db.Table("blobs").Where("sha256 = ?", osha).Count(&blobs)
		db.Table("blob_chunks").Where("sha256 = ?", osha).Count(&chunks)
		if blobs != 0 || chunks != 0 {
			t.Fatalf("%d blob rows and %d chunks left", blobs, chunks)
		}
		if _, err := os.Stat(filepath.Join(dirB, "blobcache", osha)); !os.IsNotExist(err) {
			t.Fatalf("B's cache kept it: %v", err)
		}
		// A, asked for it, knows it no more (and its copy goes at its next
		// start: blob.DB.RemoveStale).
		apiCall(t, a, tokA, "GET", "/api/v1/firmware/"+osha+"/file", http.StatusNotFound)
	})
	t.Run("an image whose bytes are lost answers 503 with Retry-After, not 404 or 500", func(t *testing.T) {
		db.Exec("DELETE FROM blobs WHERE sha256 = ?", sha)
		for _, base := range []string{a, b} {
			st, h, body, err := phone.Do(context.Background(), "GET", base+"/prov/"+name, nil, nil)
			if err != nil || st != http.StatusServiceUnavailable || h.Get("Retry-After") != "17" {
				t.Fatalf("%s: %d %v Retry-After %q %s", base, st, err, h.Get("Retry-After"), body)
			}
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// postImage imports an image through the REST API.
func postImage(t *testing.T, base, token, fileName string, content []byte) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", fileName)
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/api/v1/firmware", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// apiCall calls the REST API and wants status; it returns the body.
func apiCall(t *testing.T, base, token, method, path string, status int) string {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, body)
	}
	return string(body)
}

func TestBlobStoreFlag(t *testing.T) {
	for _, c := range []struct {
		flag   string
		engine store.Engine
		want   string
	}{
		{"", store.Postgres, blobStoreDB},
		{"", store.SQLite, blobStoreDir},
		{"dir", store.Postgres, blobStoreDir},
		{"db", store.SQLite, blobStoreDB},
	} {
		if got, err := blobStoreKind(c.flag, c.engine); err != nil || got != c.want {
			t.Errorf("--blob-store %q on %s: %q, %v; want %q", c.flag, c.engine, got, err, c.want)
		}
	}
	for _, bad := range []string{"s3://bucket", "postgres", "DB"} {
		_, err := blobStoreKind(bad, store.Postgres)
		if err == nil || !strings.Contains(err.Error(), "docs/deploy.md") || !strings.Contains(err.Error(), bad) {
			t.Errorf("--blob-store %q: %v", bad, err)
		}
	}
}
