package web

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/internal/textfield"
)

// refuseBadText answers 400 for a request whose path or query holds a NUL,
// another control character or bytes that are not UTF-8, and reports
// whether it did. No name deskprov looks up (a UPN, a MAC, a policy, a
// number, a state) can hold them, and PostgreSQL refuses such text in a
// query with an error that would otherwise surface as a 500; SQLite would
// just find nothing. Checking here once keeps every path parameter and
// filter of every face alike.
func refuseBadText(c *gin.Context) bool {
	u := c.Request.URL
	if !printableASCII(u.Path) && !textfield.Valid(u.Path) {
		writeFieldError(c, "path", "the path holds a control character or is not UTF-8 text")
		return true
	}
	// A raw query of printable ASCII without escapes decodes to printable
	// ASCII, so only a query with % or other bytes needs parsing.
	if printableASCII(u.RawQuery) && !strings.Contains(u.RawQuery, "%") {
		return false
	}
	for name, vs := range u.Query() {
		for _, v := range vs {
			if !textfield.Valid(name) || !textfield.Valid(v) {
				writeFieldError(c, "query", "the query parameter "+name+" holds a control character or is not UTF-8 text")
				return true
			}
		}
	}
	return false
}

// printableASCII reports whether s holds only bytes from space to tilde,
// which textfield.Valid always accepts.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func writeFieldError(c *gin.Context, field, msg string) {
	c.AbortWithStatusJSON(http.StatusBadRequest, ErrorBody{Error: "invalid", Message: msg, Field: field})
}
