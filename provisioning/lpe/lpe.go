// Package lpe is the update exchange of Lync Phone Edition devices
// (CX600/CX3000, Aastra 6721ip/6725ip, HP 4110/4120): an XML request POSTed
// to /RequestHandler/ucdevice.upx (or /RequestHandlerExt/ from outside) and
// the answer naming the update to install, or none.
//
// No public capture of the real bodies exists (VENDORS.md), so the exchange
// is deskprov's own, defined here and only here, documented in
// docs/provisioning.md, so that it can be corrected against a capture.
package lpe

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"

	"github.com/deskprov/deskprov/fault"
	"github.com/deskprov/deskprov/provisioning"
)

// MaxRequest caps a request body.
const MaxRequest = 64 << 10

// Request is what a device sends.
type Request struct {
	XMLName        xml.Name `xml:"UpdateRequest"`
	DeviceType     string   `xml:"DeviceType"`
	Model          string   `xml:"Model"`
	Revision       string   `xml:"Revision"`
	Locale         string   `xml:"Locale"`
	MACAddress     string   `xml:"MACAddress"`
	SerialNumber   string   `xml:"SerialNumber"`
	CurrentVersion string   `xml:"CurrentVersion"`
}

// Answer is what deskprov sends back. Status is "update" (with Version, URL,
// SHA256 and Size) or "none" (with Reason).
type Answer struct {
	XMLName xml.Name `xml:"UpdateResponse"`
	Status  string   `xml:"Status"`
	Version string   `xml:"Version,omitempty"`
	URL     string   `xml:"URL,omitempty"`
	SHA256  string   `xml:"SHA256,omitempty"`
	Size    int64    `xml:"Size,omitempty"`
	Reason  string   `xml:"Reason,omitempty"`
}

// The exchange's paths: the update handler and the images, inside
// (RequestHandler) and outside the firewall (RequestHandlerExt, what a
// reverse proxy publishes). Outside, a device nobody has signed in on is
// refused at the update handler; the images are answered alike.
const (
	UpdatePath    = "/RequestHandler/ucdevice.upx"
	ExtUpdatePath = "/RequestHandlerExt/ucdevice.upx"
	FilesPath     = "/RequestHandler/Files/"
	ExtFilesPath  = "/RequestHandlerExt/Files/"
)

// Parse reads a request into device facts; anything malformed or missing is
// a fault.Invalid naming it.
func Parse(r io.Reader) (provisioning.Device, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxRequest+1))
	if err != nil {
		return provisioning.Device{}, fault.Invalidf("could not read the request: %v", err)
	}
	if len(body) > MaxRequest {
		return provisioning.Device{}, fault.New(fault.TooLarge, "the update request is over %d bytes", MaxRequest)
	}
	var req Request
	dec := xml.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return provisioning.Device{}, fault.Invalidf("the update request is not an <UpdateRequest> XML document: %v", err)
	}
	for _, f := range []struct{ name, v string }{{"DeviceType", req.DeviceType}, {"Model", req.Model}, {"MACAddress", req.MACAddress}, {"CurrentVersion", req.CurrentVersion}} {
		if strings.TrimSpace(f.v) == "" {
			return provisioning.Device{}, fault.FieldInvalid(f.name, "<%s> is missing from the update request", f.name)
		}
	}
	mac, err := provisioning.ParseMAC(strings.TrimSpace(req.MACAddress))
	if err != nil {
		return provisioning.Device{}, fault.FieldInvalid("MACAddress", "<MACAddress> %q is not a MAC address", req.MACAddress)
	}
	clean := func(s string) string {
		s = strings.TrimSpace(s)
		if len(s) > 64 {
			s = s[:64]
		}
		return s
	}
	return provisioning.Device{Vendor: provisioning.LPE, Model: clean(req.Model), MAC: mac, Version: clean(req.CurrentVersion),
		Serial: clean(req.SerialNumber), Revision: clean(req.Revision), Locale: clean(req.Locale)}, nil
}

// Render writes the answer for a decision to a request made inside;
// publicURL is the server's base URL.
func Render(d provisioning.Decision, publicURL string) []byte { return RenderAt(d, publicURL, false) }

// RenderAt writes the answer for a decision; an external request (to
// ExtUpdatePath) is pointed at the image under ExtFilesPath, the path its
// reverse proxy publishes.
func RenderAt(d provisioning.Decision, publicURL string, external bool) []byte {
	a := Answer{Status: "none", Reason: d.Reason}
	if d.Offer && d.FileName != "" {
		files := FilesPath
		if external {
			files = ExtFilesPath
		}
		a = Answer{Status: "update", Version: d.Version, URL: strings.TrimRight(publicURL, "/") + files + d.FileName, SHA256: d.SHA256, Size: d.Size}
	} else if a.Reason == "" {
		a.Reason = "the device runs the version it should"
	}
	out, _ := xml.MarshalIndent(a, "", "  ") // a struct of strings always marshals
	return append([]byte(xml.Header), append(out, '\n')...)
}

// Coverage says how Lync Phone Edition takes each IP phone policy setting:
// it reads no provisioning file, so each setting is enforced by a deskprov
// service or cannot be given to it by deskprov. The device takes client
// policy in-band from the server it signs in to (Microsoft's Lync Server
// 2010 device documentation); deskprov's sign-in does not send it.
var Coverage = []provisioning.Coverage{
	// Lync Phone Edition takes no file from deskprov, only update answers.
	{Setting: "Site.NTPServers", NotSupported: noFile, Ref: refUpdate},
	{Setting: "Site.TimeZone", NotSupported: noFile, Ref: refUpdate},
	{Setting: "Site.Language", NotSupported: noFile, Ref: refUpdate},
	{Setting: "Site.AdminPassword", NotSupported: noFile, Ref: refUpdate},
	{Setting: "CACerts", NotSupported: noFile, Ref: refUpdate},
	{Setting: "EnableDeviceUpdate", EnforcedBy: "ucdevice.upx update answers (firmware offers): status none while the effective policy has it off", Ref: refUpdate},
	{Setting: "LocalProvisioningServerAddress", EnforcedBy: "ucdevice.upx update answers (firmware offers): status none while the policy names another update authority", Ref: refUpdate},
	{Setting: "LocalProvisioningServerType", EnforcedBy: "ucdevice.upx update answers (firmware offers), with LocalProvisioningServerAddress", Ref: refUpdate},
	{Setting: "LocalProvisioningServerUser", NotSupported: notAFile + "; the device's update server comes from in-band provisioning or DNS (ucupdates-r2), never from a policy field", Ref: refUpdate},
	{Setting: "LocalProvisioningServerPassword", NotSupported: notAFile + "; the device's update server comes from in-band provisioning or DNS (ucupdates-r2), never from a policy field", Ref: refUpdate},
	{Setting: "EnablePhoneLock", EnforcedBy: "/oauth2/phonelock (phone-lock PIN API) and sign-in, where deskprov is the server the device signs in to"},
	{Setting: "PhoneLockTimeout", EnforcedBy: "/oauth2/phonelock (phone-lock PIN API)"},
	{Setting: "AllowCallsWhenLocked", EnforcedBy: "/oauth2/phonelock (phone-lock PIN API)"},
	{Setting: "MinPhonePinLength", EnforcedBy: "/oauth2/phonelock (phone-lock PIN API)"},
	{Setting: "KeyboardLockMaxPinRetry", EnforcedBy: "/oauth2/phonelock (phone-lock PIN API)"},
	{Setting: "EnableBetterTogetherOverEthernet", NotSupported: "Lync Phone Edition pairs with the PC over USB, not Ethernet (BToE)"},
	{Setting: "BetterTogetherOverEthernetPairingMode", NotSupported: "Lync Phone Edition pairs with the PC over USB, not Ethernet (BToE)"},
	{Setting: "UserDialTimeoutMS", NotSupported: inBand},
	{Setting: "PrioritizedCodecsList", NotSupported: inBand},
	{Setting: "EnablePowerSaveMode", NotSupported: inBand},
	{Setting: "PowerSaveDuringOfficeHoursTimeoutMS", NotSupported: inBand},
	{Setting: "PowerSavePostOfficeHoursTimeoutMS", NotSupported: inBand},
	{Setting: "EnableOneTouchVoicemail", NotSupported: inBand},
	{Setting: "DateTimeFormat", NotSupported: inBand},
	{Setting: "EnableExchangeCalendaring", NotSupported: inBand},
	{Setting: "SignInMode", NotSupported: inBand},
	{Setting: "AllowHomeScreen", NotSupported: inBand},
	{Setting: "AllowHotDesking", NotSupported: inBand},
	{Setting: "HotDeskingIdleTimeoutInMinutes", NotSupported: inBand},
}

const (
	notAFile = "Lync Phone Edition reads no provisioning file"
	inBand   = notAFile + "; it takes client policy in-band from the server it signs in to, which deskprov's sign-in does not send"
	// refUpdate is Microsoft's description of the process (not the fields).
	noFile    = "Lync Phone Edition reads no provisioning file from deskprov (it only asks ucdevice.upx for updates), so deskprov has nothing to write it in; the device keeps what DHCP and the Skype server give it"
	refUpdate = "Microsoft Lync Server 2010 documentation, \"Updating Devices\" and \"How Device Update Web service works\" (technet gg412864)"
)
