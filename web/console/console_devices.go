package console

import (
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/phoneid"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// Devices is the console's Devices pages (/admin/devices: the
// inventory searched, filtered and paged in the store, and one phone's page)
// and its Sign-in page (/admin/signin: phone sessions, sign-out, PIN reset,
// unlock codes, key rotation). Every change goes through the domain call
// the REST API makes, so the role table, the audit log and the refusals are
// the same; Phones and Firmware may be nil (no enrolment, no firmware).
type Devices struct {
	Prov     *provisioning.Service
	SignIn   *signin.Service
	Phones   *phoneid.Service
	Firmware *firmware.Service
}

// Mount adds the pages under /admin behind a console session.
func (m Devices) Mount(r *web.Routes) {
	cn, err := newConsole(r.Server)
	if err == nil {
		err = addConsolePagesOf(cn, "devices", "device", "signin")
	}
	if err != nil {
		// As in mountConsole: the templates are embedded and the store was
		// just reached, so this is a broken build or store.
		panic("admin console: " + err.Error())
	}
	dc := &consoleDevices{console: cn, m: m}
	g := r.Root.Group("/admin", cn.headers, cn.nonce, cn.checkCSRF, cn.requireAdmin)
	g.GET("/devices", dc.list)
	g.GET("/devices/:mac", dc.show)
	g.GET("/devices/:mac/uploads/:name", dc.upload)
	g.POST("/devices/:mac/enrolment", dc.enrolment)
	g.GET("/signin", dc.sessions)
	g.POST("/signin/phones/:mac/:action", dc.phoneAction)
	g.POST("/signin/rotate", dc.rotate)
}

// addConsolePagesOf parses the named pages into cn beside the layout, as
// newConsole does for its own.
func addConsolePagesOf(cn *console, names ...string) error {
	funcs := template.FuncMap{"pathEscape": url.PathEscape, "sessionTime": web.SessionTime}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(consoleFiles, "templates/console/layout.html")
	if err != nil {
		return err
	}
	for _, name := range names {
		t, err := template.Must(layout.Clone()).ParseFS(consoleFiles, "templates/console/"+name+".html")
		if err != nil {
			return err
		}
		cn.pages[name] = t
	}
	return nil
}

type consoleDevices struct {
	*console
	m Devices
}

// consoleDevicePage is how many phones one page of the list shows.
const consoleDevicePage = 50

// consoleSeenSince are the "seen since" choices, as durations back from now.
var consoleSeenSince = []struct{ Value, Label string }{
	{"1h", "the last hour"}, {"24h", "the last day"}, {"168h", "the last week"}, {"720h", "the last 30 days"},
}

type consoleDeviceRow struct {
	MAC, Vendor, Model, Firmware, User, IP, LastSeen string
}

type consoleDevicesView struct {
	Query, Vendor, Model, Firmware, Enrolment, Seen string
	Vendors                                         []string
	States                                          []string
	SeenChoices                                     []struct{ Value, Label string }
	Rows                                            []consoleDeviceRow
	// Next is the link to the next page, "" on the last (a template.URL:
	// url.Values encoded it, and html/template would encode it again as one
	// query value); Paged is true on any page after the first.
	Next  template.URL
	Paged bool
}

func (dc *consoleDevices) list(c *gin.Context) {
	q := c.Request.URL.Query()
	v := consoleDevicesView{Query: q.Get("q"), Vendor: q.Get("vendor"), Model: q.Get("model"), Firmware: q.Get("firmware"),
		Enrolment: q.Get("enrolment"), Seen: q.Get("seen"), Vendors: []string{"polycom", "yealink", "audiocodes", "lpe"},
		SeenChoices: consoleSeenSince, Paged: q.Get("after") != ""}
	if dc.m.Phones != nil {
		for _, st := range phoneid.States {
			v.States = append(v.States, string(st))
		}
		v.States = append(v.States, provisioning.EnrolmentNone)
	}
	f := provisioning.DeviceFilter{Search: v.Query, Vendor: v.Vendor, Model: v.Model, Firmware: v.Firmware, Enrolment: v.Enrolment,
		Limit: consoleDevicePage}
	problem := ""
	if v.Seen != "" {
		if d, err := time.ParseDuration(v.Seen); err == nil && d > 0 {
			f.SeenSince = dc.s.Now().Add(-d)
		} else {
			problem = "“Seen since” takes one of its choices"
		}
	}
	if a := q.Get("after"); a != "" {
		at, mac, _ := strings.Cut(a, ",")
		t, err := time.Parse(time.RFC3339Nano, at)
		m, merr := provisioning.ParseMAC(mac)
		if err != nil || merr != nil {
			problem = "the page link is not one this console made: start again from the first page"
		}
		f.After = provisioning.DeviceRecord{LastSeen: t, MAC: m}
	}
	if problem != "" {
		dc.render(c, http.StatusBadRequest, "devices", consolePageData{Title: "Devices", Error: problem, Body: v})
		return
	}
	ds, err := dc.m.Prov.Devices(c.Request.Context(), f)
	if err != nil {
		dc.render(c, web.StatusOf(fault.KindOf(err)), "devices", consolePageData{Title: "Devices", Error: dc.problemOf(err), Body: v})
		return
	}
	for _, d := range ds {
		v.Rows = append(v.Rows, consoleDeviceRow{MAC: d.MAC, Vendor: d.Vendor, Model: d.Model, Firmware: d.Firmware, User: d.User, IP: d.IP,
			LastSeen: web.SessionTime(d.LastSeen)})
	}
	if len(ds) == consoleDevicePage {
		last := ds[len(ds)-1]
		q.Set("after", last.LastSeen.UTC().Format(time.RFC3339Nano)+","+last.MAC)
		v.Next = template.URL("/admin/devices?" + q.Encode())
	}
	dc.render(c, http.StatusOK, "devices", consolePageData{Title: "Devices", Body: v})
}

// consoleDeviceView is one phone's page.
type consoleDeviceView struct {
	MAC    string
	Device provisioning.DeviceRecord
	// LastSeen and FirstSeen are written out for a person.
	FirstSeen, LastSeen, ConfigAt string

	Session  *consoleSessionRow
	CanHelp  bool // the admin's role may sign out, reset PINs, issue codes
	CanAdmin bool // the admin's role may change enrolment

	HasEnrolment bool
	Enrolment    *consoleEnrolmentRow

	Files       []string
	File        string // the file previewed
	Site        string
	Preview     string
	PreviewNote string

	Uploads []consoleUploadRow

	HasFirmware bool
	Firmware    *firmware.DeviceHistory
	FirmwareAt  []string // the changes' times, written out
}

type consoleUploadRow struct {
	Name, Size, Modified string
}

// consoleDeviceDone is the confirmation shown after a change redirects back.
var consoleDeviceDone = map[string]string{
	"signout": "The phone is signed out: it shows its sign-in screen at its next request.",
	"approve": "The phone is approved: its next request for its configuration issues its credentials.",
	"revoke":  "The phone is revoked: it gets no files of its own until it is approved or re-enrolled.",
	"reenrol": "The phone's enrolment is forgotten: its next request is a first contact, which issues new credentials.",
}

func (dc *consoleDevices) show(c *gin.Context) {
	mac, err := provisioning.ParseMAC(c.Param("mac"))
	if err != nil {
		dc.render(c, http.StatusBadRequest, "device", consolePageData{Title: "Device", Error: dc.problemOf(err), Body: consoleDeviceView{}})
		return
	}
	flash := dc.takeFlash(c).Msg
	if flash == "" {
		flash = consoleDeviceDone[c.Query("done")]
	}
	dc.showDevice(c, mac, http.StatusOK, flash, "")
}

// showDevice renders phone mac's page; problem, when set, is the page's
// error with status.
func (dc *consoleDevices) showDevice(c *gin.Context, mac string, status int, flash, problem string) {
	ctx := c.Request.Context()
	role := web.RoleOf(c)
	v := consoleDeviceView{MAC: mac, CanHelp: role.Allows(tenant.RoleHelpdesk), CanAdmin: role.Allows(tenant.RoleAdmin),
		HasEnrolment: dc.m.Phones != nil, HasFirmware: dc.m.Firmware != nil}
	title := "Phone " + mac
	fail := func(err error) {
		if problem == "" {
			problem, status = dc.problemOf(err), web.StatusOf(fault.KindOf(err))
		}
	}
	rec, err := dc.m.Prov.Device(ctx, mac)
	if err != nil {
		fail(err)
		dc.render(c, status, "device", consolePageData{Title: title, Flash: flash, Error: problem, Body: v})
		return
	}
	v.Device = rec
	v.FirstSeen, v.LastSeen = web.SessionTime(rec.FirstSeen), web.SessionTime(rec.LastSeen)
	if !rec.ConfigAt.IsZero() {
		v.ConfigAt = web.SessionTime(rec.ConfigAt)
	}
	if sess, ok, err := dc.m.SignIn.PhoneSession(ctx, mac); err != nil {
		fail(err)
	} else if ok {
		row := consoleSessionRowOf(sess)
		v.Session = &row
	}
	if dc.m.Phones != nil {
		switch p, err := dc.m.Phones.Get(ctx, mac); {
		case err == nil:
			row := consoleEnrolmentRowOf(p)
			v.Enrolment = &row
		case fault.KindOf(err) != fault.NotFound:
			fail(err)
		}
	}
	dc.preview(c, rec, &v, fail)
	if up := dc.m.Prov.Uploads; up != nil {
		if list, err := up.List(c.Request.Context(), mac); err != nil {
			fail(err)
		} else {
			for _, u := range list {
				v.Uploads = append(v.Uploads, consoleUploadRow{Name: u.Name, Size: byteSize(u.Size), Modified: web.SessionTime(u.ModifiedAt)})
			}
		}
	}
	if dc.m.Firmware != nil {
		switch h, err := dc.m.Firmware.History(ctx, mac); {
		case err == nil:
			v.Firmware = &h
			for _, ch := range h.Changes {
				v.FirmwareAt = append(v.FirmwareAt, web.SessionTime(ch.At))
			}
		case fault.KindOf(err) != fault.NotFound:
			fail(err)
		}
	}
	dc.render(c, status, "device", consolePageData{Title: title, Flash: flash, Error: problem, Body: v})
}

// preview lists the phone's rendered files and renders the one the query
// names, as the API's preview does: through provisioning's own code, for
// the site of the phone's address, the phones' admin password masked.
func (dc *consoleDevices) preview(c *gin.Context, rec provisioning.DeviceRecord, v *consoleDeviceView, fail func(error)) {
	dev := rec.DeviceOf()
	fam := dc.m.Prov.Family(dev.Vendor)
	if fam == nil {
		v.PreviewNote = "deskprov renders no files for this phone's vendor."
		return
	}
	v.Files = fam.Files(dev)
	name := c.Query("file")
	if name == "" {
		return
	}
	v.File = name
	if dc.m.Prov.Sites != nil && rec.IP != "" {
		site, ok, err := dc.m.Prov.Sites.SiteFor(c.Request.Context(), rec.IP)
		if err != nil {
			fail(err)
			return
		}
		if ok {
			v.Site = site.Name
		}
	}
	f, err := dc.m.Prov.PreviewAt(c.Request.Context(), dev, name, v.Site)
	if err != nil {
		fail(err)
		return
	}
	v.Preview = string(f.Body)
}

// byteSize writes n for a person.
func byteSize(n int64) string {
	const k = 1024
	switch {
	case n < k:
		return formatInt(n) + " bytes"
	case n < k*k:
		return formatInt((n+k/2)/k) + " KiB"
	}
	return formatInt((n+k*k/2)/(k*k)) + " MiB"
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

// upload hands the admin a file the phone uploaded, as the API does.
func (dc *consoleDevices) upload(c *gin.Context) {
	mac, err := provisioning.ParseMAC(c.Param("mac"))
	if err != nil {
		dc.render(c, http.StatusBadRequest, "device", consolePageData{Title: "Device", Error: dc.problemOf(err), Body: consoleDeviceView{}})
		return
	}
	up := dc.m.Prov.Uploads
	if up == nil {
		dc.showDevice(c, mac, http.StatusNotFound, "", "this server keeps no uploads")
		return
	}
	f, info, err := up.Open(c.Request.Context(), mac, c.Param("name"))
	if err != nil {
		dc.showDevice(c, mac, web.StatusOf(fault.KindOf(err)), "", dc.problemOf(err))
		return
	}
	defer f.Close()
	c.Header("Content-Type", "application/octet-stream")
	c.Header("Content-Disposition", `attachment; filename="`+info.Name+`"`)
	http.ServeContent(c.Writer, c.Request, info.Name, info.ModifiedAt, f)
}

// enrolment approves, revokes or re-enrols the phone through the call the
// API's POST /api/v1/enrolments/:mac/:action makes.
func (dc *consoleDevices) enrolment(c *gin.Context) {
	mac, err := provisioning.ParseMAC(c.Param("mac"))
	if err != nil {
		dc.render(c, http.StatusBadRequest, "device", consolePageData{Title: "Device", Error: dc.problemOf(err), Body: consoleDeviceView{}})
		return
	}
	if dc.m.Phones == nil {
		dc.showDevice(c, mac, http.StatusNotFound, "", "this server does not enrol phones")
		return
	}
	action := c.PostForm("action")
	if _, err := web.EnrolmentAct(c, dc.s, dc.m.Phones, mac, action); err != nil {
		dc.showDevice(c, mac, web.StatusOf(fault.KindOf(err)), "", dc.problemOf(err))
		return
	}
	c.Redirect(http.StatusSeeOther, "/admin/devices/"+mac+"?done="+url.QueryEscape(action))
}
