package phoneid

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/sealbox"
	"github.com/deskprov/deskprov/store"
	"github.com/deskprov/deskprov/store/storetest"
)

const mac = "0004f2a1b2c3"

func newService(t *testing.T, db *gorm.DB) *Service {
	t.Helper()
	if err := Migrate(db); err != nil {
		t.Fatal(err)
	}
	s := New(db)
	box, err := sealbox.New(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	s.Secrets = box
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	s.Now = func() time.Time { return now }
	return s
}

func fetch(need Need, ip, authz string) Request {
	return Request{MAC: mac, Need: need, UserAgent: "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477",
		HTTP: HTTPRequest{Method: "GET", URI: "/prov/deskprov-" + mac + ".cfg", IP: ip, Authorization: authz}}
}

func wantKind(t *testing.T, err error, kind fault.Kind) {
	t.Helper()
	if fault.KindOf(err) != kind || err == nil {
		t.Fatalf("got %v, want %s", err, kind)
	}
}

// authorize answers s's challenge for r with the issued credential.
func authorize(t *testing.T, s *Service, r Request, is *Issue) Request {
	t.Helper()
	ch, err := s.Challenges(context.Background(), r.HTTP.IP, false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Answer(is.User, is.Password, r.HTTP.Method, r.HTTP.URI, ch[0], 1, "c"+r.HTTP.Method+r.HTTP.URI)
	if err != nil {
		t.Fatal(err)
	}
	r.HTTP.Authorization = a
	return r
}

func TestTrustOnFirstUseIssuesOnceThenRequiresTheCredential(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := newService(t, db)
		// Before issuance: open files are answered, secret ones are not.
		if a, err := s.Admit(ctx, fetch(Open, "10.1.2.3", "")); err != nil || a.Authenticated || a.Issue != nil {
			t.Fatalf("open file before issuance: %+v %v", a, err)
		}
		_, err := s.Admit(ctx, fetch(Secret, "10.1.2.3", ""))
		wantKind(t, err, fault.Unauthorized)
		// The first fetch of the issuing file issues.
		a, err := s.Admit(ctx, fetch(Issuing, "10.1.2.3", ""))
		if err != nil || a.Issue == nil || a.Issue.User != "phone-"+mac || len(a.Issue.Password) != 32 {
			t.Fatalf("first contact: %+v %v", a, err)
		}
		p, _ := s.Get(ctx, mac)
		if p.State != Issued || p.FirstIP != "10.1.2.3" || p.IssuedTo != "10.1.2.3" {
			t.Fatalf("after issuing: %+v", p)
		}
		// The stored credential is sealed, never the password or a bare HA1.
		var e enrolment
		db.Where("mac = ?", mac).Find(&e)
		if !sealbox.Sealed(e.HA1MD5) || !sealbox.Sealed(e.HA1SHA256) || strings.Contains(e.HA1MD5+e.HA1SHA256, a.Issue.Password) ||
			strings.Contains(e.HA1SHA256, NewCredential(a.Issue.User, a.Issue.Password).HA1SHA256) {
			t.Fatalf("credential at rest: %+v", e)
		}
		// A second first contact is nobody's: 401 for every file now.
		for _, need := range []Need{Open, Secret, Issuing} {
			_, err := s.Admit(ctx, fetch(need, "10.1.2.3", ""))
			wantKind(t, err, fault.Unauthorized)
		}
		// The phone's own Digest answer enrols it.
		r := authorize(t, s, fetch(Secret, "10.1.2.3", ""), a.Issue)
		got, err := s.Admit(ctx, r)
		if err != nil || !got.Authenticated {
			t.Fatalf("with the phone's credential: %+v %v", got, err)
		}
		if p, _ := s.Get(ctx, mac); p.State != Enrolled || p.EnrolledAt == nil {
			t.Fatalf("after the first authenticated request: %+v", p)
		}
		// The same answer again is a replay: refused as stale, so a
		// genuine client simply answers a new challenge.
		_, err = s.Admit(ctx, r)
		if !IsStale(err) {
			t.Fatalf("replayed answer: %v", err)
		}
		// Another instance on the same store checks the nonce too.
		s2 := newService(t, db)
		r2 := authorize(t, s, fetch(Open, "10.1.2.3", ""), a.Issue)
		if got, err := s2.Admit(ctx, r2); err != nil || !got.Authenticated {
			t.Fatalf("second instance: %+v %v", got, err)
		}
		// Basic with the password works too; with a wrong one it does not.
		r3 := fetch(Secret, "10.1.2.3", BasicAnswer(a.Issue.User, a.Issue.Password))
		if got, err := s.Admit(ctx, r3); err != nil || !got.Authenticated {
			t.Fatalf("basic: %+v %v", got, err)
		}
		_, err = s.Admit(ctx, fetch(Secret, "10.1.2.3", BasicAnswer(a.Issue.User, wrongPassword(a.Issue.Password))))
		wantKind(t, err, fault.Unauthorized)
		if err := s.Authenticate(ctx, mac, r3.HTTP); err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		if err := s.Authenticate(ctx, "0004f2000009", r3.HTTP); fault.KindOf(err) != fault.Unauthorized {
			t.Fatalf("Authenticate for another MAC: %v", err)
		}
	})
}

func TestEnrolNetworksAndApprovalBoundFirstContact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := newService(t, db)
		nets, err := ParseNetworks("10.20.0.0/16, 192.0.2.7")
		if err != nil {
			t.Fatal(err)
		}
		s.EnrolNetworks = nets
		_, err = s.Admit(ctx, fetch(Issuing, "10.21.0.1", ""))
		wantKind(t, err, fault.Forbidden)
		if _, err := s.Get(ctx, mac); fault.KindOf(err) != fault.NotFound {
			t.Fatalf("a refused address leaves no record: %v", err)
		}
		if _, err := ParseNetworks("10.0.0.0/33"); fault.KindOf(err) != fault.Invalid {
			t.Fatalf("bad network: %v", err)
		}

		if err := s.SetRequireApproval(ctx, true, "admin"); err != nil {
			t.Fatal(err)
		}
		// Another instance sees the switch.
		if on, err := newService(t, db).RequireApproval(ctx); err != nil || !on {
			t.Fatalf("RequireApproval on another instance: %v %v", on, err)
		}
		_, err = s.Admit(ctx, fetch(Issuing, "10.20.3.4", ""))
		wantKind(t, err, fault.Forbidden)
		if !strings.Contains(err.Error(), "waiting for an admin to approve this phone") {
			t.Fatalf("message: %v", err)
		}
		list, err := s.List(ctx, AwaitingApproval)
		if err != nil || len(list) != 1 || list[0].MAC != mac || list[0].FirstIP != "10.20.3.4" || !strings.Contains(list[0].FirstUserAgent, "Polycom") {
			t.Fatalf("awaiting list: %+v %v", list, err)
		}
		// Asking again changes nothing until an admin approves.
		_, err = s.Admit(ctx, fetch(Issuing, "192.0.2.7", ""))
		wantKind(t, err, fault.Forbidden)
		p, err := s.Approve(ctx, mac, "alice")
		if err != nil || p.State != Approved || p.ApprovedBy != "alice" || p.FirstIP != "10.20.3.4" {
			t.Fatalf("approve: %+v %v", p, err)
		}
		a, err := s.Admit(ctx, fetch(Issuing, "192.0.2.7", ""))
		if err != nil || a.Issue == nil {
			t.Fatalf("approved phone: %+v %v", a, err)
		}
		if _, err := s.Approve(ctx, mac, "alice"); fault.KindOf(err) != fault.Conflict {
			t.Fatalf("approving an issued phone: %v", err)
		}

		// The phone polls (on SQLite its row is now kept in memory).
		if got, err := s.Admit(ctx, authorize(t, s, fetch(Open, "192.0.2.7", ""), a.Issue)); err != nil || !got.Authenticated {
			t.Fatalf("the approved phone's poll: %+v %v", got, err)
		}
		if store.EngineOf(db) == store.SQLite && !s.rows.on {
			t.Fatal("a SQLite store this process owns keeps no enrolment cache")
		}
		// Revoke: refused everything, with or without the old credential.
		if p, err := s.Revoke(ctx, mac, "alice"); err != nil || p.State != Revoked || p.User != "" {
			t.Fatalf("revoke: %+v %v", p, err)
		}
		r := authorize(t, s, fetch(Open, "192.0.2.7", ""), a.Issue)
		_, err = s.Admit(ctx, r)
		wantKind(t, err, fault.Forbidden)
		_, err = s.Admit(ctx, fetch(Issuing, "192.0.2.7", ""))
		wantKind(t, err, fault.Forbidden)

		// Re-enrol: a first contact again, subject to approval.
		if err := s.Reenrol(ctx, mac, "alice"); err != nil {
			t.Fatal(err)
		}
		if err := s.Reenrol(ctx, mac, "alice"); fault.KindOf(err) != fault.NotFound {
			t.Fatalf("re-enrolling twice: %v", err)
		}
		_, err = s.Admit(ctx, fetch(Issuing, "10.20.3.4", ""))
		wantKind(t, err, fault.Forbidden)
		s.Approve(ctx, mac, "alice")
		if err := s.SetRequireApproval(ctx, false, "alice"); err != nil {
			t.Fatal(err)
		}
		a2, err := s.Admit(ctx, fetch(Issuing, "10.20.3.4", ""))
		if err != nil || a2.Issue == nil || a2.Issue.Password == a.Issue.Password {
			t.Fatalf("re-enrolled phone: %+v %v", a2, err)
		}
		// The old credential is dead.
		_, err = s.Admit(ctx, authorize(t, s, fetch(Open, "10.20.3.4", ""), a.Issue))
		wantKind(t, err, fault.Unauthorized)

		audit, err := s.Audit(ctx, mac, 0)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range audit {
			actions = append(actions, e.Actor+":"+e.Action)
		}
		want := "phone 10.20.3.4:issue alice:approve alice:await_approval"
		if got := strings.Join(actions[:3], " "); !strings.HasPrefix(got, "phone 10.20.3.4:issue alice:approve") {
			t.Fatalf("audit %v, want it to start %q", actions, want)
		}
		all, _ := s.Audit(ctx, "", 0)
		found := false
		for _, e := range all {
			found = found || e.Action == "require_approval" && e.Actor == "admin" && e.Detail == "true"
		}
		if !found {
			t.Fatalf("the switch is not audited: %+v", all)
		}
	})
}

func TestAdminChangesCheckTheirInput(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s := newService(t, db)
		if _, err := s.Approve(ctx, "zz", "alice"); fault.KindOf(err) != fault.Invalid {
			t.Fatalf("bad MAC: %v", err)
		}
		if _, err := s.Approve(ctx, mac, ""); fault.KindOf(err) != fault.Invalid {
			t.Fatalf("no actor: %v", err)
		}
		if _, err := s.List(ctx, "bogus"); fault.KindOf(err) != fault.Invalid {
			t.Fatalf("bad state: %v", err)
		}
		// Revoking a MAC never seen blocks it from its first request.
		if p, err := s.Revoke(ctx, "00:04:F2:A1:B2:C3", "alice"); err != nil || p.MAC != mac || p.State != Revoked {
			t.Fatalf("revoke unseen: %+v %v", p, err)
		}
		_, err := s.Admit(ctx, fetch(Issuing, "10.1.1.1", ""))
		wantKind(t, err, fault.Forbidden)
		if _, err := s.Revoke(ctx, mac, "alice"); fault.KindOf(err) != fault.Conflict {
			t.Fatalf("revoke twice: %v", err)
		}
		if p, err := s.Approve(ctx, mac, "alice"); err != nil || p.State != Approved || p.RevokedAt != nil {
			t.Fatalf("approve after revoke: %+v %v", p, err)
		}
	})
}

// wrongPassword differs from pw in its first character, whatever that is.
func wrongPassword(pw string) string {
	if strings.HasPrefix(pw, "0") {
		return "1" + pw[1:]
	}
	return "0" + pw[1:]
}
