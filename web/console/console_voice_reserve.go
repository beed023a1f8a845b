package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// The console's way to new numbers, the seeds' "search, reserve, acquire":
// /admin/numbers/search looks in the pool and reserves, and
// /admin/numbers/reservation?id=… shows a hold (its expiry as a clock time,
// no script needed) with acquire and cancel. The reservation is named in the
// query, not the path, so that one reserved through the API or CLI can be
// opened by typing its id.

func (vc *consoleVoice) mountReservations(g *gin.RouterGroup) {
	g.GET("/numbers/search", vc.searchPage)
	g.POST("/numbers/reservations", vc.reserve)
	g.GET("/numbers/reservation", vc.reservationPage)
	g.POST("/numbers/reservations/:id/acquire", vc.acquire)
	g.POST("/numbers/reservations/:id/cancel", vc.cancelReservation)
}

// searchShown is how many free numbers the search page lists.
const searchShown = 20

type consoleSearchView struct {
	consoleForm
	Type, Country, State, City string
	Types                      []consoleChoice
	Searched                   bool
	Available                  int64
	Numbers                    []tenant.NumberView
	Quota                      []consoleQuotaRow
}

var searchKeys = []string{"type", "country", "state", "city"}

func searchPath(get func(string) string) string {
	q := url.Values{}
	for _, k := range searchKeys {
		if v := strings.TrimSpace(get(k)); v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return "/admin/numbers/search"
	}
	return "/admin/numbers/search?" + q.Encode()
}

func (vc *consoleVoice) searchPage(c *gin.Context) {
	ctx := c.Request.Context()
	f := vc.takeFlash(c)
	v := consoleSearchView{consoleForm: formOf(c, &f), Type: c.Query("type"), Country: c.Query("country"), State: c.Query("state"), City: c.Query("city")}
	for _, t := range tenant.NumberTypes {
		v.Types = append(v.Types, consoleChoice{string(t), numberTypeNames[t]})
	}
	if v.Type == "" {
		v.Type = string(tenant.UserNumber)
	}
	if q, err := vc.tn.NumberQuota(ctx); err != nil {
		f.Err = vc.problemOf(err)
	} else {
		for _, t := range tenant.NumberTypes {
			l := q.Line(t)
			v.Quota = append(v.Quota, consoleQuotaRow{Type: string(t), Name: numberTypeNames[t], Limit: l.Limit, Used: l.Used, Available: l.Available, Reason: l.Reason})
		}
	}
	if c.Query("country") != "" && f.Err == "" {
		res, err := vc.tn.SearchNumbers(ctx, tenant.NumberFilter{Type: v.Type, Country: v.Country, State: v.State, City: v.City, Limit: searchShown})
		if err != nil {
			if fe, ok := fault.As(err); ok && fe.Field != "" && v.Field == "" {
				v.Field, v.Error = fe.Field, vc.problemOf(err)
			} else {
				f.Err = vc.problemOf(err)
			}
		} else {
			v.Searched, v.Available, v.Numbers = true, res.Available, res.Numbers
		}
	}
	vc.render(c, http.StatusOK, "reserve", consolePageData{Title: "Get phone numbers", Flash: f.Msg, Error: f.Err, Body: v})
}

func (vc *consoleVoice) reserve(c *gin.Context) {
	back := searchPath(c.PostForm)
	in := tenant.ReserveInput{Type: c.PostForm("type"), Country: c.PostForm("country"), State: c.PostForm("state"), City: c.PostForm("city")}
	n, err := strconv.Atoi(strings.TrimSpace(c.PostForm("quantity")))
	if err != nil || n < 1 {
		err = fault.FieldInvalid("quantity", "type how many numbers to hold, a whole number such as 5")
	} else {
		in.Quantity = n
	}
	var r tenant.NumberReservation
	if err == nil {
		r, err = vc.tn.Reserve(c.Request.Context(), in, web.AdminOf(c))
	}
	if err != nil {
		// A refusal about the whole request (the quota, an empty pool)
		// belongs beside the number wanted.
		field := "quantity"
		if fe, ok := fault.As(err); ok && fe.Field != "" && fe.Field != "quantity" {
			field = fe.Field
		}
		vc.flash(c, back+"#reserve", consoleFlash{Err: vc.problemOf(err), Field: field, Values: map[string]string{"quantity": c.PostForm("quantity")}})
		return
	}
	vc.flash(c, reservationPath(r.ID), consoleFlash{Msg: fmt.Sprintf("Holding %d numbers for you until %s: acquire them before then.", len(r.Numbers), clockTime(r.ExpiresAt))})
}

func reservationPath(id string) string { return "/admin/numbers/reservation?id=" + url.QueryEscape(id) }

// clockTime is a hold's expiry as a person reads it on a clock.
func clockTime(t time.Time) string { return t.UTC().Format("15:04:05 UTC on 2006-01-02") }

type consoleReservationView struct {
	consoleForm
	ID        string
	Found     bool
	R         tenant.NumberReservation
	TypeName  string
	ExpiresAt string
	Expired   bool
}

func (vc *consoleVoice) reservationPage(c *gin.Context) {
	f := vc.takeFlash(c)
	v := consoleReservationView{consoleForm: formOf(c, &f), ID: strings.TrimSpace(c.Query("id"))}
	if v.ID != "" {
		r, err := vc.tn.Reservation(c.Request.Context(), v.ID)
		if err != nil {
			v.Field, v.Error = "id", vc.problemOf(err)
		} else {
			v.Found, v.R, v.TypeName, v.ExpiresAt = true, r, numberTypeNames[r.Type], clockTime(r.ExpiresAt)
			v.Expired = len(r.Numbers) == 0
		}
	}
	vc.render(c, http.StatusOK, "reservation", consolePageData{Title: "Reservation", Flash: f.Msg, Error: f.Err, Body: v})
}

func (vc *consoleVoice) acquire(c *gin.Context) {
	id := c.Param("id")
	if err := c.Request.ParseForm(); err != nil {
		vc.flash(c, reservationPath(id), consoleFlash{Err: vc.problemOf(fault.Invalidf("the form could not be read: %v", err)), Field: "acquire"})
		return
	}
	res, err := vc.tn.Acquire(c.Request.Context(), id, c.Request.PostForm["number"])
	if err != nil {
		vc.flash(c, reservationPath(id), consoleFlash{Err: vc.problemOf(err), Field: "acquire"})
		return
	}
	nums := make([]string, len(res.Numbers))
	for i, n := range res.Numbers {
		nums[i] = n.Number
	}
	vc.flash(c, "/admin/numbers?status=unassigned", consoleFlash{Msg: fmt.Sprintf("Acquired %s: assign them below. The quota now has %d more.", strings.Join(nums, ", "), res.Quota.Available)})
}

func (vc *consoleVoice) cancelReservation(c *gin.Context) {
	id := c.Param("id")
	if err := vc.tn.CancelReservation(c.Request.Context(), id); err != nil {
		vc.flash(c, reservationPath(id), consoleFlash{Err: vc.problemOf(err), Field: "cancel"})
		return
	}
	vc.flash(c, "/admin/numbers/search", consoleFlash{Msg: "Cancelled the reservation: its numbers are back in the pool."})
}
