package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/phonefiles"
)

// Uploads the API and the console both take (multipart bodies), so they
// live in the core.

// uploadFault names what went wrong reading an upload: a fault as it is,
// a body over its cap as too large, anything else as an interrupted or
// broken multipart body.
func uploadFault(err error) error {
	if _, ok := fault.As(err); ok {
		return err
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return fault.New(fault.TooLarge, "the upload is over %d bytes", mb.Limit)
	}
	return fault.Invalidf("the upload was interrupted or is not valid multipart (%v): nothing was kept, send it again", err)
}

// MaxPhoneFileBody caps an upload's whole multipart body: the file and a
// few short fields.
func MaxPhoneFileBody(svc *phonefiles.Service) int64 { return svc.MaxFile + 64<<10 }

// AddPhoneFile reads a multipart upload (the API's and the console's) and
// stores it. The body is capped before anything is parsed.
func AddPhoneFile(c *gin.Context, svc *phonefiles.Service) (phonefiles.File, bool, error) {
	if c.Request.ContentLength > MaxPhoneFileBody(svc) {
		return phonefiles.File{}, false, fault.New(fault.TooLarge, "the upload is over %d bytes: a shared file may have at most %d", MaxPhoneFileBody(svc), svc.MaxFile)
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxPhoneFileBody(svc))
	fh, err := c.FormFile("file")
	if err != nil {
		return phonefiles.File{}, false, uploadFault(phoneFileFormErr(err))
	}
	in := phonefiles.FileInput{Path: c.PostForm("path"), Vendor: c.PostForm("vendor"), Site: c.PostForm("site")}
	if strings.TrimSpace(in.Path) == "" {
		in.Path = fh.Filename
	}
	rd, err := fh.Open()
	if err != nil {
		return phonefiles.File{}, false, err
	}
	defer rd.Close()
	return svc.AddFile(c.Request.Context(), in, rd, AdminOf(c))
}

// phoneFileFormErr names what is missing when the form has no file part.
func phoneFileFormErr(err error) error {
	if err == http.ErrMissingFile {
		return fault.FieldInvalid("file", "send the file as multipart/form-data with a part named file (and fields path, vendor, site)")
	}
	if err == http.ErrNotMultipart {
		return fault.New(fault.UnsupportedType, "send the file as multipart/form-data with a part named file (and fields path, vendor, site)")
	}
	return err
}
