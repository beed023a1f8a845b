package polycom

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/deskprov/deskprov/provisioning"
)

// Table maps deskprov's inputs to Polycom parameters: the one place to
// correct a Polycom name. Rows render in this order.
var Table = []provisioning.Param{
	// device.* parameters apply only with device.set="1" (Polycom's
	// device-parameter table; wazo-provd plugins/wazo_polycom/common/
	// templates/base.tpl writes it). deskprov owns the phone, so it keeps it.
	{Name: "device.set", Value: provisioning.Const("1")},
	// Where the phone finds this server. serverName is host[:port]/path.
	{Name: "device.prov.serverType", Value: func(in provisioning.Inputs) (string, bool) {
		u, err := url.Parse(in.Server.PublicURL)
		if err != nil || u.Scheme == "" {
			return "", false
		}
		return strings.ToUpper(u.Scheme), true
	}},
	{Name: "device.prov.serverName", Value: func(in provisioning.Inputs) (string, bool) {
		u, err := url.Parse(in.Server.ProvURL())
		if err != nil || u.Host == "" {
			return "", false
		}
		return u.Host + strings.TrimSuffix(u.Path, "/"), true
	}},
	// The phone's own provisioning credentials, in the one answer that
	// issues them (Inputs.Credential); later files leave them out and the
	// phone keeps the stored device settings: a device.* parameter is
	// written only with its .set="1". Names: VENDORS.md (Polycom server
	// location), Poly's own configuration export, which lists
	// device.prov.password and device.prov.password.set, and public Polycom
	// templates writing device.prov.user.set / device.prov.user.
	{Name: "device.prov.user", Value: provisioning.CredentialUser},
	{Name: "device.prov.password", Value: provisioning.CredentialPassword},
	// Firmware comes through the master file's APP_FILE_PATH from this
	// server; the phone's own Skype device update would be a second update
	// authority (SPEC §4), so it is off.
	{Name: "device.prov.upgradeServer", Value: func(in provisioning.Inputs) (string, bool) {
		if !in.Firmware.Offer {
			return "", false
		}
		return in.Server.ProvURL(), true
	}},
	{Name: "device.prov.lyncDeviceUpdateEnabled", Value: provisioning.Const("0")},
	// Users choose when an upgrade from 5.4.x happens (SPEC §4).
	{Name: "lync.deviceUpdate.popUpSK.enabled", Value: func(in provisioning.Inputs) (string, bool) {
		if in.Device.Version != "" && provisioning.CompareVersions(in.Device.Version, "5.5.1") < 0 {
			return "1", true
		}
		return "", false
	}},
	// Polling: every interval plus a stable per-device offset (rel mode
	// wants a period above 3600 s).
	{Name: "prov.polling.enabled", Value: provisioning.Const("1")},
	{Name: "prov.polling.mode", Value: provisioning.Const("rel")},
	{Name: "prov.polling.period", Value: func(in provisioning.Inputs) (string, bool) {
		p := int((in.Server.Interval() + in.Server.PollOffset(in.Device.MAC)).Seconds())
		if p <= 3600 {
			p = 3601 + int(in.Server.PollOffset(in.Device.MAC).Seconds())
		}
		return strconv.Itoa(p), true
	}},
	// Skype Device Lock (what the policy calls phone lock) and the open-SIP
	// phone lock, both from the policy.
	{Name: "feature.deviceLock.enable", Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnablePhoneLock })},
	{Name: "phoneLock.enabled", Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnablePhoneLock })},
	{Name: "phoneLock.idleTimeout", Value: provisioning.Int(func(in provisioning.Inputs) int { return provisioning.Seconds(in.Policy.Settings.PhoneLockTimeout) })},
	{Name: "phoneLock.Allow.AnswerOnLock", Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.AllowCallsWhenLocked })},
	// BToE.
	{Name: "feature.btoe.enabled", Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnableBetterTogetherOverEthernet })},
	{Name: "btoe.pairingMode", Value: func(in provisioning.Inputs) (string, bool) {
		if in.Policy.Settings.BetterTogetherOverEthernetPairingMode == "Manual" {
			return "Manual", true
		}
		return "Auto", true
	}},
	{Name: "homeScreen.BToE.enable", Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnableBetterTogetherOverEthernet })},
	// Clock, codecs, power save, dial timeout.
	{Name: "lcl.datetime.time.24HourClock", Unconfirmed: true, Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.DateTimeFormat != "12" })},
	{Name: "voice.codecPref.G722", Unconfirmed: true, Value: codec("G722_8000")},
	{Name: "voice.codecPref.G711_Mu", Unconfirmed: true, Value: codec("PCMU")},
	{Name: "voice.codecPref.G711_A", Unconfirmed: true, Value: codec("PCMA")},
	{Name: "voice.codecPref.G729_AB", Unconfirmed: true, Value: codec("G729")},
	{Name: "powerSaving.enable", Unconfirmed: true, Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnablePowerSaveMode })},
	{Name: "powerSaving.idleTimeout.officeHours", Unconfirmed: true, Value: provisioning.Int(func(in provisioning.Inputs) int {
		return minutes(in.Policy.Settings.PowerSaveDuringOfficeHoursTimeoutMS)
	})},
	{Name: "powerSaving.idleTimeout.offHours", Unconfirmed: true, Value: provisioning.Int(func(in provisioning.Inputs) int { return minutes(in.Policy.Settings.PowerSavePostOfficeHoursTimeoutMS) })},
	{Name: "dialplan.digitmap.timeOut", Unconfirmed: true, Value: provisioning.Int(func(in provisioning.Inputs) int { return seconds(in.Policy.Settings.UserDialTimeoutMS) })},
	// Web sign-in.
	{Name: "feature.webSignIn.enabled", Value: provisioning.Const("1")},
	{Name: "lync.webSignIn.url", Unconfirmed: true, Value: func(in provisioning.Inputs) (string, bool) { return in.Server.WebSignInURL(), true }},
}

func codec(name string) func(provisioning.Inputs) (string, bool) {
	return func(in provisioning.Inputs) (string, bool) {
		return strconv.Itoa(provisioning.CodecRank(in, name)), true
	}
}

// minutes rounds milliseconds up to whole minutes (at least 1).
func minutes(ms int) int {
	m := (ms + 59999) / 60000
	if m < 1 {
		m = 1
	}
	return m
}

// seconds rounds milliseconds up to whole seconds (at least 1).
func seconds(ms int) int {
	s := (ms + 999) / 1000
	if s < 1 {
		s = 1
	}
	return s
}

// Coverage says how this family handles each policy setting no row of Table
// carries.
var Coverage = []provisioning.Coverage{}
