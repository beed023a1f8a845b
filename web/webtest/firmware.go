package webtest

import (
	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/firmware"
	"github.com/deskprov/deskprov/web"
	"github.com/deskprov/deskprov/web/api"
	"github.com/deskprov/deskprov/web/phone"
)

// Firmware is the firmware area as serve wires it: the admin API
// (api.Firmware) and the phones' image delivery (phone.Firmware) over one
// service, sharing one cap on downloads. Mount it as one module.
type Firmware struct {
	Downloads *web.ImageDownloads
	API       *api.Firmware
	Images    *phone.Firmware
	svc       *firmware.Service
	srv       *web.Server
}

// NewFirmware is the firmware area over svc with maxDownloads download
// slots, a phone turned away at the cap told to retry after retryAfter
// seconds.
func NewFirmware(svc *firmware.Service, maxDownloads, retryAfter int) *Firmware {
	dl := web.NewImageDownloads(maxDownloads, retryAfter)
	return &Firmware{Downloads: dl, API: api.NewFirmware(svc, dl), Images: phone.NewFirmware(svc, dl), svc: svc}
}

// Mount mounts both modules.
func (f *Firmware) Mount(r *web.Routes) {
	f.srv = r.Server
	f.API.Mount(r)
	f.Images.Mount(r)
}

// Service is the firmware service.
func (f *Firmware) Service() *firmware.Service { return f.svc }

// Server is the server f is mounted on.
func (f *Firmware) Server() *web.Server { return f.srv }

// Active is how many image downloads are in progress.
func (f *Firmware) Active() int { return f.Downloads.Active() }

// ServeImage is the web.ImageHandler provisioning calls for image names.
func (f *Firmware) ServeImage(c *gin.Context, r web.ImageRequest) bool {
	return f.Images.ServeImage(c, r)
}
