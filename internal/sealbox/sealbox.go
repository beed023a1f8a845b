// Package sealbox keeps small secrets (TOTP enrollment secrets) encrypted at
// rest: AES-256-GCM with a random nonce per value, bound to the row it
// belongs to by additional data, stored as "v1:" + base64(nonce|ciphertext).
// The key lives in a file, never in the database.
package sealbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the key length in bytes (AES-256).
const KeySize = 32

// Prefix marks a sealed value. A stored value without it is legacy clear
// text, written before values were sealed.
const Prefix = "v1:"

// KeyFileName is the key file created in a SQLite data directory.
const KeyFileName = "secret.key"

// MakeKeyHint tells a person how to make a key file.
const MakeKeyHint = "make one with: head -c 32 /dev/urandom > deskprov.key"

// ErrOpen is returned when a sealed value does not open: another key, a
// value copied from another row, or a damaged value.
var ErrOpen = errors.New("the sealed value does not open with this server's secret key (was --secret-key-file changed, or the value copied from another row?)")

// ErrNoKey is returned when a value must be sealed or opened and no key was given.
var ErrNoKey = errors.New("no secret key is configured to seal or open secrets at rest")

// Box seals and opens values under one key. A nil *Box has no key: it opens
// only legacy clear values and seals nothing.
type Box struct {
	aead cipher.AEAD
}

// New returns a box for a KeySize-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("the secret key must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Sealed reports whether stored is a sealed value rather than legacy clear text.
func Sealed(stored string) bool { return strings.HasPrefix(stored, Prefix) }

// Seal encrypts plain, binding it to bind (which row and column it belongs
// to); Open with another bind fails. An empty plain stays empty.
func (b *Box) Seal(plain, bind string) (string, error) {
	if plain == "" {
		return "", nil
	}
	if b == nil {
		return "", ErrNoKey
	}
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := b.aead.Seal(nonce, nonce, []byte(plain), []byte(bind))
	return Prefix + base64.StdEncoding.EncodeToString(out), nil
}

// Open returns the clear text of stored, sealed under bind. A value without
// the "v1:" prefix is legacy clear text and is returned as it is; callers
// re-seal it (see Sealed).
func (b *Box) Open(stored, bind string) (string, error) {
	if !Sealed(stored) {
		return stored, nil
	}
	if b == nil {
		return "", ErrNoKey
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(stored, Prefix))
	if err != nil || len(raw) < b.aead.NonceSize()+b.aead.Overhead() {
		return "", ErrOpen
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(bind))
	if err != nil {
		return "", ErrOpen
	}
	return string(plain), nil
}

// ParseKey reads a key file's contents: exactly 32 bytes, or 64 hex digits
// (surrounding white space allowed).
func ParseKey(data []byte) ([]byte, error) {
	if len(data) == KeySize {
		return append([]byte(nil), data...), nil
	}
	t := strings.TrimSpace(string(data))
	if len(t) == 2*KeySize {
		if k, err := hex.DecodeString(t); err == nil {
			return k, nil
		}
		return nil, fmt.Errorf("it has 64 characters but they are not all hex digits; the key must be 32 random bytes or 64 hex digits: %s", MakeKeyHint)
	}
	return nil, fmt.Errorf("it holds %d bytes; the key must be exactly 32 random bytes or 64 hex digits: %s", len(data), MakeKeyHint)
}

// LoadKeyFile reads and checks a key file.
func LoadKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--secret-key-file %s: %w; %s", path, err, MakeKeyHint)
	}
	k, err := ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("--secret-key-file %s: %w", path, err)
	}
	return k, nil
}

// Load returns the box serve uses, and where its key came from. The key is,
// in order: keyFile when given; for PostgreSQL nothing else (every server
// sharing the database needs the same key, so it must be given); for SQLite
// the file secret.key in dataDir, created with mode 0600 on first start.
func Load(keyFile, dataDir string, postgres bool) (*Box, string, error) {
	var key []byte
	var src string
	var err error
	switch {
	case keyFile != "":
		key, err = LoadKeyFile(keyFile)
		src = keyFile
	case postgres:
		return nil, "", errors.New("with PostgreSQL, give --secret-key-file (or DESKPROV_SECRET_KEY_FILE): the key that encrypts authenticator (TOTP) secrets in the database. " +
			"Every server sharing the database needs the same key file; keep it out of the database and back it up. " +
			"Make one once with: head -c 32 /dev/urandom > deskprov.key && chmod 600 deskprov.key")
	default:
		src = filepath.Join(dataDir, KeyFileName)
		key, err = dataDirKey(src)
	}
	if err != nil {
		return nil, "", err
	}
	b, err := New(key)
	return b, src, err
}

// dataDirKey reads path, or creates it with a fresh random key. The file is
// written under a temporary name and linked into place, so a crash never
// leaves a short key behind and two starts cannot pick different keys.
func dataDirKey(path string) ([]byte, error) {
	if data, err := os.ReadFile(path); err == nil {
		k, err := ParseKey(data)
		if err != nil {
			return nil, fmt.Errorf("secret key %s: %w (restore it from a backup: without it enrolled authenticator apps cannot be checked)", path, err)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("secret key %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("secret key %s: %w", path, err)
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret.key-*")
	if err != nil {
		return nil, fmt.Errorf("secret key %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("secret key %s: %w", path, err)
	}
	if _, err := tmp.Write(key); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("secret key %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("secret key %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("secret key %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return dataDirKey(path)
		}
		return nil, fmt.Errorf("secret key %s: %w", path, err)
	}
	return key, nil
}
