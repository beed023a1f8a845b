package web

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/phoneid"
)

// phoneAuthKey is where a request's proven phone MAC is kept, so that a
// second check of the same request does not count its Digest answer twice
// (phoneid refuses an answer it has seen).
const phoneAuthKey = "deskprov.phoneMAC"

// PhoneAuthenticated reports whether the request carries valid provisioning credentials (Digest or Basic) of the phone with canonical MAC mac. It writes nothing.
func (s *Server) PhoneAuthenticated(c *gin.Context, mac string) bool {
	if s.Phones == nil || mac == "" {
		return false
	}
	if v, ok := c.Get(phoneAuthKey); ok && v == mac {
		return true
	}
	if err := s.Phones.Authenticate(c.Request.Context(), mac, phoneHTTP(c)); err != nil {
		c.Set(phoneAuthErrKey, err)
		return false
	}
	c.Set(phoneAuthKey, mac)
	return true
}

// phoneAuthErrKey keeps why PhoneAuthenticated failed, for RequirePhone's
// challenge (stale or not) and message.
const phoneAuthErrKey = "deskprov.phoneAuthErr"

// RequirePhone is PhoneAuthenticated that answers 401 with the Digest and Basic challenges when it fails.
func (s *Server) RequirePhone(c *gin.Context, mac string) bool {
	if s.PhoneAuthenticated(c, mac) {
		return true
	}
	msg := "authenticate as the phone " + mac + " with the provisioning credentials deskprov gave it"
	if err := phoneAuthErr(c); err != nil {
		msg = err.Error()
	}
	s.ChallengePhoneAfter(c)
	WriteError(c, http.StatusUnauthorized, "unauthorized", msg)
	c.Abort()
	return false
}

func phoneAuthErr(c *gin.Context) error {
	v, _ := c.Get(phoneAuthErrKey)
	err, _ := v.(error)
	return err
}

// ChallengePhoneAfter adds the phone challenges to a 401 of a request that
// PhoneAuthenticated refused, stale when only its Digest nonce was: every
// 401 that a phone's credentials would have turned must tell the phone how
// to send them, or a phone on plain HTTP (Digest) has no nonce to answer.
func (s *Server) ChallengePhoneAfter(c *gin.Context) {
	s.ChallengePhone(c, phoneid.IsStale(phoneAuthErr(c)))
}

// ChallengePhone adds the WWW-Authenticate challenges of a phone 401.
func (s *Server) ChallengePhone(c *gin.Context, stale bool) {
	if s.Phones == nil {
		return
	}
	ch, err := s.Phones.Challenges(c.Request.Context(), c.ClientIP(), stale)
	if err != nil {
		s.Log.Error("make a phone authentication challenge", "err", err)
		return
	}
	h := c.Writer.Header()
	for _, v := range ch {
		h.Add("WWW-Authenticate", v)
	}
}

func phoneHTTP(c *gin.Context) phoneid.HTTPRequest {
	return phoneid.HTTPRequest{Method: c.Request.Method, URI: c.Request.RequestURI,
		Authorization: c.Request.Header.Get("Authorization"), IP: c.ClientIP()}
}
