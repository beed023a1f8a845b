package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// The console's number requests (/admin/numberrequests): numbers the pool
// does not offer, asked of the operator; fulfil (with the numbers given),
// cancel or reject, each the tenant call of /api/v1/numberrequests.

func (vc *consoleVoice) mountNumberRequests(g *gin.RouterGroup) {
	g.GET("/numberrequests", vc.numberRequests)
	g.POST("/numberrequests", vc.submitNumberRequest)
	g.POST("/numberrequests/:id/:action", vc.moveNumberRequest)
}

const numberRequestsPage = "/admin/numberrequests"

var numberRequestFields = []struct{ name, label, param, help string }{
	{"country", "Country", "country", "two-letter code: AU"},
	{"state", "State", "state", ""},
	{"city", "City", "city", ""},
	{"quantity", "How many", "quantity", ""},
	{"contact", "Contact", "contact", "who the operator answers: an email address or a phone number"},
	{"notes", "Notes", "notes", ""},
}

type consoleNumberRequestRow struct {
	tenant.NumberRequest
	TypeName, Error, Numbers string
	Open                     bool
}

type consoleNumberRequestsView struct {
	consoleForm
	Rows   []consoleNumberRequestRow
	Fields []consoleInput
	Types  []consoleChoice
}

func (vc *consoleVoice) numberRequests(c *gin.Context) {
	f := vc.takeFlash(c)
	v := consoleNumberRequestsView{consoleForm: formOf(c, &f)}
	for _, rf := range numberRequestFields {
		v.Fields = append(v.Fields, v.Input(rf.name, rf.label, rf.param, "text", rf.help))
	}
	for _, t := range tenant.NumberTypes {
		v.Types = append(v.Types, consoleChoice{string(t), numberTypeNames[t]})
	}
	rs, err := vc.tn.NumberRequests(c.Request.Context())
	if err != nil {
		f.Err = vc.problemOf(err)
	}
	for _, r := range rs {
		field := fmt.Sprintf("request-%d", r.ID)
		v.Rows = append(v.Rows, consoleNumberRequestRow{NumberRequest: r, TypeName: numberTypeNames[r.Type], Error: v.ErrFor(field),
			Numbers: v.Form["numbers-"+strconv.FormatUint(uint64(r.ID), 10)], Open: r.State == tenant.OrderSubmitted})
	}
	vc.render(c, http.StatusOK, "numberrequests", consolePageData{Title: "Number requests", Flash: f.Msg, Error: f.Err, Body: v})
}

func splitNumbers(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func (vc *consoleVoice) submitNumberRequest(c *gin.Context) {
	values := map[string]string{"type": c.PostForm("type"), "beyondQuota": c.PostForm("beyondQuota")}
	for _, rf := range numberRequestFields {
		values[rf.name] = c.PostForm(rf.name)
	}
	in := tenant.NumberRequestInput{Type: c.PostForm("type"), Country: c.PostForm("country"), State: c.PostForm("state"), City: c.PostForm("city"),
		Contact: c.PostForm("contact"), Notes: c.PostForm("notes"), BeyondQuota: c.PostForm("beyondQuota") == "true"}
	var err error
	if q, qerr := strconv.Atoi(strings.TrimSpace(c.PostForm("quantity"))); qerr != nil {
		err = fault.FieldInvalid("quantity", "type how many numbers you need, a whole number such as 5")
	} else {
		in.Quantity = q
	}
	var r tenant.NumberRequest
	if err == nil {
		r, err = vc.tn.SubmitNumberRequest(c.Request.Context(), in)
	}
	if err != nil {
		fl := consoleFlash{Err: vc.problemOf(err), Values: values}
		if fe, ok := fault.As(err); ok && fe.Field != "" {
			fl.Field = fe.Field
		}
		vc.flash(c, numberRequestsPage+"#new", fl)
		return
	}
	vc.flash(c, fmt.Sprintf("%s#r-%d", numberRequestsPage, r.ID), consoleFlash{Msg: fmt.Sprintf("Filed number request %d for %d numbers.", r.ID, r.Quantity)})
}

func (vc *consoleVoice) moveNumberRequest(c *gin.Context) {
	id, err := web.NumbersID(c)
	if err != nil {
		vc.flash(c, numberRequestsPage, consoleFlash{Err: vc.problemOf(err)})
		return
	}
	at := fmt.Sprintf("%s#r-%d", numberRequestsPage, id)
	r, err := vc.tn.MoveNumberRequest(c.Request.Context(), id, c.Param("action"), c.PostForm("reason"), splitNumbers(c.PostForm("numbers")))
	if err != nil {
		sid := strconv.FormatUint(uint64(id), 10)
		vc.flash(c, at, consoleFlash{Err: vc.problemOf(err), Field: "request-" + sid, Values: map[string]string{"numbers-" + sid: c.PostForm("numbers")}})
		return
	}
	vc.flash(c, at, consoleFlash{Msg: fmt.Sprintf("Number request %d is %s.", r.ID, r.State)})
}
