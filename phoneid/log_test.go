package phoneid

import (
	"context"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/deskprov/deskprov/internal/logtest"

	"github.com/deskprov/deskprov/store/storetest"
)

// TestEnrolmentsAreLoggedWithoutTheirCredentials: a phone refused outside
// the enrolment networks, one waiting for approval, an admin's approval and
// the credentials issued are each an info line with event= and reason=
// where refused; the issued password is nowhere in the log.
func TestEnrolmentsAreLoggedWithoutTheirCredentials(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *gorm.DB) {
		buf := logtest.Capture(t)

		ctx := context.Background()
		s := newService(t, db)
		nets, err := ParseNetworks("10.20.0.0/16")
		if err != nil {
			t.Fatal(err)
		}
		s.EnrolNetworks = nets
		if _, err := s.Admit(ctx, fetch(Issuing, "10.99.0.1", "")); err == nil {
			t.Fatal("a phone outside the enrolment networks was let in")
		}
		if err := s.SetRequireApproval(ctx, true, "admin"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Admit(ctx, fetch(Issuing, "10.20.0.1", "")); err == nil {
			t.Fatal("a phone needing approval was let in")
		}
		if _, err := s.Approve(ctx, mac, "helpdesk-ann"); err != nil {
			t.Fatal(err)
		}
		a, err := s.Admit(ctx, fetch(Issuing, "10.20.0.1", ""))
		if err != nil || a.Issue == nil {
			t.Fatalf("the approved phone: %v %+v", err, a)
		}
		log := buf.String()
		for _, want := range [][]string{
			{"event=enrolment.refused", "mac=" + mac, "ip=10.99.0.1", "reason=outside_enrol_networks"},
			{"event=enrolment.await_approval", "mac=" + mac},
			{"event=enrolment.approve", "mac=" + mac, "actor=helpdesk-ann"},
			{"event=enrolment.issue", "mac=" + mac},
		} {
			found := false
			for _, line := range strings.Split(log, "\n") {
				ok := strings.Contains(line, "level=INFO")
				for _, w := range want {
					ok = ok && strings.Contains(line, w)
				}
				found = found || ok
			}
			if !found {
				t.Errorf("no info line holds %q:\n%s", want, log)
			}
		}
		if strings.Contains(log, a.Issue.Password) {
			t.Errorf("the log holds the issued password:\n%s", log)
		}
	})
}
