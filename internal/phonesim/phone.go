// Package phonesim plays desk phones against a deskprov server: Polycom VVX,
// Yealink T4x, AudioCodes 4xx HD (Generic SIP and Skype firmware) and Lync
// Phone Edition devices, each with its family's real boot sequence, polls
// and (Live) sign-ins and firmware updates. cmd/phonesim checks a server's
// answers with it; deskprov serve --demo keeps a fleet of them alive.
package phonesim

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"

	"github.com/deskprov/deskprov/internal/phoneclient"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/lpe"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
)

// Phone is one simulated device.
type Phone struct {
	Fam provisioning.Family // nil for Lync Phone Edition (no /prov/ file)
	Dev provisioning.Device
	UA  string
	C   *phoneclient.Phone
	// UpdaterUA, for a Polycom, is what its Updater (the boot stage before
	// the application) sends: the same form with Type/Updater and the
	// Updater's own version (wazo-provd-plugins,
	// plugins/wazo_polycom/common/common.py).
	UpdaterUA string
}

// Phones makes n phones, the families in turn, with MACs under each
// vendor's prefix so that they are stable from run to run: every fourth a
// Lync Phone Edition CX600, the others Polycom VVX 500, Yealink T46G and
// AudioCodes 440HD (Generic SIP) or 450HD (Skype firmware) in turn.
func Phones(n int) []Phone {
	out := make([]Phone, n)
	for i := range out {
		suffix := fmt.Sprintf("%06x", i)
		if i%4 == 3 {
			d := provisioning.Device{Vendor: provisioning.LPE, Model: "CX600", MAC: "0004f3" + suffix, Version: "4.0.7577.4387", Revision: "A"}
			out[i] = Phone{Dev: d, UA: "Microsoft-CPE/4.0"}
			continue
		}
		switch i % 3 {
		case 0:
			d := provisioning.Device{Vendor: "polycom", Model: "VVX500", MAC: "0004f2" + suffix, Version: "5.9.7.4477"}
			out[i] = Phone{Fam: polycom.New(), Dev: d}
		case 1:
			d := provisioning.Device{Vendor: "yealink", Model: "T46G", MAC: "001565" + suffix, Version: "28.83.0.120"}
			out[i] = Phone{Fam: yealink.New(), Dev: d}
		default:
			d := provisioning.Device{Vendor: "audiocodes", Model: "440HD", MAC: "00908f" + suffix, Version: "2.2.8.61"}
			if i%2 == 1 {
				// The Skype for Business firmware: the MAC only in the path.
				d = provisioning.Device{Vendor: "audiocodes", Model: "450HD", MAC: "00908f" + suffix, Version: "3.4.6.604"}
			}
			out[i] = Phone{Fam: audiocodes.New(), Dev: d}
		}
		out[i].SetVersion(out[i].Dev.Version)
	}
	return out
}

// SetVersion makes the phone run version: its User-Agent says so from now
// on, as a phone's does after it has installed an update and rebooted.
func (p *Phone) SetVersion(v string) {
	p.Dev.Version = v
	switch p.Dev.Vendor {
	case "polycom":
		model := strings.TrimPrefix(p.Dev.Model, "VVX")
		p.UA = "FileTransport PolycomVVX-VVX_" + model + "-UA/" + v + " Type/Application"
		p.UpdaterUA = "FileTransport PolycomVVX-VVX_" + model + "-UA/5.8.0.17085 Type/Updater"
	case "yealink":
		p.UA = "Yealink SIP-" + p.Dev.Model + " " + v + " " + Colons(p.Dev.MAC)
	case "audiocodes":
		if p.Dev.Model == "450HD" {
			p.UA = "AUDC/" + v + " AUDC-IPPhone-C450HD_UC_" + v + "/1"
		} else {
			p.UA = "AUDC-IPPhone/" + v + " (" + p.Dev.Model + "G-Rev0; " + strings.ToUpper(p.Dev.MAC) + ")"
		}
	}
	if p.C != nil {
		p.C.UserAgent = p.UA
	}
}

// Colons writes a MAC as aa:bb:cc:dd:ee:ff.
func Colons(mac string) string {
	var b strings.Builder
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(mac[i : i+2])
	}
	return b.String()
}

// MainFile is the file a phone polls.
func (p Phone) MainFile() string {
	if p.Dev.Vendor == "audiocodes" {
		return strings.ToUpper(p.Dev.MAC) + ".cfg"
	}
	return p.Dev.MAC + ".cfg"
}

// UpdaterSteps are a Polycom Updater's requests before the application
// starts: the master file, then the image it names if any (none is offered
// on a fresh server). Its version must count for nothing: deskprov answers it
// as the phone whose application reported last.
func (p Phone) UpdaterSteps() []provisioning.Step {
	if p.UpdaterUA == "" {
		return nil
	}
	part := polycom.Parts[p.Dev.Model]
	return []provisioning.Step{
		{Method: http.MethodGet, Name: p.Dev.MAC + ".cfg", Status: http.StatusOK},
		{Method: http.MethodGet, Name: part + ".sip.ld", Status: http.StatusNotFound},
	}
}

// CredentialFile is the file that issues the phone its credentials.
func (p Phone) CredentialFile() string {
	if p.Fam == nil {
		return ""
	}
	for _, name := range p.Fam.Files(p.Dev) {
		dev := p.Dev
		if e, err := p.Fam.Resolve(http.MethodGet, name, &dev); err == nil && e.Credentials {
			return name
		}
	}
	return ""
}

// LPERequest is a Lync Phone Edition device's update check.
func (p Phone) LPERequest() []byte {
	req, _ := xml.Marshal(lpe.Request{DeviceType: "UCPhone", Model: p.Dev.Model, Revision: p.Dev.Revision, Locale: "ENU",
		MACAddress: p.Dev.MAC, SerialNumber: "SN" + p.Dev.MAC, CurrentVersion: p.Dev.Version})
	return req
}

// Do sends one request as phone c: a PUT carries a small log file, etag
// goes in If-None-Match. It returns the status, the ETag and the body.
func Do(ctx context.Context, c *phoneclient.Phone, method, url, etag string, put bool) (int, string, []byte, error) {
	var body []byte
	if put {
		body = []byte("#!version:1.0.0.1\n# phonesim upload\n")
	}
	var hdr http.Header
	if etag != "" {
		hdr = http.Header{"If-None-Match": {etag}}
	}
	status, h, b, err := c.Do(ctx, method, url, body, hdr)
	if err != nil {
		return 0, "", nil, err
	}
	return status, h.Get("ETag"), b, nil
}
