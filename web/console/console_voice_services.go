package console

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// The console's voice services (/admin/voiceservices): conference bridges,
// call queues and auto attendants that service numbers go to, with their
// numbers; add and delete, the tenant calls of /api/v1/voiceservices.

func (vc *consoleVoice) mountServices(g *gin.RouterGroup) {
	g.GET("/voiceservices", vc.services)
	g.POST("/voiceservices", vc.createService)
	g.POST("/voiceservices/:id/delete", vc.deleteService)
}

const servicesPage = "/admin/voiceservices"

var serviceKindNames = map[tenant.ServiceKind]string{
	tenant.ConferenceBridge: "Conference bridge",
	tenant.CallQueue:        "Call queue",
	tenant.AutoAttendant:    "Auto attendant",
}

type consoleServiceRow struct {
	tenant.VoiceService
	KindName, Error string
}

type consoleServicesView struct {
	consoleForm
	Rows  []consoleServiceRow
	Kinds []consoleChoice
}

func (vc *consoleVoice) services(c *gin.Context) {
	f := vc.takeFlash(c)
	v := consoleServicesView{consoleForm: formOf(c, &f)}
	for _, k := range tenant.ServiceKinds {
		v.Kinds = append(v.Kinds, consoleChoice{string(k), serviceKindNames[k]})
	}
	ss, err := vc.tn.Services(c.Request.Context())
	if err != nil {
		f.Err = vc.problemOf(err)
	}
	for _, s := range ss {
		v.Rows = append(v.Rows, consoleServiceRow{VoiceService: s, KindName: serviceKindNames[s.Kind], Error: v.ErrFor(fmt.Sprintf("delete-%d", s.ID))})
	}
	vc.render(c, http.StatusOK, "voiceservices", consolePageData{Title: "Voice services", Flash: f.Msg, Error: f.Err, Body: v})
}

func (vc *consoleVoice) createService(c *gin.Context) {
	in := tenant.ServiceInput{Kind: c.PostForm("kind"), Name: c.PostForm("name")}
	s, err := vc.tn.CreateService(c.Request.Context(), in)
	if err != nil {
		fl := consoleFlash{Err: vc.problemOf(err), Values: map[string]string{"kind": in.Kind, "name": in.Name}, Field: "name"}
		if fe, ok := fault.As(err); ok && fe.Field == "kind" {
			fl.Field = "kind"
		}
		vc.flash(c, servicesPage+"#new", fl)
		return
	}
	vc.flash(c, fmt.Sprintf("%s#s-%d", servicesPage, s.ID), consoleFlash{Msg: fmt.Sprintf("Added the %s %s: give it a service number on the numbers page.", serviceKindNames[s.Kind], s.Name)})
}

func (vc *consoleVoice) deleteService(c *gin.Context) {
	id, err := web.NumbersID(c)
	if err != nil {
		vc.flash(c, servicesPage, consoleFlash{Err: vc.problemOf(err)})
		return
	}
	if err := vc.tn.DeleteService(c.Request.Context(), id); err != nil {
		vc.flash(c, fmt.Sprintf("%s#s-%d", servicesPage, id), consoleFlash{Err: vc.problemOf(err), Field: fmt.Sprintf("delete-%d", id)})
		return
	}
	vc.flash(c, servicesPage, consoleFlash{Msg: fmt.Sprintf("Deleted voice service %d.", id)})
}
