package console

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// The console's port orders (/admin/portorders): each order with its
// Letter of Authorization and state, a form to submit one, and its state
// changes (confirm with a firm order date, complete, cancel, reject), each
// the tenant call of POST /api/v1/portorders and …/{id}/{action}.

func (vc *consoleVoice) mountPortOrders(g *gin.RouterGroup) {
	g.GET("/portorders", vc.portOrders)
	g.POST("/portorders", vc.submitPortOrder)
	g.POST("/portorders/:id/:action", vc.movePortOrder)
}

const portOrdersPage = "/admin/portorders"

// portOrderFields are the boxes of the submit form, with PortOrderInput's
// JSON names.
var portOrderFields = []struct{ name, label, param, help string }{
	{"country", "Country", "country", "two-letter code: US"},
	{"state", "State", "state", ""},
	{"city", "City", "city", ""},
	{"carrier", "Losing carrier", "carrier", "the carrier the numbers leave"},
	{"accountNumber", "Account number with that carrier", "accountNumber", ""},
	{"billingName", "Name on the bill", "billingName", ""},
	{"billingAddress", "Billing address", "billingAddress", ""},
	{"authorizedSignatory", "Authorised signatory", "authorizedSignatory", "who signs the Letter of Authorization"},
}

type consolePortOrderRow struct {
	tenant.PortOrder
	TypeName, FirmDate, Error string
	Open, CanComplete         bool
}

type consolePortOrdersView struct {
	consoleForm
	Rows   []consolePortOrderRow
	Fields []consoleInput
	Types  []consoleChoice
}

func (vc *consoleVoice) portOrders(c *gin.Context) {
	f := vc.takeFlash(c)
	v := consolePortOrdersView{consoleForm: formOf(c, &f)}
	for _, pf := range portOrderFields {
		v.Fields = append(v.Fields, v.Input(pf.name, pf.label, pf.param, "text", pf.help))
	}
	for _, t := range tenant.NumberTypes {
		v.Types = append(v.Types, consoleChoice{string(t), numberTypeNames[t]})
	}
	os, err := vc.tn.PortOrders(c.Request.Context())
	if err != nil {
		f.Err = vc.problemOf(err)
	}
	for _, o := range os {
		row := consolePortOrderRow{PortOrder: o, TypeName: numberTypeNames[o.NumberType], Error: v.ErrFor(fmt.Sprintf("order-%d", o.ID)),
			Open: o.State == tenant.OrderSubmitted || o.State == tenant.OrderConfirmed, CanComplete: o.State == tenant.OrderConfirmed}
		if o.FirmOrderDate != nil {
			row.FirmDate = o.FirmOrderDate.UTC().Format("2006-01-02 15:04 UTC")
		}
		v.Rows = append(v.Rows, row)
	}
	vc.render(c, http.StatusOK, "portorders", consolePageData{Title: "Port orders", Flash: f.Msg, Error: f.Err, Body: v})
}

func (vc *consoleVoice) submitPortOrder(c *gin.Context) {
	in := tenant.PortOrderInput{NumberType: c.PostForm("numberType"), Country: c.PostForm("country"), State: c.PostForm("state"), City: c.PostForm("city"),
		Carrier: c.PostForm("carrier"), AccountNumber: c.PostForm("accountNumber"), BillingName: c.PostForm("billingName"),
		BillingAddress: c.PostForm("billingAddress"), AuthorizedSignatory: c.PostForm("authorizedSignatory"),
		Numbers: splitNumbers(c.PostForm("numbers"))}
	values := map[string]string{"numberType": in.NumberType, "numbers": c.PostForm("numbers")}
	for _, pf := range portOrderFields {
		values[pf.name] = c.PostForm(pf.name)
	}
	o, err := vc.tn.SubmitPortOrder(c.Request.Context(), in)
	if err != nil {
		fl := consoleFlash{Err: vc.problemOf(err), Values: values}
		if fe, ok := fault.As(err); ok && fe.Field != "" {
			fl.Field = fe.Field
			if strings.HasPrefix(fe.Field, "numbers") {
				fl.Field = "numbers"
			}
		}
		vc.flash(c, portOrdersPage+"#new", fl)
		return
	}
	vc.flash(c, fmt.Sprintf("%s#o-%d", portOrdersPage, o.ID), consoleFlash{Msg: fmt.Sprintf("Submitted port order %d for %d numbers (%s).", o.ID, len(o.NumberList), o.Path)})
}

func (vc *consoleVoice) movePortOrder(c *gin.Context) {
	id, err := web.NumbersID(c)
	if err != nil {
		vc.flash(c, portOrdersPage, consoleFlash{Err: vc.problemOf(err)})
		return
	}
	at := fmt.Sprintf("%s#o-%d", portOrdersPage, id)
	field := fmt.Sprintf("order-%d", id)
	in := tenant.PortTransition{Reason: c.PostForm("reason")}
	if d := strings.TrimSpace(c.PostForm("firmOrderDate")); d != "" {
		t, err := tenant.ParseFirmOrderDate(d)
		if err != nil {
			vc.flash(c, at, consoleFlash{Err: vc.problemOf(err), Field: field})
			return
		}
		in.FirmOrderDate = &t
	}
	o, err := vc.tn.MovePortOrder(c.Request.Context(), id, c.Param("action"), in)
	if err != nil {
		vc.flash(c, at, consoleFlash{Err: vc.problemOf(err), Field: field})
		return
	}
	vc.flash(c, at, consoleFlash{Msg: fmt.Sprintf("Port order %d is %s.", o.ID, o.State)})
}
