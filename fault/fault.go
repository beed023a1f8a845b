// Package fault gives domain errors a kind that the HTTP layer maps to a status,
// and a message written for the person who has to act on it.
package fault

import (
	"errors"
	"fmt"
)

// Kind says what went wrong in terms a client can branch on.
type Kind string

const (
	Invalid      Kind = "invalid"      // 400: the request itself is wrong
	Unauthorized Kind = "unauthorized" // 401: who you are is not established
	Forbidden    Kind = "forbidden"    // 403: you are known but may not do this
	NotFound     Kind = "not_found"    // 404
	Conflict     Kind = "conflict"     // 409: the request clashes with the current state
	TooLarge     Kind = "too_large"    // 413
	RateLimited  Kind = "rate_limited" // 429
	Unavailable  Kind = "unavailable"  // 503: try again later
	Internal     Kind = "internal"     // 500: a bug or a broken dependency
)

// UnsupportedType (415): the body is of a media type the endpoint does not
// take; it is refused before any of it is parsed.
const UnsupportedType Kind = "unsupported_media_type"

// Error is a domain error. Code is an optional machine-readable detail
// (for example "no_phone_system") for callers that must tell reasons apart.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	// RetryAfter, in seconds, for RateLimited and Unavailable.
	RetryAfter int
	// Field names the input field at fault, when there is one, by its API
	// field name; each face says it in its own words (words.go).
	Field string
	// Template is Message with placeholders for a face's words, for an
	// error that names an input or an action (words.go); "" otherwise.
	Template string
	// Fixes are the actions that would clear the error.
	Fixes []Fix
	cause error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.cause }

// New builds an error of a kind with a formatted message.
func New(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Invalidf is the common case of bad input.
func Invalidf(format string, args ...any) *Error { return New(Invalid, format, args...) }

// FieldInvalid reports bad input in a named field.
func FieldInvalid(field, format string, args ...any) *Error {
	e := New(Invalid, format, args...)
	e.Field = field
	return e
}

// NotFoundf reports a missing object.
func NotFoundf(format string, args ...any) *Error { return New(NotFound, format, args...) }

// Conflictf reports a clash with the current state.
func Conflictf(format string, args ...any) *Error { return New(Conflict, format, args...) }

// Forbiddenf reports a refusal.
func Forbiddenf(format string, args ...any) *Error { return New(Forbidden, format, args...) }

// WithCode sets the machine-readable code and returns the error.
func (e *Error) WithCode(code string) *Error { e.Code = code; return e }

// Wrap attaches a cause without changing the message shown to people.
func (e *Error) Wrap(cause error) *Error { e.cause = cause; return e }

// KindOf returns the kind of err, Internal for errors that carry none.
func KindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return Internal
}

// As returns err as an *Error when it is one.
func As(err error) (*Error, bool) {
	var fe *Error
	ok := errors.As(err, &fe)
	return fe, ok
}

// Is reports whether err is a fault of the given kind.
func Is(err error, kind Kind) bool { return err != nil && KindOf(err) == kind }
