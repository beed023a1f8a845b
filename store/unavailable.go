package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// RetryAfter is the Retry-After, in seconds, of the 503 answered while the
// store does not answer: long enough that a fleet of phones backing off does
// not hammer a database coming back up, short enough that they are back
// soon after it is.
const RetryAfter = 15

// IsUnavailable reports whether err means the store cannot be reached just
// now (connection refused or reset, the server shutting down or starting up,
// too many connections, a timeout), as opposed to a query that is wrong or a
// row that is missing: the request is worth retrying later, unchanged.
func IsUnavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var sqlState interface{ SQLState() string }
	if errors.As(err, &sqlState) {
		code := sqlState.SQLState()
		// Class 08: connection exception; 57P01-03: admin or crash
		// shutdown, cannot connect now (starting up); 53300: too many
		// connections.
		return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03" || code == "53300"
	}
	var netErr net.Error
	var opErr *net.OpError
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		errors.As(err, &opErr), errors.As(err, &netErr) && netErr.Timeout():
		return true
	}
	msg := err.Error()
	// pgx reports a failed dial as "failed to connect to …" around the
	// net error, and a connection lost mid-query as "conn closed"; SQLite's
	// busy timeout running out is "database is locked".
	return strings.Contains(msg, "failed to connect to") || strings.Contains(msg, "conn closed") ||
		strings.Contains(msg, "database is locked") || strings.Contains(msg, "unexpected EOF")
}
