// Package phoneclient is an HTTP client that behaves as a provisioned desk
// phone does towards deskprov: it keeps the provisioning credentials its
// configuration file issued it, answers a 401's Digest challenge with them
// (reusing the nonce with a growing nonce count, as phones do, and taking a
// new one when told stale=true), and sends nothing when it holds none. The
// phone simulator and the tests that boot phones use it.
package phoneclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/provisioning"
)

// Phone is one simulated phone's HTTP side.
type Phone struct {
	Client    *http.Client
	UserAgent string

	mu        sync.Mutex
	cred      provisioning.Credential
	challenge string
	nc        int
}

// New returns a phone that sends ua, over c (http.DefaultClient when nil).
func New(c *http.Client, ua string) *Phone {
	if c == nil {
		c = http.DefaultClient
	}
	return &Phone{Client: c, UserAgent: ua}
}

// Credential is what the phone holds (zero before issuance).
func (p *Phone) Credential() provisioning.Credential {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cred
}

// SetCredential gives the phone credentials (a test playing a phone that
// kept them, or one that was handed another phone's).
func (p *Phone) SetCredential(c provisioning.Credential) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cred, p.challenge, p.nc = c, "", 0
}

// Do sends a request as the phone and returns the final answer's status,
// header and body: a 401 with a Digest challenge is answered once with the
// phone's credentials, and a file that issues credentials is remembered.
func (p *Phone) Do(ctx context.Context, method, url string, body []byte, hdr http.Header) (int, http.Header, []byte, error) {
	status, h, b, err := p.send(ctx, method, url, body, hdr)
	if err != nil {
		return 0, nil, nil, err
	}
	if status == http.StatusUnauthorized && p.learnChallenge(h) {
		status, h, b, err = p.send(ctx, method, url, body, hdr)
		if err != nil {
			return 0, nil, nil, err
		}
	}
	if status == http.StatusOK && method == http.MethodGet {
		if c, ok := provisioning.IssuedCredential(b); ok {
			p.SetCredential(c)
		}
	}
	return status, h, b, nil
}

func (p *Phone) send(ctx context.Context, method, url string, body []byte, hdr http.Header) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", p.UserAgent)
	if a := p.authorization(method, req.URL.RequestURI()); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := p.Client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

// authorization answers the last challenge, "" without credentials or one.
func (p *Phone) authorization(method, uri string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cred.User == "" || p.challenge == "" {
		return ""
	}
	p.nc++
	var b [8]byte
	rand.Read(b[:])
	a, err := phoneid.Answer(p.cred.User, p.cred.Password, method, uri, p.challenge, p.nc, hex.EncodeToString(b[:]))
	if err != nil {
		return ""
	}
	return a
}

// learnChallenge keeps a 401's Digest challenge (SHA-256 when offered) and
// reports whether the request is worth sending again with it.
func (p *Phone) learnChallenge(h http.Header) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cred.User == "" {
		return false
	}
	pick := ""
	for _, v := range h.Values("WWW-Authenticate") {
		if strings.HasPrefix(v, "Digest ") && (pick == "" || strings.Contains(v, "SHA-256")) {
			pick = v
		}
	}
	if pick == "" {
		return false
	}
	p.challenge, p.nc = pick, 0
	return true
}
