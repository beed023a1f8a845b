package web

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/firmware"
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

// maxFormField caps a non-file multipart field.
const maxFormField = 4096

// ReceiveFirmware reads a multipart image upload, part by part, and commits the
// image to the catalog: the one path of the API's and the console's
// imports. It returns the fields it read (for a form to show again).
// csrf, when set (the console), takes the csrf_token field, which must come
// before the file part, and is asked before a byte of the image is read.
func ReceiveFirmware(c *gin.Context, svc *firmware.Service, csrf func(token string) error) (img firmware.Image, created bool, meta firmware.ImageMeta, err error) {
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return img, false, meta, fault.Invalidf("send the image as multipart/form-data with a part named file (%v)", err)
	}
	var up *firmware.Upload
	defer func() { up.Discard() }()
	fileName, wantSHA, token, checked := "", "", "", csrf == nil
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return img, false, meta, uploadFault(err)
		}
		name := part.FormName()
		if name == "file" {
			if !checked {
				if err := csrf(token); err != nil {
					return img, false, meta, err
				}
				checked = true
			}
			if up != nil {
				return img, false, meta, fault.FieldInvalid("file", "send one image per upload")
			}
			if fileName == "" {
				fileName = part.FileName()
			}
			// The fields come before the file: check them now, so a
			// missing vendor is refused before the image is read.
			if _, err := firmware.ParseMeta(fileName, meta); err != nil {
				return img, false, meta, err
			}
			if up, err = svc.Stage(c.Request.Context(), part); err != nil {
				return img, false, meta, uploadFault(err)
			}
			continue
		}
		b, err := io.ReadAll(io.LimitReader(part, maxFormField+1))
		if err != nil {
			return img, false, meta, uploadFault(err)
		}
		if len(b) > maxFormField {
			return img, false, meta, fault.FieldInvalid(name, "field %q is over %d bytes", name, maxFormField)
		}
		v := strings.TrimSpace(string(b))
		if up != nil && name != "sha256" {
			// The image was taken as described by the fields before it.
			return img, false, meta, fault.FieldInvalid(name, "send %s before the file part: the fields are checked before the image is read (only sha256 may follow it)", name)
		}
		switch name {
		case "vendor":
			meta.Vendor = v
		case "models", "model":
			if csrf != nil {
				// A console form sends the field even when empty (not
				// given), and lists models separated by commas.
				for _, m := range strings.Split(v, ",") {
					if m = strings.TrimSpace(m); m != "" {
						meta.Models = append(meta.Models, m)
					}
				}
				continue
			}
			meta.Models = append(meta.Models, v)
		case "version":
			meta.Version = v
		case "revision":
			meta.Revision = v
		case "locale":
			meta.Locale = v
		case "fileName":
			fileName = v
		case "sha256":
			wantSHA = strings.ToLower(v)
		case "certified":
			if meta.Certified, err = strconv.ParseBool(v); err != nil {
				return img, false, meta, fault.FieldInvalid(name, "certified is true or false, not %q", v)
			}
		default:
			if name == CSRFField && csrf != nil {
				token = v
				continue
			}
			return img, false, meta, fault.FieldInvalid(name, "unknown field %q: use file, vendor, models, version, revision, locale, certified, fileName, sha256", name)
		}
	}
	if !checked {
		if err := csrf(token); err != nil {
			return img, false, meta, err
		}
	}
	if up == nil {
		return img, false, meta, fault.FieldInvalid("file", "the upload has no part named file")
	}
	if wantSHA != "" && wantSHA != up.SHA256 {
		return img, false, meta, fault.FieldInvalid("sha256", "the image arrived corrupted: its SHA-256 is %s, not %s; nothing was kept, send it again", up.SHA256, wantSHA)
	}
	img, created, err = svc.Commit(c.Request.Context(), up, fileName, meta, AdminOf(c))
	return img, created, meta, err
}
