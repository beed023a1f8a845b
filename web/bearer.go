package web

import "strings"

// BearerToken returns the token of an "Authorization: Bearer <token>"
// header. The scheme is compared without case (RFC 6750 §2.1 takes its
// scheme name from RFC 9110 §11.1, where scheme names are case-insensitive),
// so "bearer" and "BEARER" are accepted wherever a bearer token is read.
func BearerToken(header string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
