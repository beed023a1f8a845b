package phoneid

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"strings"
)

// Answer is the client side of Digest, for phone simulators and tests: the
// Authorization value answering challenge (a WWW-Authenticate value, Digest
// with qop="auth", MD5 or SHA-256) for user and password on method and uri.
// nc counts the answers given to this nonce (1 for the first).
func Answer(user, password, method, uri, challenge string, nc int, cnonce string) (string, error) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(challenge), " ")
	if !strings.EqualFold(scheme, "Digest") {
		return "", fmt.Errorf("not a Digest challenge: %q", clip(challenge))
	}
	p, ok := parseParams(rest)
	if !ok || p["nonce"] == "" {
		return "", fmt.Errorf("unreadable Digest challenge: %q", clip(challenge))
	}
	var h func() hash.Hash
	alg := p["algorithm"]
	switch {
	case alg == "" || strings.EqualFold(alg, "MD5"):
		h, alg = md5.New, "MD5"
	case strings.EqualFold(alg, "SHA-256"):
		h, alg = sha256.New, "SHA-256"
	default:
		return "", fmt.Errorf("unsupported Digest algorithm %q", clip(alg))
	}
	realm := p["realm"]
	ha1v := hexHash(h, user+":"+realm+":"+password)
	ncs := fmt.Sprintf("%08x", nc)
	resp := hexHash(h, ha1v+":"+p["nonce"]+":"+ncs+":"+cnonce+":auth:"+hexHash(h, method+":"+uri))
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=%s, qop=auth, nc=%s, cnonce="%s", response="%s"`,
		user, realm, p["nonce"], uri, alg, ncs, cnonce, resp), nil
}

// BasicAnswer is the Authorization value of Basic for user and password.
func BasicAnswer(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}
