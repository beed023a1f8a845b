package phone

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	qrcode "github.com/skip2/go-qrcode"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/web"
)

// SignIn is what phones (and the BToE PC app) call to sign in: OpenID
// discovery and JWKS, the device authorization, token and revocation
// endpoints, phone sign-out and phone lock. The admin's side (sessions,
// sign-out, PIN reset, unlock codes, key rotation) is api.SignIn; the
// /devicelogin pages for people are pages.DeviceLogin.
func SignIn(svc *signin.Service) web.Module { return &signinAPI{svc: svc} }

type signinAPI struct {
	s   *web.Server
	svc *signin.Service
	// tokens counts token endpoint answers by grant and outcome.
	tokens *prometheus.CounterVec
}

// Grant types the token endpoint accepts.
const (
	GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
	GrantPassword   = "password"
	GrantRefresh    = "refresh_token"
	GrantPIN        = "urn:deskprov:params:oauth:grant-type:pin"
	GrantBToE       = "urn:deskprov:params:oauth:grant-type:btoe"
)

func (h *signinAPI) Mount(r *web.Routes) {
	h.s = r.Server
	h.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "deskprov_signin_token_requests_total",
		Help: "Token endpoint answers by grant type and outcome (ok or the OAuth error code).",
	}, []string{"grant", "outcome"})
	r.Server.Registry.MustRegister(h.tokens)
	root := r.Root
	root.GET("/.well-known/openid-configuration", h.discovery)
	root.GET("/oauth2/jwks", h.jwks)
	root.POST("/oauth2/devicecode", h.deviceAuthorization)
	root.GET("/oauth2/devicecode/qr.png", h.qr)
	root.POST("/oauth2/token", h.token)
	root.POST("/oauth2/revoke", h.revoke)
	root.POST("/oauth2/signout", h.phone(h.signOut))
	root.GET("/oauth2/phonelock", h.phone(h.lockStatus))
	root.POST("/oauth2/phonelock/pin", h.phone(h.setPIN))
	root.POST("/oauth2/phonelock/lock", h.phone(h.lock))
	root.POST("/oauth2/phonelock/unlock", h.phone(h.unlock))

}

// oauthFail writes an RFC 6749 §5.2 error body; other errors go the usual way.
func (h *signinAPI) oauthFail(c *gin.Context, err error) {
	oe, ok := signin.AsOAuth(err)
	if !ok {
		if fe, ok := fault.As(err); ok && fe.Kind == fault.Invalid {
			oe = &signin.OAuthError{Code: signin.ErrInvalidRequest, Description: fe.Message}
		} else {
			h.s.Fail(c, err)
			return
		}
	}
	status := http.StatusBadRequest
	switch oe.Code {
	case signin.ErrInvalidClient:
		status = http.StatusUnauthorized
	case signin.ErrTemporarilyUnavailable:
		status = http.StatusTooManyRequests
	}
	if oe.Status != 0 {
		status = oe.Status
	}
	if oe.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(oe.RetryAfter))
	}
	body := gin.H{"error": oe.Code, "error_description": oe.Description}
	if oe.Reason != "" {
		body["reason"] = oe.Reason
	}
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(status, body)
}

func (h *signinAPI) discovery(c *gin.Context) {
	iss := h.svc.Issuer
	c.JSON(http.StatusOK, gin.H{
		"issuer":                                     iss,
		"device_authorization_endpoint":              iss + "/oauth2/devicecode",
		"token_endpoint":                             iss + "/oauth2/token",
		"jwks_uri":                                   iss + "/oauth2/jwks",
		"revocation_endpoint":                        iss + "/oauth2/revoke",
		"grant_types_supported":                      []string{GrantDeviceCode, GrantPassword, GrantRefresh, GrantPIN, GrantBToE},
		"token_endpoint_auth_methods_supported":      []string{"none"},
		"revocation_endpoint_auth_methods_supported": []string{"none"},
		"id_token_signing_alg_values_supported":      []string{"ES256"},
		"scopes_supported":                           []string{"skype", "exchange"},
		"response_types_supported":                   []string{"token"},
		"subject_types_supported":                    []string{"public"},
	})
}

func (h *signinAPI) jwks(c *gin.Context) {
	ks, err := h.svc.JWKS(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.JSON(http.StatusOK, ks)
}

// formEncoded refuses a body that is not application/x-www-form-urlencoded
// (RFC 6749 §3.2, RFC 8628 §3.1), which would otherwise read as missing fields.
func formEncoded(c *gin.Context) error {
	ct := c.ContentType()
	if ct == "" || ct == "application/x-www-form-urlencoded" {
		return nil
	}
	return &signin.OAuthError{Code: signin.ErrInvalidRequest,
		Description: "send the fields as an application/x-www-form-urlencoded form, not " + ct + " (RFC 6749 §3.2)"}
}

func (h *signinAPI) deviceAuthorization(c *gin.Context) {
	if err := formEncoded(c); err != nil {
		h.oauthFail(c, err)
		return
	}
	if err := h.svc.AllowDeviceAuthorization(c.Request.Context(), c.ClientIP()); err != nil {
		h.oauthFail(c, err)
		return
	}
	da, err := h.svc.StartDeviceAuthorization(c.Request.Context(), c.PostForm("client_id"), c.PostForm("device_id"), c.PostForm("scope"))
	if err != nil {
		h.oauthFail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, da)
}

// qr is a PNG QR code of verification_uri_complete, for phones with a screen.
func (h *signinAPI) qr(c *gin.Context) {
	uc, ok := signin.NormalizeUserCode(c.Query("user_code"))
	if !ok {
		h.s.Fail(c, fault.FieldInvalid("user_code", "user_code must be a code from the device authorization endpoint, like BCDF-GHJK"))
		return
	}
	png, err := qrcode.Encode(h.svc.Issuer+"/devicelogin?user_code="+signin.FormatUserCode(uc), qrcode.Medium, 256)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "image/png", png)
}

func (h *signinAPI) token(c *gin.Context) {
	ctx := c.Request.Context()
	var tok signin.Tokens
	var err error
	gt := ""
	defer func() { h.tokens.WithLabelValues(grantLabel(gt), outcomeLabel(err)).Inc() }()
	// The media type first: no field is read from a body of another kind.
	if err = formEncoded(c); err != nil {
		h.oauthFail(c, err)
		return
	}
	ctx = signin.WithPhoneProof(ctx, h.phoneProof(c))
	client := c.PostForm("client_id")
	gt = c.PostForm("grant_type")
	switch gt {
	case GrantDeviceCode:
		tok, err = h.svc.PollDeviceCode(ctx, client, c.PostForm("device_code"))
	case GrantPassword:
		tok, err = h.svc.PasswordGrant(ctx, client, c.PostForm("device_id"), c.PostForm("username"), c.PostForm("password"), c.ClientIP())
	case GrantPIN:
		tok, err = h.svc.PINGrant(ctx, client, c.PostForm("device_id"), c.PostForm("extension"), c.PostForm("pin"), c.ClientIP())
	case GrantRefresh:
		tok, err = h.svc.Refresh(ctx, client, c.PostForm("refresh_token"))
	case GrantBToE:
		tok, err = h.svc.RedeemPCCode(ctx, client, c.PostForm("device_id"), c.PostForm("code"))
	case "":
		err = &signin.OAuthError{Code: signin.ErrInvalidRequest, Description: "grant_type is required"}
	default:
		err = &signin.OAuthError{Code: signin.ErrUnsupportedGrantType, Description: "grant_type " + gt + " is not supported: use " +
			strings.Join([]string{GrantDeviceCode, GrantPassword, GrantPIN, GrantRefresh, GrantBToE}, ", ")}
	}
	h.logGrant(c, gt, err)
	if err != nil {
		if oe, ok := signin.AsOAuth(err); ok && oe.Reason == signin.ReasonPhoneInUse {
			// The phone's credentials would have turned this answer: give
			// it a nonce to answer with Digest (the token endpoint is
			// otherwise never a phone's 401), stale when its nonce was.
			h.s.ChallengePhoneAfter(c)
		}
		h.oauthFail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	c.JSON(http.StatusOK, tok)
}

// logGrant logs a token request's sign-in for the operator: password and
// PIN sign-ins, a device-code sign-in as the phone collects it, a BToE PC
// sign-in. Refreshes and the "not yet" answers to a phone polling its
// device code are routine, not events.
func (h *signinAPI) logGrant(c *gin.Context, gt string, err error) {
	mac := c.PostForm("device_id")
	switch gt {
	case GrantPassword:
		h.s.LogSignIn(c, "signin.password", err, "upn", c.PostForm("username"), "mac", mac)
	case GrantPIN:
		h.s.LogSignIn(c, "signin.pin", err, "extension", c.PostForm("extension"), "mac", mac)
	case GrantBToE:
		h.s.LogSignIn(c, "signin.btoe", err, "mac", mac)
	case GrantDeviceCode:
		if oe, ok := signin.AsOAuth(err); ok && (oe.Code == signin.ErrAuthorizationPending || oe.Code == signin.ErrSlowDown) {
			return
		}
		h.s.LogSignIn(c, "signin.devicecode", err, "client", c.PostForm("client_id"))
	}
}

// phoneProof is what a token request shows of coming from the phone it
// names (device_id), for a sign-in on a phone where someone else is signed
// in: the phone's provisioning credentials (checked only when needed), or its
// own current access or refresh token in the form field phone_token.
func (h *signinAPI) phoneProof(c *gin.Context) signin.PhoneProof {
	return signin.PhoneProof{
		Provisioned: func(mac string) bool { return h.s.PhoneAuthenticated(c, mac) },
		Token:       strings.TrimSpace(c.PostForm("phone_token")),
	}
}

func grantLabel(gt string) string {
	switch gt {
	case GrantDeviceCode, GrantPassword, GrantPIN, GrantRefresh, GrantBToE:
		return gt
	}
	return "other"
}

func outcomeLabel(err error) string {
	if err == nil {
		return "ok"
	}
	if oe, ok := signin.AsOAuth(err); ok {
		return oe.Code
	}
	return "error"
}

// revoke is RFC 7009: 200 whether or not the token was known.
func (h *signinAPI) revoke(c *gin.Context) {
	if err := formEncoded(c); err != nil {
		h.oauthFail(c, err)
		return
	}
	if err := h.svc.Revoke(c.Request.Context(), c.PostForm("token")); err != nil {
		h.oauthFail(c, err)
		return
	}
	c.Status(http.StatusOK)
}

// phone authenticates a phone by its bearer access token.
func (h *signinAPI) phone(next func(c *gin.Context, sess signin.Session)) gin.HandlerFunc {
	return func(c *gin.Context) {
		raw, ok := web.BearerToken(c.GetHeader("Authorization"))
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="deskprov"`)
			web.WriteError(c, http.StatusUnauthorized, string(fault.Unauthorized), "send the phone's access token as Authorization: Bearer <token>")
			return
		}
		_, sess, err := h.svc.VerifyAccessToken(c.Request.Context(), raw)
		if err != nil {
			if oe, ok := signin.AsOAuth(err); ok {
				c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
				web.WriteError(c, http.StatusUnauthorized, string(fault.Unauthorized), oe.Description)
				return
			}
			h.s.Fail(c, err)
			return
		}
		next(c, sess)
	}
}

func (h *signinAPI) signOut(c *gin.Context, sess signin.Session) {
	if err := h.svc.SignOut(c.Request.Context(), sess.ID); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"signedOut": true})
}

func (h *signinAPI) lockStatus(c *gin.Context, sess signin.Session) {
	st, err := h.svc.PhoneLock(c.Request.Context(), sess.ID)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}

func (h *signinAPI) setPIN(c *gin.Context, sess signin.Session) {
	if err := h.svc.SetLockPIN(c.Request.Context(), sess.ID, c.PostForm("pin")); err != nil {
		h.s.Fail(c, err)
		return
	}
	h.lockStatus(c, sess)
}

func (h *signinAPI) lock(c *gin.Context, sess signin.Session) {
	if err := h.svc.Lock(c.Request.Context(), sess.ID); err != nil {
		h.s.Fail(c, err)
		return
	}
	h.lockStatus(c, sess)
}

// unlock takes form field pin, or unlock_code from an admin.
func (h *signinAPI) unlock(c *gin.Context, sess signin.Session) {
	ctx := c.Request.Context()
	if code := c.PostForm("unlock_code"); code != "" {
		if err := h.svc.UnlockWithCode(ctx, sess.ID, code); err != nil {
			h.s.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, signin.UnlockResult{Unlocked: true})
		return
	}
	res, err := h.svc.Unlock(ctx, sess.ID, c.PostForm("pin"))
	if err != nil {
		fe, ok := fault.As(err)
		if !ok {
			h.s.Fail(c, err)
			return
		}
		c.AbortWithStatusJSON(web.StatusOf(fe.Kind), gin.H{"error": string(fe.Kind), "message": fe.Message, "code": fe.Code,
			"retriesLeft": res.RetriesLeft, "signedOut": res.SignedOut, "needsUnlockCode": res.NeedsUnlockCode})
		return
	}
	c.JSON(http.StatusOK, res)
}
