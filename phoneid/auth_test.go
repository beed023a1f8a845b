package phoneid

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/deskprov/deskprov/fault"
)

var testKey = bytes.Repeat([]byte{7}, 32)

// curlJudge serves Check behind a real HTTP server and lets curl, an
// independent Digest client, answer its challenges.
func TestCurlAuthenticatesWithDigestAndBasic(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed")
	}
	cred := NewCredential("phone-0004f2a1b2c3", "s3cret-pass")
	now := time.Now()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		v, err := Check(cred, testKey, now, HTTPRequest{Method: r.Method, URI: r.RequestURI, Authorization: r.Header.Get("Authorization"), IP: ip})
		if err != nil {
			only := r.URL.Query().Get("offer")
			for _, c := range Challenges(testKey, now, ip, IsStale(err)) {
				if only == "" || strings.Contains(c, only) {
					w.Header().Add("WWW-Authenticate", c)
				}
			}
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte("ok " + v.Scheme))
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name, flag, offer, pw, want string
	}{
		{"Digest MD5 with the right password", "--digest", "MD5", "s3cret-pass", "200"},
		{"Digest SHA-256 with the right password", "--digest", "SHA-256", "s3cret-pass", "200"},
		{"Digest over all three challenges", "--digest", "", "s3cret-pass", "200"},
		{"Digest MD5 with a wrong password", "--digest", "MD5", "guess", "401"},
		{"Digest SHA-256 with a wrong password", "--digest", "SHA-256", "guess", "401"},
		{"Basic with the right password", "--basic", "", "s3cret-pass", "200"},
		{"Basic with a wrong password", "--basic", "", "guess", "401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := srv.URL + "/prov/deskprov-0004f2a1b2c3.cfg"
			if tc.offer != "" {
				url += "?offer=" + tc.offer
			}
			out, err := exec.Command(curl, "-s", "-o", "/dev/null", "-w", "%{http_code}", tc.flag, "-u", cred.User+":"+tc.pw, url).Output()
			if err != nil {
				t.Fatalf("curl: %v", err)
			}
			if string(out) != tc.want {
				t.Fatalf("curl got %s, want %s", out, tc.want)
			}
		})
	}
}

// digestAnswer is Answer for the first use of a nonce.
func digestAnswer(user, password, method, uri, challenge, nc, cnonce string) string {
	n := 0
	fmt.Sscanf(nc, "%x", &n)
	a, err := Answer(user, password, method, uri, challenge, n, cnonce)
	if err != nil {
		panic(err)
	}
	return a
}

func TestCheckRefusesWhatIsNotThisPhonesAnswer(t *testing.T) {
	cred := NewCredential("phone-0004f2a1b2c3", "pw")
	other := NewCredential("phone-0004f2000001", "pw2")
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ch := Challenges(testKey, t0, "10.0.0.5", false)
	uri := "/prov/0004f2a1b2c3-phone.cfg"
	good := HTTPRequest{Method: "PUT", URI: uri, IP: "10.0.0.5", Authorization: digestAnswer(cred.User, "pw", "PUT", uri, ch[0], "00000001", "abc")}
	if _, err := Check(cred, testKey, t0.Add(time.Minute), good); err != nil {
		t.Fatalf("the phone's own answer: %v", err)
	}
	if _, err := Check(cred, testKey, t0, HTTPRequest{Method: "GET", URI: uri, IP: "10.0.0.5", Authorization: digestAnswer(cred.User, "pw", "GET", uri, ch[1], "00000001", "abc")}); err != nil {
		t.Fatalf("MD5 answer: %v", err)
	}
	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	cases := []struct {
		name string
		r    HTTPRequest
		now  time.Time
		code string
	}{
		{"no Authorization header", HTTPRequest{Method: "PUT", URI: uri, IP: "10.0.0.5"}, t0, CodeNoCredentials},
		{"another phone's credentials", HTTPRequest{Method: "PUT", URI: uri, IP: "10.0.0.5", Authorization: digestAnswer(other.User, "pw2", "PUT", uri, ch[0], "00000001", "abc")}, t0, CodeBadCredentials},
		{"this phone's user with another password", HTTPRequest{Method: "PUT", URI: uri, IP: "10.0.0.5", Authorization: digestAnswer(cred.User, "pw2", "PUT", uri, ch[0], "00000001", "abc")}, t0, CodeBadCredentials},
		{"an answer for another path", HTTPRequest{Method: "PUT", URI: "/prov/0004f2a1b2c3-app.log", IP: "10.0.0.5", Authorization: good.Authorization}, t0, CodeBadCredentials},
		{"an answer for another method", HTTPRequest{Method: "GET", URI: uri, IP: "10.0.0.5", Authorization: good.Authorization}, t0, CodeBadCredentials},
		{"a nonce made for another address", HTTPRequest{Method: "PUT", URI: uri, IP: "10.0.0.6", Authorization: good.Authorization}, t0, CodeBadCredentials},
		{"a forged nonce", HTTPRequest{Method: "PUT", URI: uri, IP: "10.0.0.5", Authorization: strings.Replace(good.Authorization, `nonce="`, `nonce="A`, 1)}, t0, CodeBadCredentials},
		{"an expired nonce with the right answer", good, t0.Add(NonceLifetime + time.Second), CodeStale},
		{"Basic with another phone's password", HTTPRequest{Method: "GET", URI: uri, Authorization: basic(cred.User, "pw2")}, t0, CodeBadCredentials},
		{"Basic with another phone's user", HTTPRequest{Method: "GET", URI: uri, Authorization: basic(other.User, "pw")}, t0, CodeBadCredentials},
		{"Bearer", HTTPRequest{Method: "GET", URI: uri, Authorization: "Bearer x"}, t0, CodeNoCredentials},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(cred, testKey, tc.now, tc.r)
			fe, ok := fault.As(err)
			if !ok || fe.Kind != fault.Unauthorized || fe.Code != tc.code {
				t.Fatalf("got %v, want unauthorized %s", err, tc.code)
			}
		})
	}
	if _, err := Check(cred, testKey, t0, HTTPRequest{Method: "GET", URI: uri, Authorization: basic(cred.User, "pw")}); err != nil {
		t.Fatalf("Basic with the phone's password: %v", err)
	}
}
