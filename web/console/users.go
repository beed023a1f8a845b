package console

import (
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/signin"
	"github.com/deskprov/deskprov/tenant"
	"github.com/deskprov/deskprov/web"
)

// Users is the users-and-licenses module: the console's /admin/users and
// /admin/licenses pages (the API's bulk assignment, which its bulk form
// shares, is api.BulkLicenses). It needs policy for grants and
// sign-in for the phones a user is signed in on (si may be nil: no phones
// shown).
func Users(ps *policy.Service, si *signin.Service) web.Module {
	return usersModule{ps: ps, si: si}
}

type usersModule struct {
	ps *policy.Service
	si *signin.Service
}

// maxBulkList caps a pasted or uploaded list of users: MaxBulk UPNs of the
// longest kind with a few CSV columns beside them.
const maxBulkList = 512 << 10

func (m usersModule) Mount(r *web.Routes) {
	cn, err := newConsole(r.Server)
	if err != nil {
		// As in mountConsole: embedded templates and a store just reached.
		panic("admin console: " + err.Error())
	}
	uc := &consoleUsers{console: cn, tn: r.Server.Tenant, ps: m.ps, si: m.si}

	g := r.Root.Group("/admin", cn.headers, cn.nonce, cn.checkCSRF, cn.requireAdmin)
	g.GET("/users", uc.list)
	g.POST("/users", uc.create)
	g.GET("/users/:upn", uc.show)
	g.POST("/users/:upn", uc.save)
	g.POST("/users/:upn/licenses", uc.license)
	g.POST("/users/:upn/policy", uc.grant)
	g.POST("/users/:upn/delete", uc.remove)
	g.POST("/users/:upn/signout", uc.signOut)
	g.GET("/licenses", uc.licenses)
	g.POST("/licenses/:sku", uc.setPurchased)
	// The bulk form takes a CSV file, so it is multipart: the session is
	// checked before the body is read, the body is capped, and only then
	// is the form (and its CSRF token) parsed.
	up := r.Root.Group("/admin", cn.headers, cn.nonce, cn.requireAdmin)
	up.POST("/licenses/assignments", capBody(maxBulkList+64<<10), cn.checkCSRF, uc.bulk)
	r.Server.OwnBodyLimit(http.MethodPost, "/admin/licenses/assignments")
}

type consoleUsers struct {
	*console
	tn *tenant.Service
	ps *policy.Service
	si *signin.Service
}

// skuNames are the licenses as the admin center names them.
var skuNames = map[tenant.SKU]string{
	tenant.PhoneSystem:              "Phone System",
	tenant.CallingPlanDomestic:      "Domestic Calling Plan",
	tenant.CallingPlanInternational: "International Calling Plan",
	tenant.AudioConferencing:        "Audio Conferencing",
	tenant.CommunicationsCredits:    "Communications Credits",
	tenant.EnterpriseE5:             "Enterprise E5",
}

type consoleSKU struct {
	SKU, Name string
}

func consoleSKUs(except []tenant.SKU) []consoleSKU {
	held := map[tenant.SKU]bool{}
	for _, k := range except {
		held[k] = true
	}
	var out []consoleSKU
	for _, k := range tenant.SKUs {
		if !held[k] {
			out = append(out, consoleSKU{SKU: string(k), Name: skuNames[k]})
		}
	}
	return out
}

// consoleUserRow is one user of the list.
type consoleUserRow struct {
	UPN, DisplayName, Licenses, Policy, Number, MFA string
	Phones                                          int
}

// UsersPageSize is the list's page: each row asks for its policy and
// phones, so it is kept short.
const UsersPageSize = 25

type consoleUsersView struct {
	consoleForm
	Search     string
	Rows       []consoleUserRow
	Total      int64
	From, To   int64
	Prev, Next string
}

func (uc *consoleUsers) list(c *gin.Context) {
	ctx := c.Request.Context()
	f := uc.takeFlash(c)
	v := consoleUsersView{consoleForm: formOf(c, &f), Search: strings.TrimSpace(c.Query("search"))}
	page, _ := strconv.Atoi(c.Query("page"))
	if page < 1 {
		page = 1
	}
	us, total, err := uc.tn.UserPage(ctx, tenant.UserQuery{Search: v.Search, Limit: UsersPageSize, Offset: (page - 1) * UsersPageSize})
	if err != nil {
		uc.render(c, web.StatusOf(fault.KindOf(err)), "users", consolePageData{Title: "Users", Error: uc.problemOf(err), Body: v})
		return
	}
	v.Total = total
	if len(us) > 0 {
		v.From, v.To = int64((page-1)*UsersPageSize+1), int64((page-1)*UsersPageSize+len(us))
	}
	link := func(p int) string {
		q := url.Values{"page": {strconv.Itoa(p)}}
		if v.Search != "" {
			q.Set("search", v.Search)
		}
		return "/admin/users?" + q.Encode()
	}
	if page > 1 {
		v.Prev = link(page - 1)
	}
	if v.To < total {
		v.Next = link(page + 1)
	}
	for _, u := range us {
		row := consoleUserRow{UPN: u.UPN, DisplayName: u.DisplayName, Licenses: skuList(u.Licenses), Policy: policy.GlobalIdentity + " (default)", Number: "—", MFA: mfaText(u)}
		if u.PhoneNumber != nil {
			row.Number = u.PhoneNumber.Number
		}
		if a, err := uc.ps.GrantOf(ctx, u.UPN); err == nil && a.PolicyName != nil {
			row.Policy = *a.PolicyName
		}
		if uc.si != nil {
			if ss, err := uc.si.Sessions(ctx, u.UPN); err == nil {
				row.Phones = len(ss)
			}
		}
		v.Rows = append(v.Rows, row)
	}
	uc.render(c, http.StatusOK, "users", consolePageData{Title: "Users", Flash: f.Msg, Error: f.Err, Body: v})
}

func skuList(ks []tenant.SKU) string {
	if len(ks) == 0 {
		return "none"
	}
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = skuNames[k]
	}
	return strings.Join(names, ", ")
}

func mfaText(u tenant.User) string {
	switch {
	case u.MFA && u.HasAuthenticator:
		return "required, authenticator enrolled"
	case u.MFA:
		return "required, not enrolled yet"
	}
	return "off"
}

// refusal leaves err beside field (or at the top when the fault names no
// field and field is "") and sends the browser back to to.
func (uc *consoleUsers) refusal(c *gin.Context, to, field string, err error, values map[string]string) {
	f := consoleFlash{Err: uc.problemOf(err), Values: values, Field: field}
	if fe, ok := fault.As(err); ok && fe.Field != "" && field == "" {
		f.Field = fe.Field
	}
	uc.flash(c, to, f)
}

func (uc *consoleUsers) create(c *gin.Context) {
	in := tenant.UserInput{UPN: c.PostForm("upn"), DisplayName: c.PostForm("displayName"), Password: c.PostForm("password"),
		SkypeLocation: c.PostForm("skypeLocation"), ExchangeLocation: c.PostForm("exchangeLocation"),
		MFA: c.PostForm("mfa") == "true", Extension: c.PostForm("extension"), PIN: c.PostForm("pin")}
	u, err := uc.tn.CreateUser(c.Request.Context(), in)
	if err != nil {
		field := ""
		if fe, ok := fault.As(err); ok && fe.Code == "upn_taken" {
			field = "upn"
		} else if ok && fe.Code == "extension_taken" {
			field = "extension"
		}
		uc.refusal(c, "/admin/users", field, err, map[string]string{"upn": in.UPN, "displayName": in.DisplayName,
			"skypeLocation": in.SkypeLocation, "exchangeLocation": in.ExchangeLocation, "extension": in.Extension, "mfa": strconv.FormatBool(in.MFA)})
		return
	}
	uc.flash(c, userPath(u.UPN), consoleFlash{Msg: "Added the user " + u.UPN + ". Assign their licenses below."})
}

func userPath(upn string) string { return "/admin/users/" + url.PathEscape(upn) }

// consolePhoneRow is a phone the user is signed in on.
type consolePhoneRow struct {
	MAC, Maker, Method, Since string
	Locked                    bool
}

type consoleUserView struct {
	consoleForm
	User      tenant.User
	Number    string
	MFA       string
	Held      []consoleSKU
	Available []consoleSKU
	Policies  []string
	Policy    string
	Phones    []consolePhoneRow
}

func (uc *consoleUsers) show(c *gin.Context) {
	ctx := c.Request.Context()
	f := uc.takeFlash(c)
	u, err := uc.tn.User(ctx, c.Param("upn"))
	if err != nil {
		if f.Msg != "" || f.Err != "" {
			// The user was just removed or renamed: say so on the list.
			uc.flash(c, "/admin/users", f)
			return
		}
		uc.render(c, web.StatusOf(fault.KindOf(err)), "forbidden", consolePageData{Title: "No such user", Error: uc.problemOf(err)})
		return
	}
	v := consoleUserView{consoleForm: formOf(c, &f), User: u, Number: "none", MFA: mfaText(u), Available: consoleSKUs(u.Licenses), Policy: policy.GlobalIdentity}
	if _, typed := v.Form["displayName"]; !typed {
		// Nothing typed to show again: the edit form starts from the user.
		v.Form = map[string]string{"displayName": u.DisplayName, "skypeLocation": string(u.SkypeLocation), "exchangeLocation": string(u.ExchangeLocation),
			"extension": deref(u.Extension), "mfa": strconv.FormatBool(u.MFA), "sku": v.Form["sku"], "PolicyName": v.Form["PolicyName"]}
	}
	for _, k := range u.Licenses {
		v.Held = append(v.Held, consoleSKU{SKU: string(k), Name: skuNames[k]})
	}
	if u.PhoneNumber != nil {
		v.Number = u.PhoneNumber.Number
	}
	if a, err := uc.ps.GrantOf(ctx, u.UPN); err == nil && a.PolicyName != nil {
		v.Policy = *a.PolicyName
	}
	if ps, err := uc.ps.List(ctx); err == nil {
		for _, p := range ps {
			v.Policies = append(v.Policies, p.Identity)
		}
	}
	if uc.si != nil {
		ss, err := uc.si.Sessions(ctx, u.UPN)
		if err != nil {
			f.Err = uc.problemOf(err)
		}
		for _, x := range ss {
			v.Phones = append(v.Phones, consolePhoneRow{MAC: web.MACLabel(x.MAC), Maker: signin.Clients[x.ClientID], Method: string(x.Method), Since: web.SessionTime(x.CreatedAt), Locked: x.Locked})
		}
	}
	uc.render(c, http.StatusOK, "user", consolePageData{Title: u.UPN, Flash: f.Msg, Error: f.Err, Body: v})
}

func (uc *consoleUsers) save(c *gin.Context) {
	upn := c.Param("upn")
	str := func(name string) *string { v := c.PostForm(name); return &v }
	mfa := c.PostForm("mfa") == "true"
	p := tenant.UserPatch{DisplayName: str("displayName"), SkypeLocation: str("skypeLocation"), ExchangeLocation: str("exchangeLocation"),
		MFA: &mfa, Extension: str("extension"), RemovePassword: c.PostForm("removePassword") == "true", RemovePIN: c.PostForm("removePin") == "true"}
	if v := c.PostForm("password"); v != "" {
		p.Password = &v
	}
	if v := c.PostForm("pin"); v != "" {
		p.PIN = &v
	}
	u, err := uc.tn.UpdateUser(c.Request.Context(), upn, p)
	if err != nil {
		field := ""
		if fe, ok := fault.As(err); ok && fe.Code == "extension_taken" {
			field = "extension"
		}
		uc.refusal(c, userPath(upn), field, err, map[string]string{"displayName": *p.DisplayName, "skypeLocation": *p.SkypeLocation,
			"exchangeLocation": *p.ExchangeLocation, "extension": *p.Extension, "mfa": strconv.FormatBool(mfa)})
		return
	}
	uc.flash(c, userPath(u.UPN), consoleFlash{Msg: "Saved the changes to " + u.UPN + "."})
}

// license assigns or unassigns one license; a refusal is shown beside the
// control that asked (the assign box, or the held license's row).
func (uc *consoleUsers) license(c *gin.Context) {
	upn, sku := c.Param("upn"), c.PostForm("sku")
	var err error
	var done, field string
	if c.PostForm("action") == "unassign" {
		err, done, field = uc.tn.Unassign(c.Request.Context(), upn, sku), "Took the %s license away from %s.", "unassign-"+sku
	} else {
		err, done, field = uc.tn.Assign(c.Request.Context(), upn, sku), "Assigned a %s license to %s.", "sku"
	}
	if err != nil {
		uc.flash(c, userPath(upn), consoleFlash{Err: uc.problemOf(err), Field: field, Values: map[string]string{"sku": sku}})
		return
	}
	k, _ := tenant.ParseSKU(sku)
	uc.flash(c, userPath(upn), consoleFlash{Msg: fmt.Sprintf(done, skuNames[k], upn)})
}

func (uc *consoleUsers) grant(c *gin.Context) {
	upn, name := c.Param("upn"), c.PostForm("PolicyName")
	var target *string
	if name != "" && name != policy.GlobalIdentity {
		target = &name
	}
	a, err := uc.ps.Grant(c.Request.Context(), web.AdminOf(c), upn, target)
	if err != nil {
		uc.flash(c, userPath(upn), consoleFlash{Err: uc.problemOf(err), Field: "PolicyName", Values: map[string]string{"PolicyName": name}})
		return
	}
	held := policy.GlobalIdentity
	if a.PolicyName != nil {
		held = *a.PolicyName
	}
	uc.flash(c, userPath(a.UPN), consoleFlash{Msg: a.UPN + " now has the IP phone policy " + held + "."})
}

// signOut signs the user out of every phone (the help desk's call, as
// POST /api/v1/users/{upn}/signout).
func (uc *consoleUsers) signOut(c *gin.Context) {
	upn := c.Param("upn")
	if uc.si == nil {
		uc.flash(c, userPath(upn), consoleFlash{Err: "phone sign-in is not served here"})
		return
	}
	n, err := uc.si.SignOutUser(c.Request.Context(), upn)
	if err != nil {
		uc.flash(c, userPath(upn), consoleFlash{Err: uc.problemOf(err), Field: "signout"})
		return
	}
	uc.s.Log.Info("admin signed a user out of every phone", "admin", web.AdminOf(c), "upn", upn, "phones", n)
	uc.flash(c, userPath(upn), consoleFlash{Msg: fmt.Sprintf("Signed %s out of %d phones.", upn, n)})
}

func (uc *consoleUsers) remove(c *gin.Context) {
	upn := c.Param("upn")
	if c.PostForm("confirm") != "true" {
		uc.flash(c, userPath(upn), consoleFlash{Err: "Tick the box to confirm the removal: the user's licenses are freed and their phones signed out.", Field: "confirm"})
		return
	}
	if err := uc.tn.DeleteUser(c.Request.Context(), upn); err != nil {
		uc.flash(c, userPath(upn), consoleFlash{Err: uc.problemOf(err), Field: "confirm"})
		return
	}
	uc.flash(c, "/admin/users", consoleFlash{Msg: "Removed the user " + upn + "; their licenses are free."})
}

// consoleLicenseRow is one SKU of the licenses page.
type consoleLicenseRow struct {
	SKU, Name                      string
	Purchased, Assigned, Available int
	Error                          string
}

type consoleLicensesView struct {
	consoleForm
	Rows     []consoleLicenseRow
	SKUs     []consoleSKU
	Policies []string
	Bulk     *tenant.BulkResult
	Omitted  int
	MaxBulk  int
}

func (uc *consoleUsers) licenses(c *gin.Context) {
	ctx := c.Request.Context()
	f := uc.takeFlash(c)
	v := consoleLicensesView{consoleForm: formOf(c, &f), SKUs: consoleSKUs(nil), Bulk: f.Bulk, Omitted: f.Omitted, MaxBulk: tenant.MaxBulk}
	ls, err := uc.tn.Licenses(ctx)
	if err != nil {
		f.Err = uc.problemOf(err)
	}
	for _, l := range ls {
		row := consoleLicenseRow{SKU: string(l.SKU), Name: skuNames[l.SKU], Purchased: l.Purchased, Assigned: l.Assigned, Available: l.Purchased - l.Assigned}
		if v.Field == "purchased-"+row.SKU {
			row.Error = v.Error
		}
		v.Rows = append(v.Rows, row)
	}
	if ps, err := uc.ps.List(ctx); err == nil {
		for _, p := range ps {
			v.Policies = append(v.Policies, p.Identity)
		}
	}
	uc.render(c, http.StatusOK, "licenses", consolePageData{Title: "Licenses", Flash: f.Msg, Error: f.Err, Body: v})
}

func (uc *consoleUsers) setPurchased(c *gin.Context) {
	sku := c.Param("sku")
	var lc tenant.LicenseCount
	n, err := strconv.Atoi(strings.TrimSpace(c.PostForm("purchased")))
	if err != nil {
		err = fault.FieldInvalid("purchased", "type the number of licenses bought, a whole number such as 50")
	} else {
		lc, err = uc.tn.SetPurchased(c.Request.Context(), sku, n)
	}
	if err != nil {
		uc.flash(c, "/admin/licenses", consoleFlash{Err: uc.problemOf(err), Field: "purchased-" + sku})
		return
	}
	uc.flash(c, "/admin/licenses", consoleFlash{Msg: fmt.Sprintf("The organisation now holds %d %s licenses.", lc.Purchased, skuNames[lc.SKU])})
}

// bulk assigns a license (and optionally a policy) to the users pasted in
// the box and those of the uploaded CSV file.
func (uc *consoleUsers) bulk(c *gin.Context) {
	sku, name := c.PostForm("sku"), c.PostForm("PolicyName")
	values := map[string]string{"sku": sku, "PolicyName": name}
	fail := func(field string, err error) {
		uc.flash(c, "/admin/licenses", consoleFlash{Err: uc.problemOf(err), Field: field, Values: values})
	}
	upns, err := tenant.ParseUPNList(strings.NewReader(c.PostForm("upns")), maxBulkList)
	if err != nil {
		fail("upns", err)
		return
	}
	if fh, err := c.FormFile("csv"); err == nil && fh.Size > 0 {
		more, err := readUPNFile(fh)
		if err != nil {
			fail("csv", err)
			return
		}
		upns = append(upns, more...)
	}
	var target *string
	if name != "" {
		target = &name
	}
	res, err := uc.ps.AssignMany(c.Request.Context(), uc.tn, web.AdminOf(c), sku, upns, target)
	if err != nil {
		field := "upns"
		if fe, ok := fault.As(err); ok && fe.Field == "PolicyName" || fault.Is(err, fault.NotFound) {
			field = "PolicyName"
		} else if _, perr := tenant.ParseSKU(sku); perr != nil {
			field = "sku"
		}
		fail(field, err)
		return
	}
	msg := fmt.Sprintf("%s: %d assigned, %d unchanged, %d refused.", skuNames[res.SKU], res.Assigned, res.Unchanged, res.Refused)
	uc.flash(c, "/admin/licenses#bulk-result", consoleFlash{Msg: msg, Bulk: &res, Values: values})
}

func readUPNFile(fh *multipart.FileHeader) ([]string, error) {
	f, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return tenant.ParseUPNList(io.Reader(f), maxBulkList)
}

// consoleForm is what a page's forms show again after a refusal: the
// values typed, and the refusal beside the control it is about.
type consoleForm struct {
	Field, Error string
	Form         map[string]string
	// CanEdit hides the forms from helpdesk and reader admins, who may
	// only read these pages; CanSignOut shows the help desk's sign-out.
	CanEdit, CanSignOut bool
}

// formOf takes the field refusal out of f (so the page does not show it at
// the top too).
func formOf(c *gin.Context, f *consoleFlash) consoleForm {
	v := consoleForm{Field: f.Field, Form: f.Values, CanEdit: web.RoleOf(c).Allows(tenant.RoleAdmin), CanSignOut: web.RoleOf(c).Allows(tenant.RoleHelpdesk)}
	if f.Field != "" {
		v.Error, f.Err = f.Err, ""
	}
	return v
}

// ErrFor is the refusal to show beside field, if it is about field.
func (v consoleForm) ErrFor(field string) string {
	if v.Field == field {
		return v.Error
	}
	return ""
}

// consoleInput is one text box of a user form.
type consoleInput struct {
	Name, Label, Param, Type, Help, Value, Error string
}

// Input describes the box name (its label, its cmdlet parameter), filled
// with what was typed (never a password or PIN).
func (v consoleForm) Input(name, label, param, typ, help string) consoleInput {
	in := consoleInput{Name: name, Label: label, Param: param, Type: typ, Help: help, Error: v.ErrFor(name)}
	if typ != "password" {
		in.Value = v.Form[name]
	}
	return in
}

// Locations are the two location boxes of a user form.
func (v consoleForm) Locations() []consoleInput {
	return []consoleInput{
		{Name: "skypeLocation", Label: "Skype for Business account", Value: v.Form["skypeLocation"], Error: v.ErrFor("skypeLocation")},
		{Name: "exchangeLocation", Label: "Exchange mailbox", Value: v.Form["exchangeLocation"], Error: v.ErrFor("exchangeLocation")},
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
