package web

import (
	"errors"
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
)

// MaxBody caps every request body except on the routes that take their own
// (firmware uploads, phone uploads: see OwnBodyLimit). A body over it is
// refused with 413: at once when its Content-Length says so, else when the
// handler reads past the cap.
const MaxBody = 1 << 20

// OwnBodyLimit exempts a route (its method and gin pattern, as mounted) from
// MaxBody and from the refusal of multipart bodies: its handler sets its own
// cap with http.MaxBytesReader before reading. Call it from Mount only.
func (s *Server) OwnBodyLimit(method, pattern string) {
	s.ownLimit[method+" "+pattern] = true
}

// limitBodies checks a body's size and media type before any handler parses
// it. Without it, gin's PostForm parses a multipart body of any size,
// spooling file parts to the temporary directory, and a form is read whole
// before a CSRF or grant check refuses it.
//   - A Content-Length over MaxBody is answered 413 without reading a byte.
//   - Other bodies are read through http.MaxBytesReader(MaxBody), which also
//     makes net/http close the connection rather than drain the rest.
//   - multipart/form-data is refused (415): only routes with their own limit
//     (the firmware upload) take it, and they stream it.
//   - An application/x-www-form-urlencoded body is parsed here, under the
//     cap, so that an oversized or malformed form is a 413 or 400 and not an
//     empty form the handler misreads (gin's PostForm drops parse errors).
//
// It answers the request itself (and reports true) when it refuses the body.
func (s *Server) limitBodies(c *gin.Context) bool {
	r := c.Request
	if r.Body == nil || r.Body == http.NoBody || s.ownLimit[r.Method+" "+c.FullPath()] {
		return false
	}
	if r.ContentLength > MaxBody {
		s.Fail(c, bodyTooLarge())
		return true
	}
	r.Body = http.MaxBytesReader(c.Writer, r.Body, MaxBody)
	ct := r.Header.Get("Content-Type")
	if r.ContentLength == 0 || ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		s.Fail(c, fault.New(fault.UnsupportedType, "the Content-Type %q cannot be read: %v", ClipText(ct, 80), err))
		return true
	}
	switch mt {
	case "multipart/form-data":
		s.Fail(c, fault.New(fault.UnsupportedType, "%s %s does not take multipart/form-data: send application/x-www-form-urlencoded or JSON as the endpoint says", r.Method, r.URL.Path))
		return true
	case "application/x-www-form-urlencoded":
		if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
			if err := r.ParseForm(); err != nil {
				s.Fail(c, bodyFault(err, "the form cannot be read"))
				return true
			}
		}
	}
	return false
}

func bodyTooLarge() error {
	return fault.New(fault.TooLarge, "the request body is over %d bytes", MaxBody)
}

// bodyFault maps an error reading a body: a body over its cap is 413, the
// rest are the client's fault (400).
func bodyFault(err error, what string) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return fault.New(fault.TooLarge, "the request body is over %d bytes", mb.Limit)
	}
	return fault.Invalidf("%s: %v", what, err)
}
