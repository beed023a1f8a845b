package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/internal/textfield"
)

// refuseBadText answers 400 for a request whose path or query holds a NUL,
// another control character or bytes that are not UTF-8. No name deskprov
// looks up (a UPN, a MAC, a policy, a number, a state) can hold them, and
// PostgreSQL refuses such text in a query with an error that would
// otherwise surface as a 500; SQLite would just find nothing. Checking here
// once keeps every path parameter and filter of every face alike.
func refuseBadText() gin.HandlerFunc {
	return func(c *gin.Context) {
		if !textfield.Valid(c.Request.URL.Path) {
			writeFieldError(c, "path", "the path holds a control character or is not UTF-8 text")
			return
		}
		for name, vs := range c.Request.URL.Query() {
			for _, v := range vs {
				if !textfield.Valid(name) || !textfield.Valid(v) {
					writeFieldError(c, "query", "the query parameter "+name+" holds a control character or is not UTF-8 text")
					return
				}
			}
		}
		c.Next()
	}
}

func writeFieldError(c *gin.Context, field, msg string) {
	c.AbortWithStatusJSON(http.StatusBadRequest, errorBody{Error: "invalid", Message: msg, Field: field})
}
