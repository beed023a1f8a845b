package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// Voice is the console's Voice pages (issue 15 item 6): /admin/numbers
// (the quota, the organisation's numbers filtered as GET /api/v1/numbers
// filters them, assign to a user with an emergency location, release) and
// /admin/emergencyaddresses (addresses with their validation, create,
// validate, delete, locations). Every change is the tenant call the REST
// API makes, so the refusals, the role table and the audit log are the same.
type Voice struct{}

// Mount adds the pages under /admin behind a console session.
func (Voice) Mount(r *web.Routes) {
	cn, err := newConsole(r.Server)
	if err == nil {
		err = addConsolePagesOf(cn, "numbers", "addresses", "reserve", "reservation", "portorders", "numberrequests", "voiceservices",
			"pool", "number", "voiceservice", "address", "availability")
	}
	if err != nil {
		// As in mountConsole: embedded templates and a store just reached.
		panic("admin console: " + err.Error())
	}
	vc := &consoleVoice{console: cn, tn: r.Server.Tenant}
	g := r.Root.Group("/admin", cn.headers, cn.nonce, cn.checkCSRF, cn.requireAdmin)
	g.GET("/numbers", vc.numbers)
	g.POST("/numbers/:number/assign", vc.assign)
	g.POST("/numbers/:number/release", vc.release)
	vc.mountReservations(g)
	vc.mountPortOrders(g)
	vc.mountNumberRequests(g)
	vc.mountServices(g)
	vc.mountChanges(g)
	g.GET("/emergencyaddresses", vc.addresses)
	g.POST("/emergencyaddresses", vc.createAddress)
	g.POST("/emergencyaddresses/:id/validate", vc.validate)
	g.POST("/emergencyaddresses/:id/delete", vc.deleteAddress)
	g.POST("/emergencyaddresses/:id/locations", vc.addLocation)
	g.POST("/emergencyaddresses/:id/locations/:location/delete", vc.deleteLocation)
}

type consoleVoice struct {
	*console
	tn *tenant.Service
}

// numberTypeNames are the number types as the admin center names them.
var numberTypeNames = map[tenant.NumberType]string{
	tenant.UserNumber:            "User (subscriber)",
	tenant.ServiceTollNumber:     "Service, toll",
	tenant.ServiceTollFreeNumber: "Service, toll-free",
}

type consoleQuotaRow struct {
	Type, Name             string
	Limit, Used, Available int
	Reason                 string
}

type consoleChoice struct{ Value, Label string }

type consoleNumberRow struct {
	tenant.NumberView
	// ID is the number without its +, for element ids.
	ID, TypeName, Place, Owner, Emergency string
	CanAssign                             bool
}

type consoleNumbersView struct {
	consoleForm
	Quota                              []consoleQuotaRow
	QuotaError                         string
	Type, Status, Country, State, City string
	Back                               string
	Types, Statuses                    []consoleChoice
	Rows                               []consoleNumberRow
	Locations                          []consoleChoice
}

// numbersFilterKeys are the list's filters, the query parameters of
// GET /api/v1/numbers.
var numbersFilterKeys = []string{"type", "status", "country", "state", "city"}

// numbersBack is the list with the filters of q, where a form on it returns.
func numbersBack(q url.Values) string {
	keep := url.Values{}
	for _, k := range numbersFilterKeys {
		if v := strings.TrimSpace(q.Get(k)); v != "" {
			keep.Set(k, v)
		}
	}
	if len(keep) == 0 {
		return "/admin/numbers"
	}
	return "/admin/numbers?" + keep.Encode()
}

func (vc *consoleVoice) numbers(c *gin.Context) {
	ctx := c.Request.Context()
	f := vc.takeFlash(c)
	q := c.Request.URL.Query()
	v := consoleNumbersView{consoleForm: formOf(c, &f), Type: q.Get("type"), Status: q.Get("status"),
		Country: q.Get("country"), State: q.Get("state"), City: q.Get("city"), Back: numbersBack(q)}
	v.Types = []consoleChoice{{"", "every type"}}
	for _, t := range tenant.NumberTypes {
		v.Types = append(v.Types, consoleChoice{string(t), numberTypeNames[t]})
	}
	v.Statuses = []consoleChoice{{"", "assigned or not"}, {tenant.StatusAssigned, "assigned"}, {tenant.StatusUnassigned, "unassigned"}}

	quota, err := vc.tn.NumberQuota(ctx)
	if err != nil {
		// Without a voice license there is no quota and no number: the
		// page says what to buy instead of failing.
		v.QuotaError = vc.problemOf(err)
		vc.render(c, http.StatusOK, "numbers", consolePageData{Title: "Phone numbers", Flash: f.Msg, Error: f.Err, Body: v})
		return
	}
	for _, t := range tenant.NumberTypes {
		l := quota.Line(t)
		v.Quota = append(v.Quota, consoleQuotaRow{Type: string(t), Name: numberTypeNames[t], Limit: l.Limit, Used: l.Used, Available: l.Available, Reason: l.Reason})
	}
	addrs, err := vc.tn.AddressesWhere(ctx, tenant.AddressFilter{})
	if err != nil {
		f.Err = vc.problemOf(err)
	}
	addrName := map[uint]string{}
	locName := map[uint]string{}
	for _, a := range addrs {
		addrName[a.ID] = addressLabel(a)
		for _, l := range a.Locations {
			locName[l.ID] = l.Name
			if usableAddress(a) {
				v.Locations = append(v.Locations, consoleChoice{fmt.Sprintf("%d/%d", a.ID, l.ID), addressLabel(a) + " — " + l.Name})
			}
		}
	}
	ns, err := vc.tn.Numbers(ctx, tenant.NumberFilter{Type: v.Type, Status: v.Status, Country: v.Country, State: v.State, City: v.City})
	if err != nil {
		// A filter the API refuses: show it beside the filter.
		if fe, ok := fault.As(err); ok && fe.Field != "" && v.Field == "" {
			v.Field, v.Error = fe.Field, vc.problemOf(err)
		} else {
			f.Err = vc.problemOf(err)
		}
	}
	for _, n := range ns {
		row := consoleNumberRow{NumberView: n, ID: strings.TrimPrefix(n.Number, "+"), TypeName: numberTypeNames[n.Type], Owner: "—", Emergency: "—"}
		var place []string
		for _, p := range []string{n.City, n.State, n.Country} {
			if p != "" {
				place = append(place, p)
			}
		}
		row.Place = strings.Join(place, ", ")
		switch {
		case n.User != "":
			row.Owner = n.User
		case n.Service != nil:
			row.Owner = fmt.Sprintf("%s %s (%d)", n.Service.Kind, n.Service.Name, n.Service.ID)
		}
		if n.EmergencyAddressID != nil {
			row.Emergency = addrName[*n.EmergencyAddressID]
			if n.LocationID != nil && locName[*n.LocationID] != "" {
				row.Emergency += " — " + locName[*n.LocationID]
			}
		}
		row.CanAssign = n.Status == tenant.StatusUnassigned && n.Type == tenant.UserNumber
		v.Rows = append(v.Rows, row)
	}
	vc.render(c, http.StatusOK, "numbers", consolePageData{Title: "Phone numbers", Flash: f.Msg, Error: f.Err, Body: v})
}

// usableAddress: an address a number may be given (not rejected, and
// validated by its rules or by an admin).
func usableAddress(a tenant.EmergencyAddress) bool {
	switch a.ValidationStatus {
	case tenant.ValidationAccepted, tenant.ValidationAcceptedWithChanges:
		return true
	case tenant.ValidationNotValidated:
		return a.ValidatedAt != nil
	}
	return false
}

func addressLabel(a tenant.EmergencyAddress) string {
	s := strings.TrimSpace(a.HouseNumber + " " + a.Street + ", " + a.City)
	if a.Description != "" {
		s = a.Description + " (" + s + ")"
	}
	return s
}

// backTo is the list a number form came from, its filters kept.
func backTo(c *gin.Context) string {
	if b := c.PostForm("back"); b == numberPath(c.Param("number")) {
		return b
	}
	q, err := url.ParseQuery(strings.TrimPrefix(strings.TrimPrefix(c.PostForm("back"), "/admin/numbers"), "?"))
	if err != nil {
		return "/admin/numbers"
	}
	return numbersBack(q)
}

func (vc *consoleVoice) assign(c *gin.Context) {
	number := c.Param("number")
	id := strings.TrimPrefix(number, "+")
	back := backTo(c)
	in := tenant.AssignInput{User: strings.TrimSpace(c.PostForm("user"))}
	values := map[string]string{"user-" + id: in.User, "location-" + id: c.PostForm("location")}
	fail := func(field string, err error) {
		vc.flash(c, back+"#n-"+id, consoleFlash{Err: vc.problemOf(err), Field: field + "-" + id, Values: values})
	}
	if in.User == "" {
		fail("user", fault.FieldInvalid("user", "type the user's UPN (amos@contoso.com)"))
		return
	}
	addr, loc, ok := strings.Cut(c.PostForm("location"), "/")
	aid, err := strconv.ParseUint(addr, 10, 32)
	if err != nil || aid == 0 {
		fail("location", fault.FieldInvalid("emergencyAddressId", "choose the emergency address the number's calls are sent to"))
		return
	}
	a := uint(aid)
	in.EmergencyAddressID = &a
	if ok {
		lid, err := strconv.ParseUint(loc, 10, 32)
		if err != nil || lid == 0 {
			fail("location", fault.FieldInvalid("locationId", "choose a location from the list"))
			return
		}
		l := uint(lid)
		in.LocationID = &l
	}
	n, err := vc.tn.AssignNumber(c.Request.Context(), number, in)
	if err != nil {
		field := "user"
		if fe, ok := fault.As(err); ok && (strings.HasPrefix(fe.Field, "emergencyAddress") || strings.HasPrefix(fe.Field, "location") || strings.Contains(fe.Code, "address") || strings.Contains(fe.Code, "location")) {
			field = "location"
		}
		fail(field, err)
		return
	}
	vc.flash(c, back+"#n-"+id, consoleFlash{Msg: "Assigned " + n.Number + " to " + n.User + "."})
}

func (vc *consoleVoice) release(c *gin.Context) {
	number := c.Param("number")
	id := strings.TrimPrefix(number, "+")
	back := backTo(c)
	toPool := c.PostForm("returnToPool") == "true"
	n, err := vc.tn.ReleaseNumber(c.Request.Context(), number, toPool)
	if err != nil {
		vc.flash(c, back+"#n-"+id, consoleFlash{Err: vc.problemOf(err), Field: "release-" + id})
		return
	}
	msg := "Released " + n.Number + ": it is the organisation's, unassigned."
	if toPool {
		msg = "Released " + n.Number + " and gave it back to the pool: it no longer counts against the quota."
	}
	vc.flash(c, back, consoleFlash{Msg: msg})
}

type consoleLocationRow struct {
	tenant.LocationView
	Error string
}

type consoleAddressRow struct {
	tenant.EmergencyAddress
	Label     string
	Usable    bool
	CanMark   bool
	Locations []consoleLocationRow
	// Errors beside this address's forms.
	ValidateError, DeleteError, LocationError, LocationValue string
}

type consoleAddressesView struct {
	consoleForm
	City, Country, Description string
	Rows                       []consoleAddressRow
	Fields                     []consoleInput
}

// addressFields are the boxes of the new-address form, in order, with the
// names of AddressInput's JSON fields.
var addressFields = []struct{ name, label, param, help string }{
	{"description", "Description", "-Description", "how people know the place: Redmond HQ"},
	{"houseNumber", "House number", "-HouseNumber", ""},
	{"street", "Street", "-StreetName", ""},
	{"city", "City", "-City", ""},
	{"state", "State or province", "-StateOrProvince", "US states and Canadian provinces by code or name"},
	{"postalCode", "Postal code", "-PostalCode", ""},
	{"country", "Country", "-CountryOrRegion", "two-letter code (US, GB, FR) or the country's name"},
}

func (vc *consoleVoice) addresses(c *gin.Context) {
	ctx := c.Request.Context()
	f := vc.takeFlash(c)
	v := consoleAddressesView{consoleForm: formOf(c, &f), City: c.Query("city"), Country: c.Query("country"), Description: c.Query("description")}
	for _, af := range addressFields {
		v.Fields = append(v.Fields, v.Input(af.name, af.label, af.param, "text", af.help))
	}
	as, err := vc.tn.AddressesWhere(ctx, tenant.AddressFilter{City: v.City, Country: v.Country, Description: v.Description})
	if err != nil {
		f.Err = vc.problemOf(err)
	}
	for _, a := range as {
		sid := strconv.FormatUint(uint64(a.ID), 10)
		row := consoleAddressRow{EmergencyAddress: a, Label: addressLabel(a), Usable: usableAddress(a),
			CanMark:       a.ValidationStatus == tenant.ValidationNotValidated && a.ValidatedAt == nil,
			ValidateError: v.ErrFor("validate-" + sid), DeleteError: v.ErrFor("delete-" + sid),
			LocationError: v.ErrFor("location-" + sid), LocationValue: v.Form["location-"+sid]}
		ls, err := vc.tn.Locations(ctx, a.ID)
		if err != nil {
			f.Err = vc.problemOf(err)
		}
		for _, l := range ls {
			row.Locations = append(row.Locations, consoleLocationRow{LocationView: l, Error: v.ErrFor(fmt.Sprintf("location-%d-%d", a.ID, l.ID))})
		}
		v.Rows = append(v.Rows, row)
	}
	vc.render(c, http.StatusOK, "addresses", consolePageData{Title: "Emergency addresses", Flash: f.Msg, Error: f.Err, Body: v})
}

const AddressesPage = "/admin/emergencyaddresses"

func (vc *consoleVoice) createAddress(c *gin.Context) {
	in := tenant.AddressInput{Description: c.PostForm("description"), HouseNumber: c.PostForm("houseNumber"), Street: c.PostForm("street"),
		City: c.PostForm("city"), State: c.PostForm("state"), PostalCode: c.PostForm("postalCode"), Country: c.PostForm("country")}
	values := map[string]string{}
	for _, af := range addressFields {
		values[af.name] = c.PostForm(af.name)
	}
	a, err := vc.tn.CreateAddress(c.Request.Context(), in)
	if err != nil {
		fl := consoleFlash{Err: vc.problemOf(err), Values: values}
		if fe, ok := fault.As(err); ok && fieldKnown(fe.Field) {
			fl.Field = fe.Field
		}
		vc.flash(c, AddressesPage+"#new", fl)
		return
	}
	msg := fmt.Sprintf("Added the address %s: %s.", addressLabel(a), a.ValidationStatus)
	switch a.ValidationStatus {
	case tenant.ValidationRejected:
		msg = fmt.Sprintf("The address %s was rejected (%s): numbers cannot use it; add a corrected one.", addressLabel(a), a.Reason)
	case tenant.ValidationNotValidated:
		msg += " " + a.Reason + "."
	case tenant.ValidationAcceptedWithChanges:
		msg = fmt.Sprintf("Added the address %s, accepted with corrections (shown in its row).", addressLabel(a))
	}
	vc.flash(c, fmt.Sprintf("%s#a-%d", AddressesPage, a.ID), consoleFlash{Msg: msg})
}

func fieldKnown(name string) bool {
	for _, af := range addressFields {
		if af.name == name {
			return true
		}
	}
	return false
}

// addressID reads :id, leaving a refusal on the page when it is none.
func (vc *consoleVoice) addressID(c *gin.Context) (uint, bool) {
	id, err := web.NumbersID(c)
	if err != nil {
		vc.flash(c, AddressesPage, consoleFlash{Err: vc.problemOf(err)})
		return 0, false
	}
	return id, true
}

func (vc *consoleVoice) validate(c *gin.Context) {
	id, ok := vc.addressID(c)
	if !ok {
		return
	}
	a, err := vc.tn.MarkAddressValidated(c.Request.Context(), id, web.AdminOf(c))
	if err != nil {
		vc.flash(c, fmt.Sprintf("%s#a-%d", AddressesPage, id), consoleFlash{Err: vc.problemOf(err), Field: fmt.Sprintf("validate-%d", id)})
		return
	}
	vc.flash(c, fmt.Sprintf("%s#a-%d", AddressesPage, id), consoleFlash{Msg: "Marked the address " + addressLabel(a) + " validated: numbers may use it now."})
}

func (vc *consoleVoice) deleteAddress(c *gin.Context) {
	id, ok := vc.addressID(c)
	if !ok {
		return
	}
	if err := vc.tn.DeleteAddress(c.Request.Context(), id); err != nil {
		vc.flash(c, fmt.Sprintf("%s#a-%d", AddressesPage, id), consoleFlash{Err: vc.problemOf(err), Field: fmt.Sprintf("delete-%d", id)})
		return
	}
	vc.flash(c, AddressesPage, consoleFlash{Msg: fmt.Sprintf("Deleted the emergency address %d and its locations.", id)})
}

func (vc *consoleVoice) addLocation(c *gin.Context) {
	id, ok := vc.addressID(c)
	if !ok {
		return
	}
	name := c.PostForm("name")
	l, err := vc.tn.AddLocation(c.Request.Context(), id, name)
	if err != nil {
		field := fmt.Sprintf("location-%d", id)
		vc.flash(c, fmt.Sprintf("%s#a-%d", AddressesPage, id), consoleFlash{Err: vc.problemOf(err), Field: field, Values: map[string]string{field: name}})
		return
	}
	vc.flash(c, fmt.Sprintf("%s#a-%d", AddressesPage, id), consoleFlash{Msg: "Added the location " + l.Name + "."})
}

func (vc *consoleVoice) deleteLocation(c *gin.Context) {
	id, ok := vc.addressID(c)
	if !ok {
		return
	}
	loc, err := strconv.ParseUint(c.Param("location"), 10, 32)
	if err != nil || loc == 0 {
		vc.flash(c, AddressesPage, consoleFlash{Err: fmt.Sprintf("%q is not a location id: use the button beside the location", c.Param("location"))})
		return
	}
	if err := vc.tn.DeleteLocation(c.Request.Context(), web.AdminOf(c), id, uint(loc)); err != nil {
		vc.flash(c, fmt.Sprintf("%s#a-%d", AddressesPage, id), consoleFlash{Err: vc.problemOf(err), Field: fmt.Sprintf("location-%d-%d", id, loc)})
		return
	}
	vc.flash(c, fmt.Sprintf("%s#a-%d", AddressesPage, id), consoleFlash{Msg: "Removed the location."})
}
