package phoneid

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/bytecache"
	"github.com/deskprov/deskprov/store/storetest"
)

// TestCachedEnrolmentIsSmallAndChecksAsTheRow: the enrolment a poll is
// admitted by is held in about a hundred bytes (state, user name, HA1s in
// binary; before, the row with its sealed and hex digests, about five
// hundred: a fifth of a million phones in the default --cache-size instead
// of all of them), and admits and refuses exactly as the stored row does:
// Digest with SHA-256 and MD5 and Basic, a wrong password refused, and a
// credential rotated by re-enrolment refused on the next request although
// the old one was held.
func TestCachedEnrolmentIsSmallAndChecksAsTheRow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := newService(t, db)
		a, err := s.Admit(ctx, fetch(Issuing, "10.1.1.1", ""))
		if err != nil || a.Issue == nil {
			t.Fatalf("first contact: %+v %v", a, err)
		}
		n := 0
		answer := func(is *Issue, scheme int) Request {
			t.Helper()
			r := fetch(Open, "10.1.1.1", "")
			if scheme == 2 {
				r.HTTP.Authorization = "Basic " + base64.StdEncoding.EncodeToString([]byte(is.User+":"+is.Password))
				return r
			}
			ch, err := s.Challenges(ctx, r.HTTP.IP, false)
			if err != nil {
				t.Fatal(err)
			}
			n++
			if r.HTTP.Authorization, err = Answer(is.User, is.Password, r.HTTP.Method, r.HTTP.URI, ch[scheme], 1, fmt.Sprint("c", n)); err != nil {
				t.Fatal(err)
			}
			return r
		}
		for round := range 2 { // the first reads the row, the second is answered from memory
			for scheme, name := range []string{"Digest SHA-256", "Digest MD5", "Basic"} {
				if got, err := s.Admit(ctx, answer(a.Issue, scheme)); err != nil || !got.Authenticated {
					t.Fatalf("round %d, %s: %+v %v", round, name, got, err)
				}
				wrong := &Issue{User: a.Issue.User, Password: wrongPassword(a.Issue.Password)}
				_, err := s.Admit(ctx, answer(wrong, scheme))
				wantKind(t, err, fault.Unauthorized)
			}
		}
		if s.rows.on {
			k, _ := bytecache.MACKey(mac)
			r, ok := s.rows.m.Get(k)
			if !ok || r.State() != Enrolled {
				t.Fatalf("the enrolled phone's row is not held: %+v %v", r, ok)
			}
			if size := rowSize(k, r) + s.rows.m.Overhead(); size > 140 {
				t.Fatalf("a held enrolment counts %d bytes, want at most 140", size)
			}
		}

		// Rotated: re-enrolled and issued again. The old credential is
		// refused on the very next request, whatever was held.
		if err := s.Reenrol(ctx, mac, "alice"); err != nil {
			t.Fatal(err)
		}
		a2, err := s.Admit(ctx, fetch(Issuing, "10.1.1.1", ""))
		if err != nil || a2.Issue == nil {
			t.Fatalf("re-enrolled phone: %+v %v", a2, err)
		}
		for scheme := range 3 {
			_, err := s.Admit(ctx, answer(a.Issue, scheme))
			wantKind(t, err, fault.Unauthorized)
			if got, err := s.Admit(ctx, answer(a2.Issue, scheme)); err != nil || !got.Authenticated {
				t.Fatalf("the new credential, scheme %d: %+v %v", scheme, got, err)
			}
		}
		// Revoked: refused at once.
		if _, err := s.Revoke(ctx, mac, "alice"); err != nil {
			t.Fatal(err)
		}
		_, err = s.Admit(ctx, answer(a2.Issue, 2))
		wantKind(t, err, fault.Forbidden)
	})
}
