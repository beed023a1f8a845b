package phoneid

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/deskprov/deskprov/fault"
)

// Realm is the HTTP authentication realm of every phone credential. It is
// part of the stored HA1, so it never changes.
const Realm = "deskprov"

// NonceLifetime is how long a Digest nonce is good for. A phone that comes
// back later is told stale=true and retries with a fresh one without asking
// anyone for a password (RFC 7616 §3.3).
const NonceLifetime = 5 * time.Minute

// Codes of the Unauthorized faults, for callers that must tell them apart.
const (
	// CodeStale: the Digest answer was right but its nonce has expired or
	// was used already; the challenge says stale=true.
	CodeStale = "stale_nonce"
	// CodeNoCredentials: the request carried no (usable) Authorization.
	CodeNoCredentials = "no_credentials"
	// CodeBadCredentials: the request's credentials are not this phone's.
	CodeBadCredentials = "bad_credentials"
)

// HTTPRequest is what authentication needs of a request, as strings, so the
// check runs the same in gin and in tests.
type HTTPRequest struct {
	Method string
	// URI is the request-target exactly as sent (net/http's RequestURI).
	URI           string
	Authorization string
	// IP is the client address the nonce is bound to.
	IP string
}

// Credential is what deskprov keeps of a phone's password: the HA1 values
// RFC 7616 needs (H(user:realm:password)) for MD5 and SHA-256.
type Credential struct {
	User      string
	HA1MD5    string
	HA1SHA256 string
}

// NewCredential derives the stored form of user's password.
func NewCredential(user, password string) Credential {
	return Credential{User: user, HA1MD5: ha1(md5.New, user, password), HA1SHA256: ha1(sha256.New, user, password)}
}

func ha1(h func() hash.Hash, user, password string) string {
	return hexHash(h, user+":"+Realm+":"+password)
}

func hexHash(h func() hash.Hash, s string) string {
	x := h()
	x.Write([]byte(s))
	return hex.EncodeToString(x.Sum(nil))
}

// Challenges are the WWW-Authenticate values of a 401: Digest with SHA-256
// (preferred, listed first), Digest with MD5 (what most phone firmware
// speaks) and Basic (for HTTPS), each over a fresh nonce bound to ip.
func Challenges(key []byte, now time.Time, ip string, stale bool) []string {
	n := Nonce(key, now, ip)
	st := ""
	if stale {
		st = `, stale=true`
	}
	return []string{
		`Digest realm="` + Realm + `", qop="auth", algorithm=SHA-256, nonce="` + n + `"` + st,
		`Digest realm="` + Realm + `", qop="auth", algorithm=MD5, nonce="` + n + `"` + st,
		`Basic realm="` + Realm + `", charset="UTF-8"`,
	}
}

// Nonce is a stateless nonce: the time it was made and an HMAC over that
// time and the client address, so that any instance holding the key checks
// it without shared state.
func Nonce(key []byte, now time.Time, ip string) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.Unix()))
	copy(b[8:], nonceMAC(key, b[:8], ip))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func nonceMAC(key, t []byte, ip string) []byte {
	// Every Digest answer checks its nonce: reuse HMAC states (hmac.New
	// allocates and hashes the key's pads) as long as the key is the same.
	st, _ := macPool.Get().(*macState)
	if st == nil || !bytes.Equal(st.key, key) {
		st = &macState{key: bytes.Clone(key), h: hmac.New(sha256.New, key)}
	} else {
		st.h.Reset()
	}
	st.h.Write(t)
	st.h.Write([]byte{0})
	st.h.Write([]byte(ip))
	var sum [sha256.Size]byte
	out := st.h.Sum(sum[:0])[:16:16]
	macPool.Put(st)
	return bytes.Clone(out)
}

// macState is an HMAC-SHA256 state for one nonce key.
type macState struct {
	key []byte
	h   hash.Hash
}

var macPool sync.Pool

// nonceTime checks a nonce's HMAC for ip and returns when it was made.
func nonceTime(key []byte, nonce, ip string) (time.Time, bool) {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != 24 {
		return time.Time{}, false
	}
	if !hmac.Equal(b[8:], nonceMAC(key, b[:8], ip)) {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0), true
}

// Verified is a request whose credentials check out.
type Verified struct {
	// Scheme is "Digest" or "Basic".
	Scheme string
	// Replay identifies a Digest answer (nonce, nc, cnonce): a genuine
	// client never sends the same one twice. Empty for Basic.
	Replay string
	// NonceAt is when the Digest nonce was made.
	NonceAt time.Time
}

// Check verifies r's Authorization header against cred: Digest (RFC 7616,
// qop=auth, MD5 or SHA-256, the digest uri equal to the request-target, the
// nonce genuine, made for this address and younger than NonceLifetime) or
// Basic. It fails with a fault.Unauthorized whose Code is CodeNoCredentials,
// CodeBadCredentials or CodeStale (a right answer over an expired nonce).
func Check(cred Credential, key []byte, now time.Time, r HTTPRequest) (Verified, error) {
	sec, err := secretOf(cred)
	if err != nil {
		return Verified{}, badCredentials()
	}
	return check(cred.User, &sec, key, now, r)
}

// secret is a credential's HA1 digests in binary, as a cached enrolment
// holds them (cachedRow): half the bytes of their hex.
type secret struct {
	md5    [md5.Size]byte
	sha256 [sha256.Size]byte
}

// secretOf decodes a credential's hex HA1s.
func secretOf(c Credential) (secret, error) {
	var s secret
	if hex.DecodedLen(len(c.HA1MD5)) != len(s.md5) || hex.DecodedLen(len(c.HA1SHA256)) != len(s.sha256) {
		return s, fmt.Errorf("a stored HA1 is not an MD5 and a SHA-256 digest in hex")
	}
	if _, err := hex.Decode(s.md5[:], []byte(c.HA1MD5)); err != nil {
		return s, err
	}
	_, err := hex.Decode(s.sha256[:], []byte(c.HA1SHA256))
	return s, err
}

// check is Check for user's credential held as sec.
func check(user string, sec *secret, key []byte, now time.Time, r HTTPRequest) (Verified, error) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(r.Authorization), " ")
	switch {
	case strings.EqualFold(scheme, "Digest"):
		return checkDigest(user, sec, key, now, r, rest)
	case strings.EqualFold(scheme, "Basic"):
		return checkBasic(user, sec, rest)
	case r.Authorization == "":
		return Verified{}, unauthorized(CodeNoCredentials, "this phone must authenticate with the provisioning credentials deskprov gave it (HTTP Digest or Basic, realm %q)", Realm)
	}
	return Verified{}, unauthorized(CodeNoCredentials, "authenticate with HTTP Digest or Basic (realm %q), not %q", Realm, clip(scheme))
}

func unauthorized(code, format string, args ...any) error {
	return fault.New(fault.Unauthorized, format, args...).WithCode(code)
}

func badCredentials() error {
	return unauthorized(CodeBadCredentials, "these are not this phone's provisioning credentials: if the phone was factory-reset, an admin re-enrols it")
}

func checkBasic(credUser string, sec *secret, b64 string) (Verified, error) {
	// Every poll of an enrolled phone comes here, so the check works in
	// buffers on the stack: one SHA-256 and no allocation.
	b64 = strings.TrimSpace(b64)
	var rawBuf [256]byte
	dst := rawBuf[:]
	if l := base64.StdEncoding.DecodedLen(len(b64)); l > len(dst) {
		dst = make([]byte, l)
	}
	n, err := base64.StdEncoding.Decode(dst, []byte(b64))
	if err != nil {
		return Verified{}, unauthorized(CodeBadCredentials, "the Basic credentials are not valid base64")
	}
	raw := dst[:n]
	colon := bytes.IndexByte(raw, ':')
	if colon < 0 {
		return Verified{}, badCredentials()
	}
	user, password := raw[:colon], raw[colon+1:]
	var in [len(Realm) + 2 + 256]byte
	b := append(in[:0], credUser...)
	b = append(b, ':')
	b = append(b, Realm...)
	b = append(b, ':')
	b = append(b, password...)
	sum := sha256.Sum256(b)
	// Both compared in full, in constant time: a mismatch in the user says
	// nothing about the password.
	if equalCT(user, credUser)&subtle.ConstantTimeCompare(sum[:], sec.sha256[:]) != 1 {
		return Verified{}, badCredentials()
	}
	return Verified{Scheme: "Basic"}, nil
}

// equalCT is subtle.ConstantTimeCompare of a and b without copying b: the
// time depends on the lengths only.
func equalCT(a []byte, b string) int {
	if len(a) != len(b) {
		return 0
	}
	var v byte
	for i := range a {
		v |= a[i] ^ b[i]
	}
	return subtle.ConstantTimeByteEq(v, 0)
}

func checkDigest(credUser string, sec *secret, key []byte, now time.Time, r HTTPRequest, params string) (Verified, error) {
	p, ok := parseParams(params)
	if !ok {
		return Verified{}, unauthorized(CodeBadCredentials, "the Digest credentials could not be read")
	}
	var sha bool
	// The HA1 in hex, as the response is computed over it.
	var storedBuf [2 * sha256.Size]byte
	var stored []byte
	switch alg := p["algorithm"]; {
	case alg == "" || strings.EqualFold(alg, "MD5"):
		stored = storedBuf[:hex.Encode(storedBuf[:], sec.md5[:])]
	case strings.EqualFold(alg, "SHA-256"):
		sha, stored = true, storedBuf[:hex.Encode(storedBuf[:], sec.sha256[:])]
	default:
		return Verified{}, unauthorized(CodeBadCredentials, "Digest algorithm %q is not offered: use SHA-256 or MD5", clip(alg))
	}
	switch {
	case p["realm"] != Realm:
		return Verified{}, unauthorized(CodeBadCredentials, "the Digest realm must be %q", Realm)
	case p["qop"] != "auth":
		return Verified{}, unauthorized(CodeBadCredentials, `the Digest answer must use qop="auth"`)
	case strings.EqualFold(p["userhash"], "true"):
		return Verified{}, unauthorized(CodeBadCredentials, "Digest userhash is not offered")
	case p["uri"] != r.URI:
		// The answer covers the digest uri only: one for another path
		// must not open this one.
		return Verified{}, unauthorized(CodeBadCredentials, "the Digest uri does not match the requested path")
	case p["nc"] == "" || p["cnonce"] == "" || p["response"] == "" || p["nonce"] == "":
		return Verified{}, unauthorized(CodeBadCredentials, "the Digest answer lacks nonce, nc, cnonce or response")
	}
	madeAt, genuine := nonceTime(key, p["nonce"], r.IP)
	// HA2 and the expected response, hashed from buffers on the stack (every
	// poll of a Digest phone comes here).
	var buf [512]byte
	in := append(append(append(buf[:0], r.Method...), ':'), p["uri"]...)
	var ha2, want [2 * sha256.Size]byte
	n := hexSum(ha2[:], sha, in)
	in = append(append(buf[:0], stored...), ':')
	for _, part := range [...]string{p["nonce"], p["nc"], p["cnonce"]} {
		in = append(append(in, part...), ':')
	}
	in = append(append(in, "auth:"...), ha2[:n]...)
	n = hexSum(want[:], sha, in)
	userOK := equalCT([]byte(p["username"]), credUser)
	respOK := equalCT(want[:n], strings.ToLower(p["response"]))
	if !genuine || userOK&respOK != 1 {
		return Verified{}, badCredentials()
	}
	if age := now.Sub(madeAt); age > NonceLifetime || age < -time.Minute {
		return Verified{}, unauthorized(CodeStale, "the Digest nonce has expired: answer the new challenge")
	}
	return Verified{Scheme: "Digest", Replay: p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"], NonceAt: madeAt}, nil
}

// hexSum writes the hex SHA-256 (sha) or MD5 of in to dst and returns its length.
func hexSum(dst []byte, sha bool, in []byte) int {
	if sha {
		sum := sha256.Sum256(in)
		return hex.Encode(dst, sum[:])
	}
	sum := md5.Sum(in)
	return hex.Encode(dst, sum[:])
}

// parseParams reads RFC 7616 auth-params: name=token or name="quoted
// string" separated by commas.
func parseParams(s string) (map[string]string, bool) {
	out := make(map[string]string, 12) // a Digest answer has 9; no growing

	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return out, true
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, false
		}
		name := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if end := strings.IndexByte(s[min(1, len(s)):], '"'); strings.HasPrefix(s, `"`) && end >= 0 && !strings.Contains(s[1:1+end], `\\`) {
			val, s = s[1:1+end], s[2+end:]
		} else if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, false
			}
			val, s = b.String(), s[i+1:]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val, s = strings.TrimSpace(s[:end]), s[end:]
		}
		if _, dup := out[name]; dup {
			return nil, false
		}
		out[name] = val
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
