package web

import (
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/internal/textfield"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/tenant"
)

// What more than one face uses and so lives in the core: the API and the
// console both call these, and neither owns them.

// ClipText shortens what a client sent before an error message repeats it.
func ClipText(s string, n int) string { return textfield.Clip(s, n) }

// NumbersID reads the :id of a number-service object (numbers, requests,
// port orders, changes): the API and the console's voice pages share it.
func NumbersID(c *gin.Context) (uint, error) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 32)
	if err != nil || id == 0 {
		return 0, fault.FieldInvalid("id", "%q is not an id: use the number the list shows", c.Param("id"))
	}
	return uint(id), nil
}

// Reenrolled is the answer to a re-enrolment: deskprov no longer holds any
// enrolment for the phone (a GET of it is 404 until it asks again), so its
// state is ReenrolledState.
type Reenrolled struct {
	MAC     string `json:"mac"`
	State   string `json:"state"`
	Message string `json:"message"`
}

// ReenrolledState is the state a re-enrolment answers with: deskprov knows
// nothing of the phone any more, and its next request is a first contact.
const ReenrolledState = "unknown"

// EnrolmentAct runs one admin action on a phone and returns what the API
// answers: the phone's enrolment, or Reenrolled.
func EnrolmentAct(c *gin.Context, s *Server, svc *phoneid.Service, mac, action string) (any, error) {
	ctx, admin := c.Request.Context(), AdminOf(c)
	switch action {
	case "approve":
		return svc.Approve(ctx, mac, admin)
	case "revoke":
		p, err := svc.Revoke(ctx, mac, admin)
		if err != nil {
			return nil, err
		}
		return p, s.Distrust(c, p.MAC)
	case "reenrol":
		m, err := phoneid.CanonicalMAC(mac)
		if err != nil {
			return nil, err
		}
		if err := svc.Reenrol(ctx, m, admin); err != nil {
			return nil, err
		}
		if err := s.Distrust(c, m); err != nil {
			return nil, err
		}
		return Reenrolled{MAC: m, State: ReenrolledState,
			Message: "deskprov forgot phone " + m + "'s enrolment and credentials: its next request is a first contact, which issues new credentials (after approval, when approval is required)"}, nil
	}
	return nil, fault.NotFoundf("no action %q on a phone's enrolment: use approve, revoke or reenrol", ClipText(action, 40))
}

// OrganizationName is the name the people's pages show: the organisation's,
// or "deskprov" while it has none (or the store cannot say).
func OrganizationName(c *gin.Context, tn *tenant.Service) string {
	if tn != nil {
		if o, err := tn.Organization(c.Request.Context()); err == nil && o.Name != "" {
			return o.Name
		}
	}
	return "deskprov"
}
