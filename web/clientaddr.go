package web

import (
	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/throttle"
)

// clientAddress puts the request's client address (gin's ClientIP: the
// peer, or X-Forwarded-For from --trusted-proxies) in its context, so that
// a credential check behind an interface that does not pass it (BToE's PC
// sign-in) still spends that address's budget.
func clientAddress(c *gin.Context) {
	c.Request = c.Request.WithContext(throttle.WithClient(c.Request.Context(), c.ClientIP()))
}

// guardRequest is the checks every gin request passes before its handler,
// in one middleware rather than three: refuseBadText (textguard.go),
// limitBodies (bodylimit.go), then clientAddress.
func (s *Server) guardRequest() gin.HandlerFunc {
	return func(c *gin.Context) {
		if refuseBadText(c) || s.limitBodies(c) {
			return
		}
		clientAddress(c)
		c.Next()
	}
}
