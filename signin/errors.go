package signin

import (
	"errors"
	"fmt"
)

// OAuth error codes (RFC 6749 §5.2, RFC 8628 §3.5, RFC 7009).
const (
	ErrInvalidRequest       = "invalid_request"
	ErrInvalidClient        = "invalid_client"
	ErrInvalidGrant         = "invalid_grant"
	ErrUnauthorizedClient   = "unauthorized_client"
	ErrUnsupportedGrantType = "unsupported_grant_type"
	ErrInvalidScope         = "invalid_scope"
	ErrAuthorizationPending = "authorization_pending"
	ErrSlowDown             = "slow_down"
	ErrAccessDenied         = "access_denied"
	ErrExpiredToken         = "expired_token"
	ErrInvalidToken         = "invalid_token"
	// ErrTemporarilyUnavailable (RFC 6749 §4.1.2.1) answers a client address
	// that asked for too many device codes: HTTP 429 with Retry-After.
	ErrTemporarilyUnavailable = "temporarily_unavailable"
)

// OAuthError is an error a phone gets in an RFC 6749 error body. Reason is
// a machine-readable detail (for example "no_phone_system") beside the
// human-readable Description.
type OAuthError struct {
	Code        string
	Description string
	Reason      string
	// RetryAfter, when set, is the seconds to wait before asking again.
	RetryAfter int
	// Status, when set, is the HTTP status instead of RFC 6749's 400: a
	// refusal that is about the phone's state, not the request (409).
	Status int
}

func (e *OAuthError) Error() string { return e.Code + ": " + e.Description }

func oauthErr(code, format string, args ...any) *OAuthError {
	return &OAuthError{Code: code, Description: fmt.Sprintf(format, args...)}
}

// AsOAuth returns err as an *OAuthError when it is one.
func AsOAuth(err error) (*OAuthError, bool) {
	var oe *OAuthError
	ok := errors.As(err, &oe)
	return oe, ok
}
