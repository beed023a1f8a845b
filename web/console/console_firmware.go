package console

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/web"
)

// mountFirmwareConsole mounts the console's firmware pages: the catalog
// with its import form (/admin/firmware), the update rules and test devices
// (/admin/firmware/rules), the staged rollouts and update loops
// (/admin/firmware/rollouts). Every form calls the same firmware.Service
// method as the REST API (the import goes through Firmware.receive, the
// API's own upload path) and answers with a redirect to a page (PRG), or
// the page again with the problem beside the field.
func mountFirmwareConsole(r *web.Routes, fw *firmware.Service) {
	cn, err := newConsole(r.Server)
	if err != nil {
		panic("admin console: " + err.Error()) // as in mountConsole
	}
	fc := &consoleFirmware{console: cn, fw: fw}
	g := r.Root.Group("/admin", cn.headers, cn.nonce, cn.checkCSRF, cn.requireAdmin)
	g.GET("/firmware", fc.catalog)
	g.POST("/firmware/remove", fc.remove)
	g.GET("/firmware/rules", fc.rules)
	g.POST("/firmware/rules/action", fc.ruleAction)
	g.POST("/firmware/rules/autoapprove", fc.autoApprove)
	g.POST("/firmware/testdevices", fc.addTestDevice)
	g.POST("/firmware/testdevices/remove", fc.removeTestDevice)
	g.GET("/firmware/rollouts", fc.rollouts)
	g.POST("/firmware/rollouts/action", fc.rolloutAction)
	g.POST("/firmware/loops/clear", fc.clearLoop)
	// The import streams the image as the API does: the session and role
	// are checked before the body is read, and the CSRF token (the form's
	// first field) before the image is.
	up := r.Root.Group("/admin", cn.headers, cn.nonce, cn.requireAdmin)
	up.POST("/firmware", fc.upload)
	r.Server.OwnBodyLimit(http.MethodPost, "/admin/firmware")
}

type consoleFirmware struct {
	*console
	fw *firmware.Service
}

// errConsoleCSRF is a form refused for its CSRF token (a 403, not a page).
type errConsoleCSRF struct{ msg string }

func (e errConsoleCSRF) Error() string { return e.msg }

// consoleFieldError is a problem shown beside one field of one form.
type consoleFieldError struct {
	Form  string // which form: "import", "approve-<rule id>", "testdevice"
	Field string
	Msg   string
}

// At returns the message for field of form, or "".
func (e consoleFieldError) At(form, field string) string {
	if e.Form == form && e.Field == field {
		return e.Msg
	}
	return ""
}

// fieldErrorOf places err beside its field in form when it names one; ok
// says it did (else the page shows it as its problem).
func fieldErrorOf(form string, err error) (consoleFieldError, bool) {
	if fe, ok := fault.As(err); ok && fe.Field != "" && fe.Kind != fault.Internal {
		return consoleFieldError{Form: form, Field: fe.Field, Msg: fe.Message}, true
	}
	return consoleFieldError{}, false
}

// done sends the browser to page with what was done, for its flash.
func (fc *consoleFirmware) done(c *gin.Context, page, what, name string) {
	c.Redirect(http.StatusSeeOther, page+"?"+url.Values{"done": {what}, "what": {name}}.Encode())
}

func (fc *consoleFirmware) flash(c *gin.Context, msgs map[string]string) string {
	if msg, ok := msgs[c.Query("done")]; ok {
		return fmt.Sprintf(msg, web.ClipText(c.Query("what"), 80))
	}
	return ""
}

// formID reads a positive id from the form's field.
func formID(c *gin.Context, field, what string) (uint, error) {
	n, err := strconv.ParseUint(c.PostForm(field), 10, 32)
	if err != nil || n == 0 {
		return 0, fault.NotFoundf("no %s %q", what, web.ClipText(c.PostForm(field), 40))
	}
	return uint(n), nil
}

// The catalog.

type consoleImageRow struct {
	ID, Short, Vendor, Models, Version, Edition, FileName, Size, Imported, By string
}

type consoleImportForm struct {
	Vendor, Models, Version, Revision, Locale string
	Certified                                 bool
}

type consoleCatalogView struct {
	Images  []consoleImageRow
	Vendors []string
	MaxSize string
	Form    consoleImportForm
	Err     consoleFieldError
}

var consoleCatalogDone = map[string]string{
	"imported": "The image %s is in the catalog: its rule on the Update rules page has it as the pending version.",
	"known":    "The image %s was already in the catalog: nothing changed.",
	"removed":  "The image %s is removed from the catalog.",
}

func (fc *consoleFirmware) catalog(c *gin.Context) {
	fc.showCatalog(c, http.StatusOK, fc.flash(c, consoleCatalogDone), "", consoleFieldError{}, consoleImportForm{})
}

func (fc *consoleFirmware) showCatalog(c *gin.Context, status int, flash, problem string, fe consoleFieldError, form consoleImportForm) {
	v := consoleCatalogView{Vendors: []string{firmware.Polycom, firmware.Yealink, firmware.AudioCodes, firmware.LPE},
		MaxSize: humanSize(fc.fw.MaxUpload), Form: form, Err: fe}
	imgs, err := fc.fw.Images(c.Request.Context(), "")
	if err != nil && problem == "" {
		problem, status = fc.problemOf(err), web.StatusOf(fault.KindOf(err))
	}
	for _, i := range imgs {
		v.Images = append(v.Images, consoleImageRow{ID: i.ID, Short: i.ID[:min(12, len(i.ID))], Vendor: i.Vendor, Models: strings.Join(i.ModelList(), ", "),
			Version: i.Version, Edition: editionName(i.Edition), FileName: i.FileName, Size: humanSize(i.Size), Imported: ConsoleTime(&i.CreatedAt), By: i.CreatedBy})
	}
	fc.render(c, status, "firmware", consolePageData{Title: "Firmware catalog", Flash: flash, Error: problem, Body: v})
}

func editionName(e string) string {
	switch e {
	case "skype":
		return "Skype for Business"
	case "sip":
		return "open SIP"
	}
	return "—"
}

func (fc *consoleFirmware) upload(c *gin.Context) {
	if msg := fc.foreignOrigin(c); msg != "" {
		fc.refuse(c, msg)
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, fc.fw.MaxUpload+1<<20)
	img, created, meta, err := web.ReceiveFirmware(c, fc.fw, func(token string) error {
		if msg := fc.badCSRF(c, token); msg != "" {
			return errConsoleCSRF{msg}
		}
		return nil
	})
	if err != nil {
		var ce errConsoleCSRF
		if errors.As(err, &ce) {
			fc.refuse(c, ce.msg)
			return
		}
		// A browser shows the answer only once it has sent its whole
		// request: read what is left of the image (capped above) first.
		_, _ = io.Copy(io.Discard, c.Request.Body)
		form := consoleImportForm{Vendor: meta.Vendor, Models: strings.Join(meta.Models, ", "), Version: meta.Version,
			Revision: meta.Revision, Locale: meta.Locale, Certified: meta.Certified}
		status := web.StatusOf(fault.KindOf(err))
		if fe, ok := fieldErrorOf("import", err); ok {
			fc.showCatalog(c, status, "", "The image was not imported: see the field marked below.", fe, form)
			return
		}
		fc.showCatalog(c, status, "", fc.problemOf(err), consoleFieldError{}, form)
		return
	}
	what := "known"
	if created {
		what = "imported"
	}
	fc.done(c, "/admin/firmware", what, img.FileName+" ("+img.Vendor+" "+img.Version+")")
}

func (fc *consoleFirmware) remove(c *gin.Context) {
	img, err := fc.fw.Remove(c.Request.Context(), c.PostForm("id"), web.AdminOf(c))
	if err != nil {
		fc.showCatalog(c, web.StatusOf(fault.KindOf(err)), "", fc.problemOf(err), consoleFieldError{}, consoleImportForm{})
		return
	}
	fc.done(c, "/admin/firmware", "removed", img.FileName+" ("+img.Vendor+" "+img.Version+")")
}

// Rules and test devices.

type consoleVersionCell struct {
	Version, FileName, Short string
}

func versionCell(v *firmware.VersionRef) *consoleVersionCell {
	if v == nil {
		return nil
	}
	return &consoleVersionCell{Version: v.Version, FileName: v.FileName, Short: v.SHA256[:min(12, len(v.SHA256))]}
}

type consoleRuleRow struct {
	ID                          uint
	Vendor, Model, Edition, Rev string
	AutoApprove                 bool
	Pending, Approved, Restore  *consoleVersionCell
	Rollout                     uint
	Updated                     string
	// The approve form: its waves and rollout settings, as a failed
	// approval of this rule sent them, else the defaults.
	Waves      string
	PlanFields []consolePlanField
	PlanOpen   bool
}

type consolePlanField struct{ Name, Label, Help, Value string }

// planFields are the approve form's rollout settings with f's values.
func planFields(f consolePlanForm) []consolePlanField {
	return []consolePlanField{
		{"advanceAt", "Next wave when this share is updated", "0 to 1; empty for 0.9.", f.AdvanceAt},
		{"maxFailures", "Halt above this share failed", "0 to 1; empty for 0.1, 0 halts on the first failure.", f.MaxFailures},
		{"failAfterPolls", "A phone has failed after polls", "Polls still on the old version after the download; empty for 3.", f.FailAfterPolls},
		{"window", "Update window (UTC)", "HH:MM-HH:MM, such as 22:00-05:00; empty for any time.", f.Window},
	}
}

type consolePlanForm struct {
	Waves, AdvanceAt, MaxFailures, FailAfterPolls, Window string
}

type consoleRulesView struct {
	Rules       []consoleRuleRow
	TestDevices []firmware.TestDevice
	Added       map[uint]string
	Plan        consolePlanForm
	PlanRule    uint
	TestType    string
	TestIdent   string
	Err         consoleFieldError
	DefaultPlan string
}

var consoleRulesDone = map[string]string{
	"approve":     "Approved: %s.",
	"restore":     "Restored: %s.",
	"reset":       "Reset: %s.",
	"autoapprove": "Automatic approval changed: %s.",
	"td-added":    "The test device %s installs pending versions from its next poll.",
	"td-removed":  "The test device %s is removed.",
}

func (fc *consoleFirmware) rules(c *gin.Context) {
	fc.showRules(c, http.StatusOK, fc.flash(c, consoleRulesDone), "", consoleFieldError{})
}

// showRules renders the rules page, fe beside its field.
func (fc *consoleFirmware) showRules(c *gin.Context, status int, flash, problem string, fe consoleFieldError) {
	fc.showRulesWith(c, status, flash, problem, consoleRulesView{Err: fe})
}

// showRulesWith renders the rules page; v carries what a failed form sent.
func (fc *consoleFirmware) showRulesWith(c *gin.Context, status int, flash, problem string, v consoleRulesView) {
	ctx := c.Request.Context()
	fail := func(err error) {
		if problem == "" {
			problem, status = fc.problemOf(err), web.StatusOf(fault.KindOf(err))
		}
	}
	v.DefaultPlan = "1, 10, 50, 100"
	if rs, err := fc.fw.Rules(ctx); err != nil {
		fail(err)
	} else {
		for _, r := range rs {
			row := consoleRuleRow{ID: r.ID, Vendor: r.Vendor, Model: r.Model, Edition: editionName(r.Edition), AutoApprove: r.AutoApprove,
				Pending: versionCell(r.Pending), Approved: versionCell(r.Approved), Restore: versionCell(r.Restore), Updated: ConsoleTime(&r.UpdatedAt)}
			if r.Revision != "" || r.Locale != "" {
				row.Rev = strings.Trim(r.Revision+" "+r.Locale, " ")
			}
			if r.Rollout != nil {
				row.Rollout = *r.Rollout
			}
			row.Waves, row.PlanFields = v.DefaultPlan, planFields(consolePlanForm{})
			if r.ID == v.PlanRule {
				row.Waves, row.PlanFields = v.Plan.Waves, planFields(v.Plan)
				row.PlanOpen = v.Plan.AdvanceAt != "" || v.Plan.MaxFailures != "" || v.Plan.FailAfterPolls != "" || v.Plan.Window != ""
			}
			v.Rules = append(v.Rules, row)
		}
	}
	if ts, err := fc.fw.TestDevices(ctx); err != nil {
		fail(err)
	} else {
		v.TestDevices = ts
		v.Added = map[uint]string{}
		for _, t := range ts {
			v.Added[t.ID] = ConsoleTime(&t.CreatedAt)
		}
	}
	if v.TestType == "" {
		v.TestType = firmware.ByMAC
	}
	fc.render(c, status, "firmwarerules", consolePageData{Title: "Firmware update rules", Flash: flash, Error: problem, Body: v})
}

// planOf reads an approval's rollout plan from the form: nil (approve for
// every phone at once) when no waves are given.
func planOf(c *gin.Context) (*firmware.Plan, consolePlanForm, error) {
	f := consolePlanForm{Waves: strings.TrimSpace(c.PostForm("waves")), AdvanceAt: strings.TrimSpace(c.PostForm("advanceAt")),
		MaxFailures: strings.TrimSpace(c.PostForm("maxFailures")), FailAfterPolls: strings.TrimSpace(c.PostForm("failAfterPolls")),
		Window: strings.TrimSpace(c.PostForm("window"))}
	if f.Waves == "" {
		if f.AdvanceAt != "" || f.MaxFailures != "" || f.FailAfterPolls != "" || f.Window != "" {
			return nil, f, fault.FieldInvalid("waves", "give waves (for example 1, 10, 50, 100) for the rollout settings to apply to, or clear them to approve for every phone at once")
		}
		return nil, f, nil
	}
	p := &firmware.Plan{Window: f.Window}
	for _, w := range strings.FieldsFunc(f.Waves, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(strings.TrimSuffix(w, "%"))
		if err != nil {
			return nil, f, fault.FieldInvalid("waves", "waves are percentages separated by commas, such as 1, 10, 50, 100; %q is not a number", w)
		}
		p.Waves = append(p.Waves, n)
	}
	if f.AdvanceAt != "" {
		n, err := strconv.ParseFloat(f.AdvanceAt, 64)
		if err != nil {
			return nil, f, fault.FieldInvalid("advanceAt", "give a share from 0 to 1, such as 0.9, not %q", f.AdvanceAt)
		}
		p.AdvanceAt = n
	}
	if f.MaxFailures != "" {
		n, err := strconv.ParseFloat(f.MaxFailures, 64)
		if err != nil {
			return nil, f, fault.FieldInvalid("maxFailures", "give a share from 0 to 1, such as 0.1, not %q", f.MaxFailures)
		}
		p.MaxFailures = &n
	}
	if f.FailAfterPolls != "" {
		n, err := strconv.Atoi(f.FailAfterPolls)
		if err != nil {
			return nil, f, fault.FieldInvalid("failAfterPolls", "give a whole number of polls, such as 3, not %q", f.FailAfterPolls)
		}
		p.FailAfterPolls = n
	}
	return p, f, nil
}

func (fc *consoleFirmware) ruleAction(c *gin.Context) {
	id, err := formID(c, "id", "device update rule")
	action := c.PostForm("action")
	var plan *firmware.Plan
	var pf consolePlanForm
	if err == nil && action == firmware.ActionApprove {
		plan, pf, err = planOf(c)
	}
	var r firmware.RuleView
	if err == nil {
		r, err = fc.fw.Act(c.Request.Context(), id, action, plan, web.AdminOf(c))
	}
	if err != nil {
		v := consoleRulesView{}
		if action == firmware.ActionApprove {
			v.Plan, v.PlanRule = pf, id
		}
		status := web.StatusOf(fault.KindOf(err))
		problem := fc.problemOf(err)
		if fe, ok := fieldErrorOf(fmt.Sprint("approve-", id), err); ok {
			v.Err, problem = fe, "Nothing was changed: see the field marked below."
		}
		fc.showRulesWith(c, status, "", problem, v)
		return
	}
	what := fmt.Sprintf("rule %d (%s %s)", r.ID, r.Vendor, r.Model)
	if r.Approved != nil {
		what += ", approved version " + r.Approved.Version
	}
	if r.Rollout != nil && action == firmware.ActionApprove {
		what += fmt.Sprintf(", going out in staged rollout %d", *r.Rollout)
	}
	fc.done(c, "/admin/firmware/rules", action, what)
}

func (fc *consoleFirmware) autoApprove(c *gin.Context) {
	id, err := formID(c, "id", "device update rule")
	var r firmware.RuleView
	if err == nil {
		r, err = fc.fw.SetAutoApprove(c.Request.Context(), id, c.PostForm("on") == "true", web.AdminOf(c))
	}
	if err != nil {
		fc.showRules(c, web.StatusOf(fault.KindOf(err)), "", fc.problemOf(err), consoleFieldError{})
		return
	}
	state := "off"
	if r.AutoApprove {
		state = "on"
	}
	fc.done(c, "/admin/firmware/rules", "autoapprove", fmt.Sprintf("rule %d (%s %s) is %s", r.ID, r.Vendor, r.Model, state))
}

func (fc *consoleFirmware) addTestDevice(c *gin.Context) {
	typ, ident := c.PostForm("identifierType"), strings.TrimSpace(c.PostForm("identifier"))
	td, err := fc.fw.AddTestDevice(c.Request.Context(), typ, ident, web.AdminOf(c))
	if err != nil {
		v := consoleRulesView{TestType: typ, TestIdent: ident}
		problem := fc.problemOf(err)
		if fe, ok := fieldErrorOf("testdevice", err); ok {
			v.Err, problem = fe, "The test device was not added: see the field marked below."
		} else if fault.Is(err, fault.Invalid) {
			// The service names no field: the identifier is what was wrong.
			v.Err, problem = consoleFieldError{Form: "testdevice", Field: "identifier", Msg: problem}, "The test device was not added: see the field marked below."
		}
		fc.showRulesWith(c, web.StatusOf(fault.KindOf(err)), "", problem, v)
		return
	}
	fc.done(c, "/admin/firmware/rules", "td-added", td.Identifier)
}

func (fc *consoleFirmware) removeTestDevice(c *gin.Context) {
	id, err := formID(c, "id", "test device")
	if err == nil {
		err = fc.fw.RemoveTestDevice(c.Request.Context(), id, web.AdminOf(c))
	}
	if err != nil {
		fc.showRules(c, web.StatusOf(fault.KindOf(err)), "", fc.problemOf(err), consoleFieldError{})
		return
	}
	fc.done(c, "/admin/firmware/rules", "td-removed", web.ClipText(c.PostForm("identifier"), 64))
}

// Rollouts and update loops.

type consoleWaveRow struct {
	N                        int
	Percent                  int
	Open                     bool
	Devices, Updated, Failed int64
	Waiting                  int64
	// UpdatedW and FailedW are the bar's widths out of 100.
	UpdatedW, FailedW string
}

type consoleRolloutRow struct {
	firmware.RolloutStatus
	Rows                          []consoleWaveRow
	Started, Changed              string
	CanPause, CanResume, CanAbort bool
}

type consoleLoopRow struct {
	MAC, Vendor, Model, Version, Flagged string
}

type consoleRolloutsView struct {
	Rollouts []consoleRolloutRow
	Loops    []consoleLoopRow
}

var consoleRolloutsDone = map[string]string{
	"pause":   "Rollout %s is paused: no phone is offered its version until you resume it.",
	"resume":  "Rollout %s is running again.",
	"abort":   "Rollout %s is aborted: phones are offered the previous version again.",
	"cleared": "The update loop flag of %s is cleared: it is offered updates again.",
}

func (fc *consoleFirmware) rollouts(c *gin.Context) {
	fc.showRollouts(c, http.StatusOK, fc.flash(c, consoleRolloutsDone), "")
}

func (fc *consoleFirmware) showRollouts(c *gin.Context, status int, flash, problem string) {
	ctx := c.Request.Context()
	fail := func(err error) {
		if problem == "" {
			problem, status = fc.problemOf(err), web.StatusOf(fault.KindOf(err))
		}
	}
	var v consoleRolloutsView
	if ros, err := fc.fw.Rollouts(ctx); err != nil {
		fail(err)
	} else {
		for _, ro := range ros {
			row := consoleRolloutRow{RolloutStatus: ro, Started: ConsoleTime(&ro.CreatedAt), Changed: ConsoleTime(&ro.UpdatedAt),
				CanPause: ro.State == firmware.StateRunning, CanResume: ro.State == firmware.StatePaused || ro.State == firmware.StateHalted,
				CanAbort: ro.State == firmware.StateRunning || ro.State == firmware.StatePaused || ro.State == firmware.StateHalted}
			for i, w := range ro.Waves {
				wr := consoleWaveRow{N: i + 1, Percent: w.Percent, Open: w.Open, Devices: w.Devices, Updated: w.Updated, Failed: w.Failed,
					Waiting: max(0, w.Devices-w.Updated-w.Failed), UpdatedW: "0", FailedW: "0"}
				if w.Devices > 0 {
					wr.UpdatedW = strconv.FormatFloat(100*float64(w.Updated)/float64(w.Devices), 'f', 1, 64)
					wr.FailedW = strconv.FormatFloat(100*float64(w.Failed)/float64(w.Devices), 'f', 1, 64)
				}
				row.Rows = append(row.Rows, wr)
			}
			v.Rollouts = append(v.Rollouts, row)
		}
	}
	if ls, err := fc.fw.Loops(ctx); err != nil {
		fail(err)
	} else {
		for _, l := range ls {
			v.Loops = append(v.Loops, consoleLoopRow{MAC: l.MAC, Vendor: l.Vendor, Model: l.Model, Version: l.Version, Flagged: ConsoleTime(l.FlaggedAt)})
		}
	}
	fc.render(c, status, "firmwarerollouts", consolePageData{Title: "Firmware rollouts", Flash: flash, Error: problem, Body: v})
}

func (fc *consoleFirmware) rolloutAction(c *gin.Context) {
	id, err := formID(c, "id", "rollout")
	action := c.PostForm("action")
	if err == nil {
		switch action {
		case "pause", "resume", "abort":
			_, err = fc.fw.SetRolloutState(c.Request.Context(), id, action, web.AdminOf(c))
		default:
			err = fault.Invalidf("no action %q on a rollout: use pause, resume or abort", web.ClipText(action, 20))
		}
	}
	if err != nil {
		fc.showRollouts(c, web.StatusOf(fault.KindOf(err)), "", fc.problemOf(err))
		return
	}
	fc.done(c, "/admin/firmware/rollouts", action, strconv.FormatUint(uint64(id), 10))
}

func (fc *consoleFirmware) clearLoop(c *gin.Context) {
	mac := c.PostForm("mac")
	if err := fc.fw.ClearLoop(c.Request.Context(), mac, web.AdminOf(c)); err != nil {
		fc.showRollouts(c, web.StatusOf(fault.KindOf(err)), "", fc.problemOf(err))
		return
	}
	fc.done(c, "/admin/firmware/rollouts", "cleared", mac)
}

// Firmware is the console's firmware pages over fw (the API's firmware
// module, api.Firmware, serves the same service).
func Firmware(fw *firmware.Service) web.Module {
	return web.ModuleFunc(func(r *web.Routes) { mountFirmwareConsole(r, fw) })
}
