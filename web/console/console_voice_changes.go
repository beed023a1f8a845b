package console

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// The Voice changes the console lacked until issue 15 was closed: loading
// the pool, a number's own page (assign to a service, move in place, confirm
// a ported service number's capacity, release), a voice service's page (a
// bridge's default numbers) and an emergency address's page (edit it). Each
// is the tenant call its REST route makes (web/numbers*.go), so refusals,
// roles and the audit log are the API's.

func (vc *consoleVoice) mountChanges(g *gin.RouterGroup) {
	vc.mountAvailability(g)
	g.GET("/numbers/pool", vc.PoolPage)
	g.POST("/numbers/pool", vc.loadPool)
	g.GET("/numbers/:number", vc.numberPage)
	g.POST("/numbers/:number/service", vc.assignService)
	g.POST("/numbers/:number/move", vc.move)
	g.POST("/numbers/:number/confirmcapacity", vc.confirmCapacity)
	g.GET("/voiceservices/:id", vc.servicePage)
	g.POST("/voiceservices/:id/defaults", vc.setDefaults)
	g.GET("/emergencyaddresses/:id", vc.addressPage)
	g.POST("/emergencyaddresses/:id", vc.editAddress)
}

const PoolPage = "/admin/numbers/pool"

// poolKeepMax is the most of a refused load's text the page shows again:
// it rides in the flash cookie, which must stay under 4 KiB.
const poolKeepMax = 2000

type consolePoolView struct {
	consoleForm
	Kept bool
}

func (vc *consoleVoice) PoolPage(c *gin.Context) {
	f := vc.takeFlash(c)
	v := consolePoolView{consoleForm: formOf(c, &f)}
	v.Kept = v.Error == "" || v.Form["numbers"] != ""
	vc.render(c, http.StatusOK, "pool", consolePageData{Title: "Load numbers into the pool", Flash: f.Msg, Error: f.Err, Body: v})
}

// poolLine is the entry index in a refusal of LoadInventory ("numbers[3].type").
var poolLine = regexp.MustCompile(`^numbers\[(\d+)\]`)

// parsePool reads the lines of the form: number,type,country[,state[,city]],
// the CSV the CLI's `number load` reads; a header line naming "number" is
// skipped.
func parsePool(text string) ([]tenant.InventoryNumber, error) {
	r := csv.NewReader(strings.NewReader(text))
	r.FieldsPerRecord, r.TrimLeadingSpace = -1, true
	var out []tenant.InventoryNumber
	for line := 1; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fault.FieldInvalid("numbers", "line %d is not comma-separated text: %v", line, err)
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if len(rec) == 1 && rec[0] == "" {
			continue
		}
		if len(out) == 0 && strings.EqualFold(rec[0], "number") {
			continue
		}
		if len(rec) < 3 || len(rec) > 5 {
			return nil, fault.FieldInvalid("numbers", "line %d has %d fields: write number, type, country, and optionally state and city", line, len(rec))
		}
		rec = append(rec, "", "")
		out = append(out, tenant.InventoryNumber{Number: rec[0], Type: rec[1], Country: rec[2], State: rec[3], City: rec[4]})
	}
	return out, nil
}

func (vc *consoleVoice) loadPool(c *gin.Context) {
	text := c.PostForm("numbers")
	in, err := parsePool(text)
	var n int
	if err == nil {
		n, err = vc.tn.LoadInventory(c.Request.Context(), in)
	}
	if err != nil {
		msg := vc.problemOf(err)
		// LoadInventory names the entry; the admin typed lines.
		if fe, ok := fault.As(err); ok {
			if m := poolLine.FindStringSubmatch(fe.Field); m != nil {
				i, _ := strconv.Atoi(m[1])
				msg = fmt.Sprintf("Line %d (%s): %s", i+1, in[i].Number, msg)
			}
		}
		keep := map[string]string{}
		if len(text) <= poolKeepMax {
			keep["numbers"] = text
		}
		vc.flash(c, PoolPage+"#load", consoleFlash{Err: msg, Field: "numbers", Values: keep})
		return
	}
	vc.flash(c, "/admin/numbers/search", consoleFlash{Msg: fmt.Sprintf("Added %d numbers to the pool: search for them below.", n)})
}

// numberPath is a number's own page.
func numberPath(number string) string { return "/admin/numbers/" + url.PathEscape(number) }

type consoleNumberView struct {
	consoleForm
	consoleNumberRow
	Path                string
	Locations, Services []consoleChoice
	// Which forms fit the number as it is.
	AssignUser, AssignService, MovePlace, MoveService, CanConfirm bool
	Location                                                      string
}

func (vc *consoleVoice) numberPage(c *gin.Context) {
	ctx := c.Request.Context()
	f := vc.takeFlash(c)
	v := consoleNumberView{consoleForm: formOf(c, &f)}
	n, err := vc.tn.Number(ctx, c.Param("number"))
	if err != nil {
		vc.render(c, web.StatusOf(fault.KindOf(err)), "number", consolePageData{Title: "Phone number", Error: vc.problemOf(err), Body: v})
		return
	}
	v.Path = numberPath(n.Number)
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
		row.Owner = fmt.Sprintf("%s %s (%d)", serviceKindNames[n.Service.Kind], n.Service.Name, n.Service.ID)
	}
	assigned := n.Status == tenant.StatusAssigned
	v.AssignUser = !assigned && n.Type == tenant.UserNumber
	v.AssignService = !assigned && n.Type.IsService()
	v.MovePlace = assigned && n.User != ""
	v.MoveService = assigned && n.Service != nil
	v.CanConfirm = n.CapacitySetup == tenant.CapacityPending
	if n.Type == tenant.UserNumber {
		as, err := vc.tn.AddressesWhere(ctx, tenant.AddressFilter{Country: n.Country})
		if err != nil {
			f.Err = vc.problemOf(err)
		}
		for _, a := range as {
			if n.EmergencyAddressID != nil && *n.EmergencyAddressID == a.ID && n.LocationID == nil {
				row.Emergency = addressLabel(a)
			}
			for _, l := range a.Locations {
				if n.EmergencyAddressID != nil && *n.EmergencyAddressID == a.ID && n.LocationID != nil && *n.LocationID == l.ID {
					row.Emergency = addressLabel(a) + " — " + l.Name
					v.Location = fmt.Sprintf("%d/%d", a.ID, l.ID)
				}
				if usableAddress(a) {
					v.Locations = append(v.Locations, consoleChoice{fmt.Sprintf("%d/%d", a.ID, l.ID), addressLabel(a) + " — " + l.Name})
				}
			}
		}
	} else {
		ss, err := vc.tn.Services(ctx)
		if err != nil {
			f.Err = vc.problemOf(err)
		}
		for _, s := range ss {
			if n.Service != nil && n.Service.ID == s.ID {
				continue
			}
			v.Services = append(v.Services, consoleChoice{fmt.Sprintf("%s:%d", s.Kind, s.ID), fmt.Sprintf("%s %s", serviceKindNames[s.Kind], s.Name)})
		}
	}
	if cur := v.Form["location"]; cur != "" {
		v.Location = cur
	}
	shown := map[string]bool{"capacity": v.CanConfirm && v.CanEdit, "service": (v.AssignService || v.MoveService) && v.CanEdit,
		"location": v.MovePlace && v.CanEdit, "user-" + row.ID: v.AssignUser && v.CanEdit, "location-" + row.ID: v.AssignUser && v.CanEdit}
	topRefusal(&v.consoleForm, &f, shown)
	v.consoleNumberRow = row
	vc.render(c, http.StatusOK, "number", consolePageData{Title: "Phone number " + n.Number, Flash: f.Msg, Error: f.Err, Body: v})
}

// topRefusal moves a refusal whose form the page no longer shows (the
// object changed meanwhile) to the top of the page, so it is never lost.
func topRefusal(v *consoleForm, f *consoleFlash, shown map[string]bool) {
	if v.Field != "" && !shown[v.Field] {
		f.Err, v.Field, v.Error = v.Error, "", ""
	}
}

// serviceRef reads a service choice, "kind:id".
func serviceRef(s string) (tenant.ServiceRef, error) {
	kind, id, _ := strings.Cut(s, ":")
	n, err := strconv.ParseUint(id, 10, 32)
	if kind == "" || err != nil || n == 0 {
		return tenant.ServiceRef{}, fault.FieldInvalid("service", "choose a voice service from the list")
	}
	return tenant.ServiceRef{Kind: tenant.ServiceKind(kind), ID: uint(n)}, nil
}

// locationRef reads a location choice, "address" or "address/location".
func locationRef(s string) (addr uint, loc *uint, err error) {
	a, l, hasLoc := strings.Cut(s, "/")
	aid, err := strconv.ParseUint(a, 10, 32)
	if err != nil || aid == 0 {
		return 0, nil, fault.FieldInvalid("location", "choose the emergency address the number's calls are sent to")
	}
	if hasLoc {
		lid, err := strconv.ParseUint(l, 10, 32)
		if err != nil || lid == 0 {
			return 0, nil, fault.FieldInvalid("location", "choose a location from the list")
		}
		id := uint(lid)
		loc = &id
	}
	return uint(aid), loc, nil
}

func (vc *consoleVoice) assignService(c *gin.Context) {
	number := c.Param("number")
	back := numberPath(number)
	ref, err := serviceRef(c.PostForm("service"))
	if err == nil {
		_, err = vc.tn.AssignNumber(c.Request.Context(), number, tenant.AssignInput{Service: &ref})
	}
	if err != nil {
		vc.flash(c, back+"#assign-service", consoleFlash{Err: vc.problemOf(err), Field: "service", Values: map[string]string{"service": c.PostForm("service")}})
		return
	}
	vc.flash(c, back, consoleFlash{Msg: "Assigned " + number + " to the service."})
}

func (vc *consoleVoice) move(c *gin.Context) {
	number := c.Param("number")
	back := numberPath(number)
	var in tenant.MoveInput
	field, value := "location", c.PostForm("location")
	var err error
	if c.PostForm("to") == "service" {
		s := c.PostForm("service")
		field, value = "service", s
		var ref tenant.ServiceRef
		if ref, err = serviceRef(s); err == nil {
			in.Service = &ref
		}
	} else {
		var addr uint
		if addr, in.LocationID, err = locationRef(value); err == nil {
			in.EmergencyAddressID = &addr
		}
	}
	if err == nil {
		_, err = vc.tn.MoveNumber(c.Request.Context(), web.AdminOf(c), number, in)
	}
	if err != nil {
		vc.flash(c, back+"#move", consoleFlash{Err: vc.problemOf(err), Field: field, Values: map[string]string{field: value}})
		return
	}
	vc.flash(c, back, consoleFlash{Msg: "Moved " + number + ": it kept its owner throughout."})
}

func (vc *consoleVoice) confirmCapacity(c *gin.Context) {
	number := c.Param("number")
	n, err := vc.tn.ConfirmCapacity(c.Request.Context(), number)
	if err != nil {
		vc.flash(c, numberPath(number)+"#capacity", consoleFlash{Err: vc.problemOf(err), Field: "capacity"})
		return
	}
	vc.flash(c, numberPath(n.Number), consoleFlash{Msg: n.Number + "'s higher call capacity is confirmed: it takes hundreds of calls at once now."})
}

type consoleServiceView struct {
	consoleForm
	S                 tenant.VoiceService
	KindName          string
	Bridge            bool
	Toll, TollFree    []consoleChoice
	DefToll, DefTollF string
}

func (vc *consoleVoice) servicePage(c *gin.Context) {
	ctx := c.Request.Context()
	f := vc.takeFlash(c)
	v := consoleServiceView{consoleForm: formOf(c, &f)}
	id, err := web.NumbersID(c)
	var s tenant.VoiceService
	if err == nil {
		s, err = vc.tn.VoiceServiceByID(ctx, id)
	}
	if err != nil {
		vc.render(c, web.StatusOf(fault.KindOf(err)), "voiceservice", consolePageData{Title: "Voice service", Error: vc.problemOf(err), Body: v})
		return
	}
	v.S, v.KindName, v.Bridge = s, serviceKindNames[s.Kind], s.Kind == tenant.ConferenceBridge
	v.DefToll, v.DefTollF = s.DefaultTollNumber, s.DefaultTollFreeNumber
	if v.Bridge {
		ns, err := vc.tn.Numbers(ctx, tenant.NumberFilter{Status: tenant.StatusAssigned})
		if err != nil {
			f.Err = vc.problemOf(err)
		}
		for _, n := range ns {
			if n.Service == nil || n.Service.ID != s.ID {
				continue
			}
			ch := consoleChoice{n.Number, n.Number + " " + n.City}
			if n.Type == tenant.ServiceTollNumber {
				v.Toll = append(v.Toll, ch)
			} else {
				v.TollFree = append(v.TollFree, ch)
			}
		}
	}
	defaults := v.Bridge && v.CanEdit && len(v.Toll)+len(v.TollFree) > 0
	topRefusal(&v.consoleForm, &f, map[string]bool{"defaultTollNumber": defaults, "defaultTollFreeNumber": defaults})
	vc.render(c, http.StatusOK, "voiceservice", consolePageData{Title: v.KindName + " " + s.Name, Flash: f.Msg, Error: f.Err, Body: v})
}

func (vc *consoleVoice) setDefaults(c *gin.Context) {
	id, err := web.NumbersID(c)
	if err != nil {
		vc.flash(c, servicesPage, consoleFlash{Err: vc.problemOf(err)})
		return
	}
	back := fmt.Sprintf("%s/%d", servicesPage, id)
	in := tenant.ServiceDefaults{DefaultTollNumber: c.PostForm("defaultTollNumber"), DefaultTollFreeNumber: c.PostForm("defaultTollFreeNumber")}
	s, err := vc.tn.SetServiceDefaults(c.Request.Context(), web.AdminOf(c), id, in)
	if err != nil {
		field := "defaultTollNumber"
		if fe, ok := fault.As(err); ok && fe.Field == "defaultTollFreeNumber" {
			field = fe.Field
		}
		vc.flash(c, back+"#defaults", consoleFlash{Err: vc.problemOf(err), Field: field,
			Values: map[string]string{"defaultTollNumber": in.DefaultTollNumber, "defaultTollFreeNumber": in.DefaultTollFreeNumber}})
		return
	}
	vc.flash(c, back, consoleFlash{Msg: fmt.Sprintf("The defaults of %s are set: meeting invitations show %s first.", s.Name, cmpOr(s.DefaultTollNumber, s.DefaultTollFreeNumber))})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// consoleAddressField is a box of the edit form with the value it had
// when shown (Was), which the POST compares against.
type consoleAddressField struct {
	consoleInput
	Was string
}

type consoleAddressView struct {
	consoleForm
	A      tenant.EmergencyAddress
	Label  string
	Fields []consoleAddressField
}

func (vc *consoleVoice) addressPage(c *gin.Context) {
	f := vc.takeFlash(c)
	v := consoleAddressView{consoleForm: formOf(c, &f)}
	id, err := web.NumbersID(c)
	var a tenant.EmergencyAddress
	if err == nil {
		a, err = vc.tn.Address(c.Request.Context(), id)
	}
	if err != nil {
		vc.render(c, web.StatusOf(fault.KindOf(err)), "address", consolePageData{Title: "Emergency address", Error: vc.problemOf(err), Body: v})
		return
	}
	v.A, v.Label = a, addressLabel(a)
	current := map[string]string{"description": a.Description, "houseNumber": a.HouseNumber, "street": a.Street, "city": a.City,
		"state": a.State, "postalCode": a.PostalCode, "country": a.Country}
	if v.Form == nil {
		v.Form = current
	}
	for _, af := range addressFields {
		v.Fields = append(v.Fields, consoleAddressField{v.Input(af.name, af.label, af.param, "text", af.help), current[af.name]})
	}
	vc.render(c, http.StatusOK, "address", consolePageData{Title: "Emergency address " + v.Label, Flash: f.Msg, Error: f.Err, Body: v})
}

// editAddress sends the fields that differ from the address as it was
// shown (hidden "was-" fields), so an edit changes what the admin changed
// and nothing that someone else changed meanwhile.
func (vc *consoleVoice) editAddress(c *gin.Context) {
	id, ok := vc.addressID(c)
	if !ok {
		return
	}
	back := fmt.Sprintf("%s/%d", AddressesPage, id)
	var p tenant.AddressPatch
	targets := map[string]**string{"description": &p.Description, "houseNumber": &p.HouseNumber, "street": &p.Street,
		"city": &p.City, "state": &p.State, "postalCode": &p.PostalCode, "country": &p.Country}
	values := map[string]string{}
	for _, af := range addressFields {
		now := c.PostForm(af.name)
		values[af.name] = now
		if now != c.PostForm("was-"+af.name) {
			*targets[af.name] = &now
		}
	}
	a, err := vc.tn.UpdateAddress(c.Request.Context(), web.AdminOf(c), id, p)
	if err != nil {
		fl := consoleFlash{Err: vc.problemOf(err), Values: values, Field: "edit"}
		if fe, ok := fault.As(err); ok && fieldKnown(fe.Field) {
			fl.Field = fe.Field
		}
		vc.flash(c, back+"#edit", fl)
		return
	}
	vc.flash(c, back, consoleFlash{Msg: fmt.Sprintf("Saved the address %s: %s.", addressLabel(a), a.ValidationStatus)})
}
