package web

import (
	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/signin"
)

// The operator's log (docs/operations.md lists every event): sign-ins and
// their refusals, lockouts, console and API sign-ins, each at info with
// event= and, for a refusal, reason=. Never a secret: no password, PIN,
// token, user code or enrolment code is passed here, only who (upn=,
// extension=, username=), from where (ip=, mac=) and why.

// Results of a sign-in event.
const (
	ResultOK       = "ok"
	ResultRefused  = "refused"
	ResultDeclined = "declined"
)

// LogSignIn logs one sign-in attempt's outcome as event; a refusal that is
// a lockout (the guess budgets ran out) is logged again as signin.lockout,
// so that an operator can look for lockouts alone.
func (s *Server) LogSignIn(c *gin.Context, event string, err error, who ...any) {
	base := append([]any{"event", event}, who...)
	base = append(base, "ip", c.ClientIP())
	if err == nil {
		s.Log.Info("sign-in", append(base, "result", ResultOK)...)
		return
	}
	reason, locked := reasonOf(err)
	s.Log.Info("sign-in refused", append(base, "result", ResultRefused, "reason", reason)...)
	if locked {
		lock := append([]any{"event", "signin.lockout", "of", event}, who...)
		s.Log.Info("sign-in locked out", append(lock, "ip", c.ClientIP(), "reason", reason)...)
	}
}

// reasonOf is a refusal's machine-readable reason: the OAuth reason or
// error code, the fault's code or kind; locked says the reason is a lockout.
func reasonOf(err error) (reason string, locked bool) {
	if oe, ok := signin.AsOAuth(err); ok {
		reason = oe.Code
		if oe.Reason != "" {
			reason = oe.Reason
		}
		return reason, oe.Code == signin.ErrTemporarilyUnavailable || lockoutReason(reason)
	}
	if fe, ok := fault.As(err); ok {
		reason = string(fe.Kind)
		if fe.Code != "" {
			reason = fe.Code
		}
		return reason, fe.Kind == fault.RateLimited || lockoutReason(reason)
	}
	return "error", false
}

func lockoutReason(r string) bool {
	return r == "too_many_attempts" || r == "account_backoff" || r == string(fault.RateLimited)
}
