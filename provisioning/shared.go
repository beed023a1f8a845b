package provisioning

import (
	"context"
	"strings"

	"github.com/deskprov/deskprov/fault"
)

// Shared files are what an admin uploads for phones to fetch under /prov/
// (backgrounds, ringtones, a directory file, language dictionaries) and
// the organisation's CA certificates (package phonefiles keeps both). This
// file holds what provisioning knows about them: which paths a phone may
// ask for, and which family and site a request is for.

// MaxPathLen and MaxPathSegments bound a shared file's path: the longest a
// phone is known to ask for is Yealink's lang/<models>/<nnn>.GUI.<Language>.lang.
const (
	MaxPathLen      = 255
	MaxPathSegments = 8
)

// CAFilePrefix starts the names CA certificates are served under; no family
// renders a name with it, and no shared file may take one.
const CAFilePrefix = "deskprov-ca-"

// CheckPath refuses a shared file's path that is not relative and plain:
// 1 to MaxPathSegments segments separated by '/', each one a name CheckName
// accepts (so no "..", no hidden names, no empty segment, no absolute
// path), at most MaxPathLen characters in all.
func CheckPath(p string) error {
	if p == "" || len(p) > MaxPathLen {
		return fault.FieldInvalid("path", "give a path of 1 to %d characters, relative to /prov/", MaxPathLen)
	}
	segs := strings.Split(p, "/")
	if len(segs) > MaxPathSegments {
		return fault.FieldInvalid("path", "%q has more than %d segments", clip(p), MaxPathSegments)
	}
	for _, s := range segs {
		if s == "" {
			return fault.FieldInvalid("path", "%q is not a relative path: no leading, trailing or double '/'", clip(p))
		}
		if err := CheckName(s); err != nil {
			return fault.FieldInvalid("path", "%q is not a path a phone can ask for: each segment is 1 to 128 letters, digits and . - _ ( ) , : not starting with a dot", clip(p))
		}
	}
	return nil
}

// SharedRequest is who asks for a shared file: the family its User-Agent
// names ("" when it names none) and the name of the site its address is in
// ("" for the server-wide defaults).
func (s *Service) SharedRequest(ctx context.Context, r Request) (vendor, site string, err error) {
	if fam, _ := s.identifyAgent(r.UserAgent); fam != nil {
		vendor = fam.Vendor()
	} else if !strings.Contains(r.Name, "/") {
		for _, f := range s.families {
			if f.Claims(r.Name) {
				vendor = f.Vendor()
				break
			}
		}
	}
	st, err := s.SiteFor(ctx, r.IP)
	return vendor, st.Name, err
}

// Reserved refuses a shared file path that a family answers itself (a file
// it renders, a phone's upload, a firmware image): an admin's file must
// never stand in for those. A name a
// family answers with a plain 404 (Polycom's 000000000000-directory.xml)
// is free.
func (s *Service) Reserved(path string) error {
	if err := CheckPath(path); err != nil {
		return err
	}
	if strings.Contains(path, "/") {
		return nil
	}
	for _, f := range s.families {
		dev := Device{Vendor: f.Vendor()}
		e, err := f.Resolve("GET", path, &dev)
		if err != nil {
			if fault.Is(err, fault.NotFound) {
				continue
			}
			return fault.FieldInvalid("path", "%s phones would be refused %q before deskprov looked for a shared file (%v): choose another name", f.Vendor(), clip(path), err)
		}
		if e.Kind != Optional {
			return fault.Conflictf("%s phones get %q from deskprov itself (a rendered file, an upload or a firmware image): choose another name", f.Vendor(), clip(path))
		}
	}
	return nil
}

// PhoneFiles is what provisioning asks of the admin's uploaded files
// (package phonefiles): the CA certificates every family installs.
type PhoneFiles interface {
	CACerts(ctx context.Context) ([]CACert, error)
}
