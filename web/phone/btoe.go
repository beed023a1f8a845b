package phone

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/btoe"
	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/web"
)

// PhoneSessions tells which phone a sign-in access token was issued to.
// signin.Service satisfies it.
type PhoneSessions interface {
	VerifyAccessToken(ctx context.Context, raw string) (signin.AccessClaims, signin.Session, error)
}

// BToE is the Better Together over Ethernet module: the API the phone and
// the PC app use under /btoe/ (docs/btoe.md), and the admin's list of
// pairings under /api/v1/btoe/. A phone registers by proving it is that
// phone: with its provisioning credentials (Server.PhoneAuthenticated) or
// with the access token of the session signed in on it (sessions).
func BToE(svc *btoe.Service, sessions PhoneSessions) web.Module {
	return BToEWithHeartbeat(svc, sessions, 0)
}

// BToEWithHeartbeat is BToE whose event streams send a comment after
// heartbeat of quiet (0: 15 s), so that tests need not wait.
func BToEWithHeartbeat(svc *btoe.Service, sessions PhoneSessions, heartbeat time.Duration) web.Module {
	return &btoeAPI{svc: svc, sessions: sessions, streamHeartbeat: heartbeat}
}

type btoeAPI struct {
	s        *web.Server
	svc      *btoe.Service
	sessions PhoneSessions
	// streamHeartbeat is how long an event stream stays quiet before it
	// sends a comment to keep proxies from closing it.
	streamHeartbeat time.Duration
}

func (h *btoeAPI) Mount(r *web.Routes) {
	h.s = r.Server
	if h.streamHeartbeat == 0 {
		h.streamHeartbeat = 15 * time.Second
	}
	g := r.Root.Group("/btoe")
	g.POST("/phone/register", h.register)
	g.POST("/phone/pairing-code", h.phone(h.pairingCode))
	g.GET("/phone/pairing", h.phone(h.phonePairing))
	g.POST("/phone/pairing/confirm", h.phone(h.confirmPairing))
	g.POST("/phone/pairing/decline", h.phone(h.declinePairing))
	g.POST("/phone/unpair", h.phone(h.phoneUnpair))
	g.GET("/phone/events", h.phone(func(c *gin.Context, ph btoe.Phone) { h.poll(c, btoe.PhoneMailbox(ph.MAC)) }))
	g.GET("/phone/events/stream", h.phone(func(c *gin.Context, ph btoe.Phone) { h.stream(c, btoe.PhoneMailbox(ph.MAC)) }))
	g.POST("/phone/events/ack", h.phone(func(c *gin.Context, ph btoe.Phone) { h.ack(c, btoe.PhoneMailbox(ph.MAC)) }))

	g.POST("/pc/pair", h.pair)
	g.GET("/pc/pairing", h.pc(func(c *gin.Context, p btoe.Pairing) { c.JSON(http.StatusOK, p) }))
	g.POST("/pc/signin", h.pc(h.signIn))
	g.POST("/pc/lock", h.pc(func(c *gin.Context, p btoe.Pairing) { h.sent(c, btoe.EventLock, h.svc.Lock(c.Request.Context(), p)) }))
	g.POST("/pc/unlock", h.pc(func(c *gin.Context, p btoe.Pairing) {
		h.sent(c, btoe.EventUnlock, h.svc.Unlock(c.Request.Context(), p))
	}))
	g.POST("/pc/call", h.pc(h.call))
	g.POST("/pc/unpair", h.pc(h.pcUnpair))
	g.GET("/pc/events", h.pc(func(c *gin.Context, p btoe.Pairing) { h.poll(c, btoe.PCMailbox(p.ID)) }))
	g.GET("/pc/events/stream", h.pc(func(c *gin.Context, p btoe.Pairing) { h.stream(c, btoe.PCMailbox(p.ID)) }))
	g.POST("/pc/events/ack", h.pc(func(c *gin.Context, p btoe.Pairing) { h.ack(c, btoe.PCMailbox(p.ID)) }))

	// A phone an admin revokes or re-enrols loses its BToE registration
	// with its credentials: what they proved must not outlive them.
	r.Server.OnDistrust(func(ctx context.Context, mac string) error {
		if err := h.svc.ForgetPhone(ctx, mac); err != nil && !fault.Is(err, fault.NotFound) {
			return err
		}
		return nil
	})
}

func btoeBearer(c *gin.Context) string {
	tok, _ := web.BearerToken(c.GetHeader("Authorization"))
	return strings.TrimSpace(tok)
}

// phone and pc authenticate the caller by its bearer token.
func (h *btoeAPI) phone(fn func(*gin.Context, btoe.Phone)) gin.HandlerFunc {
	return func(c *gin.Context) {
		ph, err := h.svc.PhoneByToken(c.Request.Context(), btoeBearer(c))
		if err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="deskprov btoe phone"`)
			h.s.Fail(c, err)
			return
		}
		fn(c, ph)
	}
}

func (h *btoeAPI) pc(fn func(*gin.Context, btoe.Pairing)) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, err := h.svc.PairingByToken(c.Request.Context(), btoeBearer(c))
		if err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="deskprov btoe pc"`)
			h.s.Fail(c, err)
			return
		}
		fn(c, p)
	}
}

type btoeRegisterRequest struct {
	MAC string `json:"mac"`
	// Token is the phone's current BToE token, if it has one: presenting
	// it keeps the pairing when the phone proves itself another way.
	Token string `json:"token"`
}

// register is the one phone call that no BToE token authenticates: the
// phone proves it is the phone with that MAC.
func (h *btoeAPI) register(c *gin.Context) {
	var req btoeRegisterRequest
	if err := web.BindJSON(c, &req); err != nil {
		h.s.Fail(c, err)
		return
	}
	mac, err := btoe.CanonicalMAC(req.MAC)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	proof, err := h.phoneProof(c, mac)
	if err != nil {
		if fault.Is(err, fault.Unauthorized) {
			// Digest and Basic first: most phones answer the first
			// challenge they support.
			h.s.ChallengePhoneAfter(c)
			c.Writer.Header().Add("WWW-Authenticate", `Bearer realm="deskprov btoe phone"`)
		}
		h.s.Fail(c, err)
		return
	}
	reg, err := h.svc.RegisterPhone(c.Request.Context(), mac, proof, req.Token)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, reg)
}

// phoneProof says how the request proves it comes from phone mac: the
// phone's provisioning credentials, checked as for its own files, or the
// access token of the session signed in on that phone. A BToE token proves
// nothing here (it is what registering hands out).
func (h *btoeAPI) phoneProof(c *gin.Context, mac string) (btoe.Proof, error) {
	if h.s.PhoneAuthenticated(c, mac) {
		return btoe.Proof{Via: btoe.ProofCredentials}, nil
	}
	if tok := btoeBearer(c); tok != "" && !strings.HasPrefix(tok, "btoe_") && h.sessions != nil {
		claims, sess, err := h.sessions.VerifyAccessToken(c.Request.Context(), tok)
		if _, refused := signin.AsOAuth(err); err != nil && !refused && !fault.Is(err, fault.Unauthorized) {
			return btoe.Proof{}, err
		}
		if err == nil && sess.MAC == mac && claims.DeviceID == mac && sess.ID != "" {
			return btoe.Proof{Via: btoe.ProofSession, Session: sess.ID}, nil
		}
	}
	return btoe.Proof{}, fault.New(fault.Unauthorized, "prove that this request comes from phone %s: send its provisioning credentials (HTTP Digest or Basic, as for its configuration files) or the access token of the user signed in on it (Authorization: Bearer …)", mac).WithCode("phone_not_authenticated")
}

func (h *btoeAPI) pairingCode(c *gin.Context, ph btoe.Phone) {
	reg, err := h.svc.NewPairingCode(c.Request.Context(), ph)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, reg)
}

// BToEPhonePairing is the phone's view of its pairing and of the Auto
// pairing requests waiting for its answer.
type BToEPhonePairing struct {
	Paired   bool           `json:"paired"`
	Pairing  *btoe.Pairing  `json:"pairing,omitempty"`
	Requests []btoe.Pairing `json:"requests"`
}

func (h *btoeAPI) phonePairing(c *gin.Context, ph btoe.Phone) {
	ctx := c.Request.Context()
	p, ok, err := h.svc.ActivePairing(ctx, ph.MAC)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	reqs, err := h.svc.PairingRequests(ctx, ph.MAC)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	out := BToEPhonePairing{Paired: ok, Requests: reqs}
	if ok {
		out.Pairing = &p
	}
	c.JSON(http.StatusOK, out)
}

type btoePairingAnswer struct {
	PairingID string `json:"pairingId"`
}

// confirmPairing and declinePairing are the phone's answer to an Auto
// pairing request: only the phone's own token reaches them.
func (h *btoeAPI) confirmPairing(c *gin.Context, ph btoe.Phone) {
	var req btoePairingAnswer
	if err := web.BindJSON(c, &req); err != nil {
		h.s.Fail(c, err)
		return
	}
	p, err := h.svc.ConfirmPairing(c.Request.Context(), ph, req.PairingID)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, p)
}

func (h *btoeAPI) declinePairing(c *gin.Context, ph btoe.Phone) {
	var req btoePairingAnswer
	if err := web.BindJSON(c, &req); err != nil {
		h.s.Fail(c, err)
		return
	}
	if err := h.svc.DeclinePairing(c.Request.Context(), ph, req.PairingID); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *btoeAPI) phoneUnpair(c *gin.Context, ph btoe.Phone) {
	if err := h.svc.UnpairFromPhone(c.Request.Context(), ph); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *btoeAPI) pair(c *gin.Context) {
	var req btoe.PairRequest
	if err := web.BindJSON(c, &req); err != nil {
		h.s.Fail(c, err)
		return
	}
	req.Addr = c.ClientIP()
	out, err := h.svc.Pair(c.Request.Context(), req)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	// A request the phone has still to confirm is accepted, not yet made.
	status := http.StatusCreated
	if out.Pairing.Status == btoe.StatusPending {
		status = http.StatusAccepted
	}
	c.JSON(status, out)
}

type btoeSignInRequest struct {
	UPN      string `json:"upn"`
	Password string `json:"password"`
}

func (h *btoeAPI) signIn(c *gin.Context, p btoe.Pairing) {
	var req btoeSignInRequest
	if err := web.BindJSON(c, &req); err != nil {
		h.s.Fail(c, err)
		return
	}
	out, err := h.svc.SignIn(c.Request.Context(), p, req.UPN, req.Password)
	if oe, ok := signin.AsOAuth(err); ok {
		// Sign-in words its refusals for the token endpoint; the PC app
		// gets the same reason as a 403.
		code := oe.Reason
		if code == "" {
			code = oe.Code
		}
		err = fault.Forbiddenf("%s", oe.Description).WithCode(code)
	}
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, out)
}

type btoeCallRequest struct {
	Number string `json:"number"`
}

func (h *btoeAPI) call(c *gin.Context, p btoe.Pairing) {
	var req btoeCallRequest
	if err := web.BindJSON(c, &req); err != nil {
		h.s.Fail(c, err)
		return
	}
	n, err := h.svc.Dial(c.Request.Context(), p, req.Number)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"event": btoe.EventDial, "number": n})
}

func (h *btoeAPI) sent(c *gin.Context, event string, err error) {
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusAccepted, gin.H{"event": event})
}

func (h *btoeAPI) pcUnpair(c *gin.Context, p btoe.Pairing) {
	if err := h.svc.UnpairFromPC(c.Request.Context(), p); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// btoeInt reads a non-negative integer query parameter.
func btoeInt(c *gin.Context, name string, max int64) (int64, error) {
	v := c.Query(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > max {
		if max >= 1<<62 {
			return 0, fault.FieldInvalid(name, "query parameter %s=%q must be a whole number, 0 or more", name, v)
		}
		return 0, fault.FieldInvalid(name, "query parameter %s=%q must be a whole number from 0 to %d", name, v, max)
	}
	return n, nil
}

// BToEEvents is a long poll's answer.
type BToEEvents struct {
	Events []btoe.Event `json:"events"`
}

// poll answers GET …/events?after=N&wait=S: it acknowledges everything up to
// N, then returns the events after N, waiting up to S seconds for one.
func (h *btoeAPI) poll(c *gin.Context, box string) {
	after, err := btoeInt(c, "after", 1<<62)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	wait, err := btoeInt(c, "wait", int64(btoe.MaxWait/time.Second))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	ctx := c.Request.Context()
	if err := h.svc.Ack(ctx, box, after); err != nil {
		h.s.Fail(c, err)
		return
	}
	evs, err := h.svc.Events(ctx, box, after, time.Duration(wait)*time.Second)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, BToEEvents{Events: evs})
}

type btoeAckRequest struct {
	Seq *int64 `json:"seq"`
}

func (h *btoeAPI) ack(c *gin.Context, box string) {
	var req btoeAckRequest
	if err := web.BindJSON(c, &req); err != nil {
		h.s.Fail(c, err)
		return
	}
	if req.Seq == nil {
		h.s.Fail(c, web.FaultMissing("seq", `{"seq": 3}`))
		return
	}
	if err := h.svc.Ack(c.Request.Context(), box, *req.Seq); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// stream serves the events as server-sent events. The stream does not
// acknowledge what it sends: a receiver acknowledges with POST …/ack, or by
// reconnecting with Last-Event-ID (or ?after=N), which acknowledges up to it.
func (h *btoeAPI) stream(c *gin.Context, box string) {
	after, err := btoeInt(c, "after", 1<<62)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	if id := c.GetHeader("Last-Event-ID"); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n < 0 {
			h.s.Fail(c, fault.Invalidf("Last-Event-ID %q must be the seq of the last event received", id))
			return
		}
		after = max(after, n)
	}
	ctx := c.Request.Context()
	if err := h.svc.Ack(ctx, box, after); err != nil {
		h.s.Fail(c, err)
		return
	}
	w := c.Writer
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 3000\n\n")
	w.Flush()
	for ctx.Err() == nil && !h.svc.Stopping() {
		evs, err := h.svc.Events(ctx, box, after, h.streamHeartbeat)
		if err != nil {
			if ctx.Err() == nil {
				h.s.Log.Error("btoe event stream failed", "mailbox", box, "err", err)
				fmt.Fprint(w, "event: error\ndata: {\"error\":\"internal\",\"message\":\"the stream failed; reconnect with Last-Event-ID\"}\n\n")
				w.Flush()
			}
			return
		}
		if len(evs) == 0 {
			fmt.Fprint(w, ": keep-alive\n\n")
		}
		for _, e := range evs {
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, btoeSSEData(e))
			after = e.Seq
		}
		w.Flush()
	}
}

// btoeSSEData is the event as one JSON line, like a long poll's entries.
func btoeSSEData(e btoe.Event) string {
	b, err := json.Marshal(e)
	if err != nil {
		return `{"error":"internal"}`
	}
	return string(b)
}
