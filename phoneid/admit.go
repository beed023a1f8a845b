package phoneid

import (
	"context"
	"log/slog"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/deskprov/deskprov/fault"
)

// Need says what a request for one phone's file asks of the requester.
type Need int

const (
	// Open files (non-secret rendered files, optional 404s, firmware images)
	// are answered without credentials until the phone has been issued
	// some; from then on they need them.
	Open Need = iota + 1
	// Secret files (uploads, read or written) always need the phone's
	// credentials: before issuance nobody has them.
	Secret
	// Issuing is the file that carries the credentials: before issuance it
	// is the trust-on-first-use step; after, it needs the credentials like
	// any other.
	Issuing
)

// Request is a request for a file of the phone with MAC (canonical).
type Request struct {
	MAC       string
	Need      Need
	HTTP      HTTPRequest
	UserAgent string
	// Exempt is set when the phone's family is not given credentials
	// (serve --phone-credentials leaves it out): see Admit.
	Exempt bool
}

// Admission is what Admit decided.
type Admission struct {
	// Authenticated is true when the request proved to be the phone: only
	// then do its reports (firmware polls, downloads) count.
	Authenticated bool
	// Issue, set only for an Issuing request at first contact, is the
	// credential to render into this one answer (and nowhere else).
	Issue *Issue
	// Exempt is true when the request was let through without
	// credentials because its phone's family takes none: its reports count
	// unauthenticated, like Lync Phone Edition's, or its rollouts could
	// never advance.
	Exempt bool
}

// Issue is a freshly issued credential in clear: it exists only in the
// answer that carries it to the phone.
type Issue struct {
	User, Password string
}

// Admit decides a request for one phone's file:
//   - a revoked phone is refused (fault.Forbidden);
//   - a phone holding credentials (issued or enrolled) must present them:
//     valid Digest or Basic of that phone, else fault.Unauthorized (Code
//     CodeStale when only the nonce is old);
//   - before issuance, Open files are answered unauthenticated, Secret ones
//     refused (fault.Unauthorized), and the Issuing file issues credentials
//     when the address is in the enrol networks (else fault.Forbidden) and
//     approval is not required or the phone is approved (else the phone is
//     recorded as awaiting approval and refused with fault.Forbidden).
//
// An Exempt request (its family takes no credentials) is answered as before
// phones had credentials, Exempt in the answer, and issues nothing, with two
// exceptions that keep what an admin or the phone itself established: a
// revoked phone stays refused, and an enrolled one (it proved it uses its
// credentials) must still present them. An issued phone that never
// authenticated is let through: it may be one that ignores the parameters,
// which would otherwise be locked out for good.
func (s *Service) Admit(ctx context.Context, r Request) (Admission, error) {
	row, err := s.row(ctx, r.MAC)
	if err != nil {
		return Admission{}, err
	}
	state, found := row.State(), row.found()
	switch {
	case found && state == Revoked:
		logRefusal(r, "revoked")
		return Admission{}, fault.Forbiddenf("an admin revoked phone %s: it gets no files of its own until an admin approves or re-enrols it", r.MAC)
	case found && state == Issued && r.Exempt:
		return Admission{Exempt: true}, nil
	case found && state.hasCredential():
		if err := s.verify(ctx, r.MAC, row, r.HTTP); err != nil {
			return Admission{}, err
		}
		return Admission{Authenticated: true}, nil
	case r.Exempt:
		return Admission{Exempt: true}, nil
	}
	switch r.Need {
	case Open:
		return Admission{}, nil
	case Secret:
		return Admission{}, unauthorized(CodeNoCredentials, "phone %s has no provisioning credentials yet: it is given them in its configuration file, and then authenticates", r.MAC)
	}
	if !s.InEnrolNetworks(r.HTTP.IP) {
		logRefusal(r, "outside_enrol_networks")
		return Admission{}, fault.Forbiddenf("phone %s asked from %s, outside the networks phones may enrol from (serve --enroll-networks): move it there or ask an admin", r.MAC, clip(r.HTTP.IP))
	}
	required, err := s.RequireApproval(ctx)
	if err != nil {
		return Admission{}, err
	}
	// Only first contact writes: the store session is made here, not for
	// every poll of an enrolled phone. The row is read whole (the cached
	// one holds only what admitting reads).
	db := s.db.WithContext(ctx)
	e, found, err := s.load(db, r.MAC)
	if err != nil {
		return Admission{}, err
	}
	if found && e.State.hasCredential() || found && e.State == Revoked {
		// Changed since the cached row was read: decide on the new one.
		s.wrote(r.MAC)
		return s.Admit(ctx, r)
	}
	if required && (!found || e.State != Approved) {
		if err := s.await(db, r, found, e); err != nil {
			return Admission{}, err
		}
		return Admission{}, fault.Hintf(fault.Forbidden, "phone %s is waiting for an admin to approve this phone ({fix})", r.MAC).WithFix("enrolment.approve", "mac", r.MAC).WithCode("awaiting_approval")
	}
	return s.issue(db, r, found, e)
}

// logRefusal logs a phone refused its enrolment. A phone waiting for
// approval is logged once, when it first asks (enrolment.await_approval).
func logRefusal(r Request, reason string) {
	slog.Default().Info("phone enrolment refused", "event", "enrolment.refused", "mac", r.MAC, "ip", r.HTTP.IP, "reason", reason)
}

// await records a phone waiting for approval, once (the first sighting is
// what an admin judges it by).
func (s *Service) await(db *gorm.DB, r Request, found bool, e enrolment) error {
	if found {
		return nil
	}
	now := s.now()
	defer s.wrote(r.MAC)
	return db.Transaction(func(tx *gorm.DB) error {
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&enrolment{MAC: r.MAC, State: AwaitingApproval,
			FirstIP: clipN(r.HTTP.IP, 64), FirstUserAgent: clipN(r.UserAgent, 256), FirstSeen: &now, UpdatedAt: now})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return s.audit(tx, "phone "+clipN(r.HTTP.IP, 64), "await_approval", r.MAC, clipN(r.UserAgent, 256))
	})
}

// issue makes and stores a new credential. Two first requests racing each
// other: one issues, the other is told to authenticate.
func (s *Service) issue(db *gorm.DB, r Request, found bool, e enrolment) (Admission, error) {
	pw, err := newPassword()
	if err != nil {
		return Admission{}, err
	}
	user := UserFor(r.MAC)
	md, sh, err := s.seal(r.MAC, NewCredential(user, pw))
	if err != nil {
		return Admission{}, err
	}
	now := s.now()
	ip, ua := clipN(r.HTTP.IP, 64), clipN(r.UserAgent, 256)
	won := false
	defer s.wrote(r.MAC)
	err = db.Transaction(func(tx *gorm.DB) error {
		if !found {
			res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&enrolment{MAC: r.MAC, State: Issued, User: user, HA1MD5: md, HA1SHA256: sh,
				FirstIP: ip, FirstUserAgent: ua, FirstSeen: &now, IssuedAt: &now, IssuedTo: ip, UpdatedAt: now})
			if res.Error != nil {
				return res.Error
			}
			won = res.RowsAffected == 1
		} else {
			up := map[string]any{"state": Issued, "user": user, "ha1_md5": md, "ha1_sha256": sh, "issued_at": &now, "issued_to": ip, "enrolled_at": nil, "updated_at": now}
			if e.FirstSeen == nil {
				up["first_seen"], up["first_ip"], up["first_user_agent"] = &now, ip, ua
			}
			res := tx.Model(&enrolment{}).Where("mac = ? AND state = ?", r.MAC, e.State).Updates(up)
			if res.Error != nil {
				return res.Error
			}
			won = res.RowsAffected == 1
		}
		if !won {
			return nil
		}
		return s.audit(tx, "phone "+ip, "issue", r.MAC, ua)
	})
	if err != nil {
		return Admission{}, err
	}
	if !won {
		return Admission{}, unauthorized(CodeNoCredentials, "phone %s was just issued its credentials by another request: authenticate with them", r.MAC)
	}
	return Admission{Issue: &Issue{User: user, Password: pw}}, nil
}

// Authenticate checks that r carries valid credentials of the phone with
// MAC mac (fault.Unauthorized otherwise; a revoked phone or one never issued
// credentials has none that could be valid).
func (s *Service) Authenticate(ctx context.Context, mac string, r HTTPRequest) error {
	row, err := s.row(ctx, mac)
	if err != nil {
		return err
	}
	if !row.found() || !row.State().hasCredential() {
		return unauthorized(CodeNoCredentials, "phone %s holds no provisioning credentials: it is given them in its configuration file", clip(mac))
	}
	return s.verify(ctx, mac, row, r)
}

// verify checks r against the credential of row (mac's), refuses an answer
// this instance has accepted before, and marks a first use (issued →
// enrolled).
func (s *Service) verify(ctx context.Context, mac string, row cachedRow, r HTTPRequest) error {
	key, err := s.key.Bytes(ctx)
	if err != nil {
		return err
	}
	now := s.now()
	v, err := check(row.userOf(mac), &row.secret, key, now, r)
	if err != nil {
		return err
	}
	if v.Replay != "" && !s.firstUse(v.Replay, v.NonceAt, now) {
		return unauthorized(CodeStale, "this Digest answer was used already: answer the new challenge")
	}
	if row.State() == Issued {
		t := now
		defer s.wrote(mac)
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			res := tx.Model(&enrolment{}).Where("mac = ? AND state = ?", mac, Issued).Updates(map[string]any{"state": Enrolled, "enrolled_at": &t, "updated_at": t})
			if res.Error != nil || res.RowsAffected == 0 {
				return res.Error
			}
			return s.audit(tx, "phone "+clipN(r.IP, 64), "enrol", mac, "first authenticated request")
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// maxReplays bounds the replay memory; beyond it, the oldest half goes.
const maxReplays = 200_000

// firstUse records a Digest answer and reports whether it is new. Answers
// are kept while their nonce lives; older ones fail the nonce check anyway.
func (s *Service) firstUse(id string, nonceAt, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.replays[id]; seen {
		return false
	}
	if len(s.replays) >= maxReplays {
		for k, at := range s.replays {
			if now.Sub(at) > NonceLifetime || len(s.replays) >= maxReplays/2 {
				delete(s.replays, k)
			}
		}
	}
	s.replays[id] = nonceAt
	return true
}

// Challenges are the WWW-Authenticate values of a 401 for a client at ip;
// stale is true when the client's answer was right but its nonce old.
func (s *Service) Challenges(ctx context.Context, ip string, stale bool) ([]string, error) {
	key, err := s.key.Bytes(ctx)
	if err != nil {
		return nil, err
	}
	return Challenges(key, s.now(), ip, stale), nil
}

// IsStale reports whether err is a refusal whose challenge says stale=true.
func IsStale(err error) bool {
	fe, ok := fault.As(err)
	return ok && fe.Kind == fault.Unauthorized && fe.Code == CodeStale
}

func clipN(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
