package console

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/phonefiles"
	"github.com/deskprov/deskprov/web"
)

// mountPhoneFilesConsole mounts /admin/phonefiles: the CA certificates and
// shared files, each with an upload form (multipart, no JavaScript) and a
// remove button per row.
func mountPhoneFilesConsole(r *web.Routes, svc *phonefiles.Service) {
	cn, err := newConsole(r.Server)
	if err != nil {
		panic("admin console: " + err.Error()) // as in mountConsole
	}
	pc := &consolePhoneFiles{console: cn, svc: svc}
	g := r.Root.Group("/admin", cn.headers, cn.nonce, cn.checkCSRF, cn.requireAdmin)
	g.GET("/phonefiles", pc.list)
	g.POST("/phonefiles/cacerts/remove", pc.removeCA)
	g.POST("/phonefiles/files/remove", pc.removeFile)
	// The uploads are multipart: the session is checked before the body is
	// read, the body is capped, and only then is the form (and its CSRF
	// token) parsed.
	up := r.Root.Group("/admin", cn.headers, cn.nonce, cn.requireAdmin)
	up.POST("/phonefiles/cacerts", capBody(phonefiles.MaxPEM+64<<10), cn.checkCSRF, pc.addCA)
	up.POST("/phonefiles/files", capBody(web.MaxPhoneFileBody(svc)), cn.checkCSRF, pc.addFile)
	r.Server.OwnBodyLimit(http.MethodPost, "/admin/phonefiles/cacerts")
	r.Server.OwnBodyLimit(http.MethodPost, "/admin/phonefiles/files")
}

// capBody refuses a body over max bytes (413), at once when its
// Content-Length says so, else when it is read past the cap.
func capBody(max int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > max {
			c.Data(http.StatusRequestEntityTooLarge, "text/plain; charset=utf-8", []byte(fmt.Sprintf("the upload is over %d bytes\n", max)))
			c.Abort()
			return
		}
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		// Parsed here, so that a body over the cap is a 413 and not a
		// missing CSRF token.
		if err := c.Request.ParseMultipartForm(max); err != nil {
			status, msg := http.StatusBadRequest, "send the form as multipart/form-data, as the page does"
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("the upload is over %d bytes", max)
			}
			c.Data(status, "text/plain; charset=utf-8", []byte(msg+"\n"))
			c.Abort()
			return
		}
		c.Next()
	}
}

type consolePhoneFiles struct {
	*console
	svc *phonefiles.Service
}

type consoleCACertRow struct {
	Name, Fingerprint, Short, FileName, Subject, Expires string
	Expired                                              bool
}

type consoleSharedFileRow struct {
	ID                                                 uint
	Path, Family, Site, Size, ContentType, Updated, By string
}

type consolePhoneFilesView struct {
	ProvURL    string
	CACerts    []consoleCACertRow
	Files      []consoleSharedFileRow
	Vendors    []string
	MaxFile    string
	Extensions string
	Name, Path string
	Vendor     string
	Site       string
}

func (pc *consolePhoneFiles) show(c *gin.Context, status int, flash, problem string, form consolePhoneFilesView) {
	ctx := c.Request.Context()
	v := form
	v.ProvURL, v.Vendors, v.MaxFile = pc.s.PublicURL+"/prov/", phonefiles.Vendors, humanSize(pc.svc.MaxFile)
	v.Extensions = phonefilesExtensions()
	fail := func(err error) {
		if problem == "" {
			problem, status = pc.problemOf(err), web.StatusOf(fault.KindOf(err))
		}
	}
	now := pc.s.Now()
	if certs, err := pc.svc.CACertList(ctx); err != nil {
		fail(err)
	} else {
		for _, ca := range certs {
			v.CACerts = append(v.CACerts, consoleCACertRow{Name: ca.Name, Fingerprint: ca.Fingerprint, Short: ca.Fingerprint[:16], FileName: ca.FileName(),
				Subject: ca.Subject, Expires: ConsoleTime(&ca.NotAfter), Expired: now.After(ca.NotAfter)})
		}
	}
	if files, err := pc.svc.Files(ctx); err != nil {
		fail(err)
	} else {
		for _, f := range files {
			row := consoleSharedFileRow{ID: f.ID, Path: f.Path, Family: f.Vendor, Site: f.Site, Size: humanSize(f.Size), ContentType: f.ContentType,
				Updated: ConsoleTime(&f.UpdatedAt), By: f.CreatedBy}
			if row.Family == "" {
				row.Family = "every family"
			}
			if row.Site == "" {
				row.Site = "every site"
			}
			v.Files = append(v.Files, row)
		}
	}
	pc.render(c, status, "phonefiles", consolePageData{Title: "Phone files", Flash: flash, Error: problem, Body: v})
}

var consolePhoneFilesDone = map[string]string{
	"ca-added":     "The CA certificate %s is stored: phones install it at their next poll.",
	"ca-removed":   "The CA certificate %s is removed: phones' next files no longer carry it.",
	"file-added":   "The shared file %s is stored.",
	"file-removed": "The shared file %s is removed.",
}

func (pc *consolePhoneFiles) list(c *gin.Context) {
	flash := ""
	if msg, ok := consolePhoneFilesDone[c.Query("done")]; ok {
		flash = fmt.Sprintf(msg, web.ClipText(c.Query("what"), 80))
	}
	pc.show(c, http.StatusOK, flash, "", consolePhoneFilesView{})
}

func (pc *consolePhoneFiles) done(c *gin.Context, what, name string) {
	c.Redirect(http.StatusSeeOther, "/admin/phonefiles?"+url.Values{"done": {what}, "what": {name}}.Encode())
}

func (pc *consolePhoneFiles) addCA(c *gin.Context) {
	name := c.PostForm("name")
	data, err := readPEMPart(c)
	if err == nil {
		var ca phonefiles.CACert
		if ca, err = pc.svc.AddCACert(c.Request.Context(), name, data, web.AdminOf(c)); err == nil {
			pc.done(c, "ca-added", ca.Name)
			return
		}
	}
	pc.show(c, web.StatusOf(fault.KindOf(err)), "", pc.problemOf(err), consolePhoneFilesView{Name: name})
}

func (pc *consolePhoneFiles) removeCA(c *gin.Context) {
	ca, err := pc.svc.RemoveCACert(c.Request.Context(), c.PostForm("fingerprint"), web.AdminOf(c))
	if err != nil {
		pc.show(c, web.StatusOf(fault.KindOf(err)), "", pc.problemOf(err), consolePhoneFilesView{})
		return
	}
	pc.done(c, "ca-removed", ca.Name)
}

func (pc *consolePhoneFiles) addFile(c *gin.Context) {
	f, _, err := web.AddPhoneFile(c, pc.svc)
	if err != nil {
		pc.show(c, web.StatusOf(fault.KindOf(err)), "", pc.problemOf(err),
			consolePhoneFilesView{Path: c.PostForm("path"), Vendor: c.PostForm("vendor"), Site: c.PostForm("site")})
		return
	}
	pc.done(c, "file-added", f.Path)
}

func (pc *consolePhoneFiles) removeFile(c *gin.Context) {
	id, err := strconv.ParseUint(c.PostForm("id"), 10, 32)
	var f phonefiles.File
	if err != nil || id == 0 {
		err = fault.NotFoundf("no shared file %q", web.ClipText(c.PostForm("id"), 40))
	} else {
		f, err = pc.svc.RemoveFile(c.Request.Context(), uint(id), web.AdminOf(c))
	}
	if err != nil {
		pc.show(c, web.StatusOf(fault.KindOf(err)), "", pc.problemOf(err), consolePhoneFilesView{})
		return
	}
	pc.done(c, "file-removed", f.Path)
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func phonefilesExtensions() string {
	return ".xml .cfg .txt .csv .lang .jpg .jpeg .png .bmp .gif .wav .mp3 .pem .crt .cer"
}

// PhoneFiles is the console's phone files page (/admin/phonefiles).
func PhoneFiles(svc *phonefiles.Service) web.Module {
	return web.ModuleFunc(func(r *web.Routes) { mountPhoneFilesConsole(r, svc) })
}

// readPEMPart reads the console's certificate upload (a file part) under
// phonefiles.MaxPEM.
func readPEMPart(c *gin.Context) ([]byte, error) {
	fh, err := c.FormFile("file")
	if err != nil {
		return nil, fault.FieldInvalid("file", "choose the CA certificate's file (PEM or DER)")
	}
	if fh.Size > phonefiles.MaxPEM {
		return nil, fault.New(fault.TooLarge, "the certificate is over %d bytes: upload one CA certificate, not a bundle", phonefiles.MaxPEM)
	}
	rd, err := fh.Open()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(rd)
	return b.Bytes(), err
}
