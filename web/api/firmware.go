package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/web"
)

// Firmware is the firmware area's admin API: the catalog, rules, test
// devices, rollouts and the loop guard. Images go to phones through
// phone.Firmware; both send them through one web.ImageDownloads, so an
// admin's download counts against the same cap as the phones'.
type Firmware struct {
	svc *firmware.Service
	dl  *web.ImageDownloads
	s   *web.Server
}

// NewFirmware builds the module over svc, sending images through dl.
func NewFirmware(svc *firmware.Service, dl *web.ImageDownloads) *Firmware {
	return &Firmware{svc: svc, dl: dl}
}

// Service is the firmware service h serves.
func (h *Firmware) Service() *firmware.Service { return h.svc }

// Mount adds the routes.
func (h *Firmware) Mount(r *web.Routes) {
	h.s = r.Server
	h.dl.Attach(r.Server)
	a := r.Admin
	a.POST("/firmware", h.upload)
	r.Server.OwnBodyLimit(http.MethodPost, "/api/v1/firmware") // images are streamed to disk under MaxUpload
	a.GET("/firmware", h.list)
	a.GET("/firmware/:id", h.get)
	a.GET("/firmware/:id/file", h.download)
	a.HEAD("/firmware/:id/file", h.download)
	a.DELETE("/firmware/:id", h.remove)
	a.GET("/deviceupdaterules", h.rules)
	a.GET("/deviceupdaterules/:id", h.rule)
	a.PATCH("/deviceupdaterules/:id", h.patchRule)
	a.POST("/deviceupdaterules/:id/:action", h.act)
	a.GET("/testdevices", h.testDevices)
	a.POST("/testdevices", h.addTestDevice)
	a.DELETE("/testdevices/:id", h.removeTestDevice)
	a.GET("/rollouts", h.rollouts)
	a.GET("/rollouts/:id", h.rollout)
	a.POST("/rollouts/:id/:action", h.rolloutAction)
	a.GET("/updateloops", h.loops)
	a.GET("/devices/:mac/firmware", h.history)
	a.DELETE("/updateloops/:mac", h.clearLoop)
	a.GET("/firmwareaudit", h.audit)
}

func (h *Firmware) upload(c *gin.Context) {
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, h.svc.MaxUpload+1<<20)
	img, created, _, err := web.ReceiveFirmware(c, h.svc, nil)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.Header("Location", "/api/v1/firmware/"+img.ID)
	c.JSON(status, img)
}

func (h *Firmware) list(c *gin.Context) {
	imgs, err := h.svc.Images(c.Request.Context(), c.Query("vendor"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, imgs)
}

func (h *Firmware) get(c *gin.Context) {
	img, err := h.svc.Image(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, img)
}

// download serves an image to an admin, whatever it is offered to: for
// checking what was imported. It shares the download cap with phones and
// is never counted as a phone's download.
func (h *Firmware) download(c *gin.Context) {
	img, err := h.svc.Image(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="`+strings.ReplaceAll(img.FileName, `"`, "")+`"`)
	h.dl.Serve(c, h.svc, img, "")
}

func (h *Firmware) remove(c *gin.Context) {
	if _, err := h.svc.Remove(c.Request.Context(), c.Param("id"), web.AdminOf(c)); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *Firmware) rules(c *gin.Context) {
	rs, err := h.svc.Rules(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, rs)
}

func firmwareID(c *gin.Context, what string) (uint, error) {
	n, err := strconv.ParseUint(c.Param("id"), 10, 32)
	if err != nil || n == 0 {
		return 0, fault.NotFoundf("no %s %q", what, c.Param("id"))
	}
	return uint(n), nil
}

func (h *Firmware) rule(c *gin.Context) {
	id, err := firmwareID(c, "device update rule")
	if err == nil {
		var r firmware.RuleView
		if r, err = h.svc.RuleByID(c.Request.Context(), id); err == nil {
			c.JSON(http.StatusOK, r)
			return
		}
	}
	h.s.Fail(c, err)
}

// patchRule changes a rule's settings: today autoApprove.
func (h *Firmware) patchRule(c *gin.Context) {
	id, err := firmwareID(c, "device update rule")
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	var in struct {
		AutoApprove *bool `json:"autoApprove"`
	}
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	if in.AutoApprove == nil {
		h.s.Fail(c, fault.FieldInvalid("autoApprove", "give autoApprove: true (approve each newer version as it is imported) or false (wait for an admin)"))
		return
	}
	r, err := h.svc.SetAutoApprove(c.Request.Context(), id, *in.AutoApprove, web.AdminOf(c))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

// actInput is the optional body of approve: a rollout plan.
type actInput struct {
	Rollout *firmware.Plan `json:"rollout"`
}

func (h *Firmware) act(c *gin.Context) {
	id, err := firmwareID(c, "device update rule")
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	action := c.Param("action")
	if action != firmware.ActionApprove && action != firmware.ActionRestore && action != firmware.ActionReset {
		h.s.Fail(c, fault.NotFoundf("no action %q on a rule: use approve, restore or reset", action))
		return
	}
	var in actInput
	if c.Request.ContentLength != 0 {
		if err := web.BindJSON(c, &in); err != nil {
			h.s.Fail(c, err)
			return
		}
	}
	r, err := h.svc.Act(c.Request.Context(), id, action, in.Rollout, web.AdminOf(c))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

func (h *Firmware) testDevices(c *gin.Context) {
	ts, err := h.svc.TestDevices(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ts)
}

func (h *Firmware) addTestDevice(c *gin.Context) {
	var in struct {
		IdentifierType string `json:"identifierType"`
		Identifier     string `json:"identifier"`
	}
	if err := web.BindJSON(c, &in); err != nil {
		h.s.Fail(c, err)
		return
	}
	td, err := h.svc.AddTestDevice(c.Request.Context(), in.IdentifierType, in.Identifier, web.AdminOf(c))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, td)
}

func (h *Firmware) removeTestDevice(c *gin.Context) {
	id, err := firmwareID(c, "test device")
	if err == nil {
		err = h.svc.RemoveTestDevice(c.Request.Context(), id, web.AdminOf(c))
	}
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *Firmware) rollouts(c *gin.Context) {
	rs, err := h.svc.Rollouts(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, rs)
}

func (h *Firmware) rollout(c *gin.Context) {
	id, err := firmwareID(c, "rollout")
	if err == nil {
		var r firmware.RolloutStatus
		if r, err = h.svc.RolloutByID(c.Request.Context(), id); err == nil {
			c.JSON(http.StatusOK, r)
			return
		}
	}
	h.s.Fail(c, err)
}

func (h *Firmware) rolloutAction(c *gin.Context) {
	id, err := firmwareID(c, "rollout")
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	switch c.Param("action") {
	case "pause", "resume", "abort":
	default:
		h.s.Fail(c, fault.NotFoundf("no action %q on a rollout: use pause, resume or abort", c.Param("action")))
		return
	}
	r, err := h.svc.SetRolloutState(c.Request.Context(), id, c.Param("action"), web.AdminOf(c))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, r)
}

func (h *Firmware) loops(c *gin.Context) {
	ls, err := h.svc.Loops(c.Request.Context())
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, ls)
}

// history is a phone's firmware history (the console's device page shows
// the same).
func (h *Firmware) history(c *gin.Context) {
	d, err := h.svc.History(c.Request.Context(), c.Param("mac"))
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, d)
}

func (h *Firmware) clearLoop(c *gin.Context) {
	if err := h.svc.ClearLoop(c.Request.Context(), c.Param("mac"), web.AdminOf(c)); err != nil {
		h.s.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *Firmware) audit(c *gin.Context) {
	limit, _ := strconv.Atoi(c.Query("limit"))
	es, err := h.svc.Audit(c.Request.Context(), limit)
	if err != nil {
		h.s.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, es)
}
