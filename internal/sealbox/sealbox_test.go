package sealbox

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func newBox(t *testing.T) *Box {
	t.Helper()
	b, err := New(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpenRoundTrip(t *testing.T) {
	b := newBox(t)
	const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	s1, err := b.Seal(secret, "users:1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s1, "v1:") || strings.Contains(s1, secret) {
		t.Fatalf("sealed value %q", s1)
	}
	if len(s1) > 100 {
		t.Fatalf("sealed TOTP secret is %d characters; the columns hold 100", len(s1))
	}
	s2, _ := b.Seal(secret, "users:1")
	if s1 == s2 {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	for _, s := range []string{s1, s2} {
		got, err := b.Open(s, "users:1")
		if err != nil || got != secret {
			t.Fatalf("open = %q, %v", got, err)
		}
	}
	if s, err := b.Seal("", "users:1"); s != "" || err != nil {
		t.Fatalf("empty seals to %q, %v", s, err)
	}
}

func TestOpenRefusesWrongKeyTamperingAndAnotherRow(t *testing.T) {
	b := newBox(t)
	sealed, err := b.Seal("JBSWY3DPEHPK3PXP", "users:1")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("wrong key", func(t *testing.T) {
		if _, err := newBox(t).Open(sealed, "users:1"); !errors.Is(err, ErrOpen) {
			t.Fatalf("err = %v, want ErrOpen", err)
		}
	})
	t.Run("tampered ciphertext", func(t *testing.T) {
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, Prefix))
		for i := range raw {
			bad := bytes.Clone(raw)
			bad[i] ^= 1
			if _, err := b.Open(Prefix+base64.StdEncoding.EncodeToString(bad), "users:1"); !errors.Is(err, ErrOpen) {
				t.Fatalf("flipping byte %d: err = %v, want ErrOpen", i, err)
			}
		}
		for _, bad := range []string{"v1:", "v1:!!!", "v1:" + base64.StdEncoding.EncodeToString(raw[:20])} {
			if _, err := b.Open(bad, "users:1"); !errors.Is(err, ErrOpen) {
				t.Fatalf("%q: err = %v, want ErrOpen", bad, err)
			}
		}
	})
	t.Run("copied to another row", func(t *testing.T) {
		if _, err := b.Open(sealed, "users:2"); !errors.Is(err, ErrOpen) {
			t.Fatalf("err = %v, want ErrOpen", err)
		}
	})
	t.Run("no key", func(t *testing.T) {
		var none *Box
		if _, err := none.Open(sealed, "users:1"); !errors.Is(err, ErrNoKey) {
			t.Fatalf("open: %v", err)
		}
		if _, err := none.Seal("x", "users:1"); !errors.Is(err, ErrNoKey) {
			t.Fatalf("seal: %v", err)
		}
	})
}

func TestLegacyClearValuesOpenAsThemselves(t *testing.T) {
	for _, b := range []*Box{newBox(t), nil} {
		got, err := b.Open("JBSWY3DPEHPK3PXP", "users:1")
		if err != nil || got != "JBSWY3DPEHPK3PXP" {
			t.Fatalf("open legacy = %q, %v", got, err)
		}
	}
	if Sealed("JBSWY3DPEHPK3PXP") || !Sealed("v1:abc") {
		t.Fatal("Sealed tells legacy from sealed wrongly")
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	key := newKey(t)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("32 raw bytes", func(t *testing.T) {
		got, err := LoadKeyFile(write("raw.key", key))
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("%x, %v", got, err)
		}
	})
	t.Run("64 hex digits and a newline", func(t *testing.T) {
		got, err := LoadKeyFile(write("hex.key", []byte(hex.EncodeToString(key)+"\n")))
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("%x, %v", got, err)
		}
	})
	for name, data := range map[string][]byte{
		"16 bytes":               key[:16],
		"33 bytes":               append(bytes.Clone(key), 'x'),
		"empty":                  nil,
		"64 characters, not hex": []byte(strings.Repeat("g", 64)),
	} {
		t.Run("refused: "+name, func(t *testing.T) {
			p := write("bad.key", data)
			_, err := LoadKeyFile(p)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, want := range []string{p, "32 random bytes or 64 hex digits", "head -c 32 /dev/urandom > deskprov.key"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not say %q", err, want)
				}
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := LoadKeyFile(filepath.Join(dir, "nope.key"))
		if err == nil || !strings.Contains(err.Error(), "head -c 32") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestLoadPicksTheKey(t *testing.T) {
	t.Run("PostgreSQL without a key file is refused", func(t *testing.T) {
		_, _, err := Load("", t.TempDir(), true)
		if err == nil {
			t.Fatal("accepted")
		}
		for _, want := range []string{"--secret-key-file", "Every server sharing the database needs the same key file", "head -c 32 /dev/urandom > deskprov.key"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q does not say %q", err, want)
			}
		}
	})
	t.Run("PostgreSQL with a key file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "deskprov.key")
		os.WriteFile(p, newKey(t), 0o600)
		b, src, err := Load(p, "", true)
		if err != nil || b == nil || src != p {
			t.Fatalf("%v %q %v", b, src, err)
		}
	})
	t.Run("SQLite creates secret.key in the data directory once, mode 0600", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		b1, src, err := Load("", dir, false)
		if err != nil {
			t.Fatal(err)
		}
		if src != filepath.Join(dir, "secret.key") {
			t.Fatalf("source %q", src)
		}
		fi, err := os.Stat(src)
		if err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != KeySize {
			t.Fatalf("key file: %v %v", fi, err)
		}
		sealed, _ := b1.Seal("JBSWY3DPEHPK3PXP", "x")
		b2, _, err := Load("", dir, false)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := b2.Open(sealed, "x"); err != nil || got != "JBSWY3DPEHPK3PXP" {
			t.Fatalf("second start does not open the first's values: %q %v", got, err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Fatalf("data dir holds %d files, want only secret.key", len(entries))
		}
	})
	t.Run("SQLite with a damaged secret.key is refused", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "secret.key"), []byte("short"), 0o600)
		if _, _, err := Load("", dir, false); err == nil || !strings.Contains(err.Error(), "32 random bytes") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("SQLite with --secret-key-file uses it", func(t *testing.T) {
		dir := t.TempDir()
		p := filepath.Join(t.TempDir(), "k")
		os.WriteFile(p, []byte(hex.EncodeToString(newKey(t))), 0o600)
		if _, src, err := Load(p, dir, false); err != nil || src != p {
			t.Fatalf("%q %v", src, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "secret.key")); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("secret.key was created although a key file was given")
		}
	})
}
