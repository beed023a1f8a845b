package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/web"
)

// mountEnrolmentConsole mounts /admin/enrolments: the phones' enrolments
// with a state filter, per-phone approve, revoke and re-enrol buttons, a
// by-MAC form for phones not seen yet, the "require approval of new phones"
// switch and the latest audit entries. Plain POST forms with the console's
// CSRF token, so it works without JavaScript.
func mountEnrolmentConsole(r *web.Routes, svc *phoneid.Service) {
	cn, err := newConsole(r.Server)
	if err != nil {
		// As in mountConsole: the templates are embedded and the store was
		// just reached, so this is a broken build or store.
		panic("admin console: " + err.Error())
	}
	ec := &consoleEnrolments{console: cn, svc: svc}
	g := r.Root.Group("/admin", cn.headers, cn.nonce, cn.checkCSRF, cn.requireAdmin)
	g.GET("/enrolments", ec.list)
	g.POST("/enrolments", ec.act)
	g.POST("/enrolments/settings", ec.settings)
}

type consoleEnrolments struct {
	*console
	svc *phoneid.Service
}

// consoleEnrolmentRow is one phone in the list, its times already written
// out for a person.
type consoleEnrolmentRow struct {
	MAC, State, FirstSeen, FirstIP, FirstUserAgent, Approved, Credentials, Revoked string
	CanApprove, CanRevoke                                                          bool
}

type consoleEnrolmentAudit struct {
	At, Actor, Action, MAC, Detail string
}

// consoleEnrolmentsView is the enrolments page.
type consoleEnrolmentsView struct {
	Filter          string
	States          []string
	Phones          []consoleEnrolmentRow
	RequireApproval bool
	EnrolNetworks   string
	Audit           []consoleEnrolmentAudit
	// MAC is what the by-MAC form was sent with, kept when it failed.
	MAC string
}

// consoleEnrolmentAuditRows is how many audit entries the page shows.
const consoleEnrolmentAuditRows = 20

func ConsoleTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func consoleEnrolmentRowOf(p phoneid.Phone) consoleEnrolmentRow {
	row := consoleEnrolmentRow{MAC: p.MAC, State: string(p.State), FirstSeen: ConsoleTime(p.FirstSeen), FirstIP: p.FirstIP, FirstUserAgent: p.FirstUserAgent,
		Revoked: ConsoleTime(p.RevokedAt)}
	if p.ApprovedAt != nil {
		row.Approved = ConsoleTime(p.ApprovedAt) + " by " + p.ApprovedBy
	}
	switch {
	case p.EnrolledAt != nil:
		row.Credentials = "used since " + ConsoleTime(p.EnrolledAt)
	case p.IssuedAt != nil:
		row.Credentials = "issued " + ConsoleTime(p.IssuedAt) + " to " + p.IssuedTo
	}
	// The same rules as phoneid's: a phone holding credentials has nothing
	// to approve, a revoked one nothing to revoke.
	row.CanApprove = p.State != phoneid.Issued && p.State != phoneid.Enrolled
	row.CanRevoke = p.State != phoneid.Revoked
	return row
}

// show renders the page for the filter given; problem, when set, is shown
// as the page's error with status.
func (ec *consoleEnrolments) show(c *gin.Context, status int, flash, problem, filter, mac string) {
	ctx := c.Request.Context()
	v := consoleEnrolmentsView{Filter: filter, MAC: mac}
	for _, st := range phoneid.States {
		v.States = append(v.States, string(st))
	}
	var nets []string
	for _, p := range ec.svc.EnrolNetworks {
		nets = append(nets, p.String())
	}
	v.EnrolNetworks = strings.Join(nets, ", ")
	fail := func(err error) {
		if problem == "" {
			problem, status = ec.problemOf(err), web.StatusOf(fault.KindOf(err))
		}
	}
	if phones, err := ec.svc.List(ctx, phoneid.State(filter)); err != nil {
		fail(err)
	} else {
		for _, p := range phones {
			v.Phones = append(v.Phones, consoleEnrolmentRowOf(p))
		}
	}
	if on, err := ec.svc.RequireApproval(ctx); err != nil {
		fail(err)
	} else {
		v.RequireApproval = on
	}
	if es, err := ec.svc.Audit(ctx, "", consoleEnrolmentAuditRows); err != nil {
		fail(err)
	} else {
		for _, e := range es {
			v.Audit = append(v.Audit, consoleEnrolmentAudit{At: ConsoleTime(&e.At), Actor: e.Actor, Action: e.Action, MAC: e.MAC, Detail: e.Detail})
		}
	}
	ec.render(c, status, "enrolments", consolePageData{Title: "Phone enrolment", Flash: flash, Error: problem, Body: v})
}

// consoleEnrolmentDone is the confirmation of an action, shown after the
// redirect that follows it.
var consoleEnrolmentDone = map[string]string{
	"approve": "Phone %s is approved: its next request for its configuration issues its credentials.",
	"revoke":  "Phone %s is revoked: it gets no files of its own until it is approved or re-enrolled.",
	"reenrol": "Phone %s is forgotten: its next request is a first contact, which issues new credentials.",
}

func (ec *consoleEnrolments) list(c *gin.Context) {
	flash := ""
	if msg, ok := consoleEnrolmentDone[c.Query("done")]; ok {
		if m, err := phoneid.CanonicalMAC(c.Query("mac")); err == nil {
			flash = fmt.Sprintf(msg, m)
		}
	}
	if c.Query("settings") != "" {
		flash = "The enrolment setting is saved."
	}
	ec.show(c, http.StatusOK, flash, "", c.Query("state"), "")
}

// consoleEnrolmentsURL is where the page sends the browser after a change:
// the list with the filter it was showing.
func consoleEnrolmentsURL(filter string, q url.Values) string {
	if filter != "" {
		q.Set("state", filter)
	}
	if len(q) == 0 {
		return "/admin/enrolments"
	}
	return "/admin/enrolments?" + q.Encode()
}

// act runs the action a row's button (or the by-MAC form) sent.
func (ec *consoleEnrolments) act(c *gin.Context) {
	mac, action, filter := strings.TrimSpace(c.PostForm("mac")), c.PostForm("action"), c.PostForm("state")
	out, err := web.EnrolmentAct(c, ec.s, ec.svc, mac, action)
	if err != nil {
		ec.show(c, web.StatusOf(fault.KindOf(err)), "", ec.problemOf(err), filter, mac)
		return
	}
	m := mac
	switch o := out.(type) {
	case phoneid.Phone:
		m = o.MAC
	case web.Reenrolled:
		m = o.MAC
	}
	c.Redirect(http.StatusSeeOther, consoleEnrolmentsURL(filter, url.Values{"done": {action}, "mac": {m}}))
}

// settings saves the switch: an unticked checkbox is not sent, so its
// absence means off.
func (ec *consoleEnrolments) settings(c *gin.Context) {
	on := c.PostForm("requireApproval") == "true"
	if err := ec.svc.SetRequireApproval(c.Request.Context(), on, web.AdminOf(c)); err != nil {
		ec.show(c, web.StatusOf(fault.KindOf(err)), "", ec.problemOf(err), c.PostForm("state"), "")
		return
	}
	c.Redirect(http.StatusSeeOther, consoleEnrolmentsURL(c.PostForm("state"), url.Values{"settings": {"saved"}}))
}

// Enrolment is the console's phone enrolment page (/admin/enrolments).
func Enrolment(svc *phoneid.Service) web.Module {
	return web.ModuleFunc(func(r *web.Routes) { mountEnrolmentConsole(r, svc) })
}
