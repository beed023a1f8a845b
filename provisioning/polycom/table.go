package polycom

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deskprov/deskprov/provisioning"
)

// References cited beside the rows (read, never copied).
const (
	// refDeviceSet: Polycom's device-parameter table says device.* values
	// apply only with device.set="1"; wazo-provd writes it.
	refDeviceSet = "VENDORS.md \"Polycom device.set\"; wazo-platform/wazo-provd-plugins plugins/wazo_polycom/common/templates/base.tpl"
	// refProv: the provisioning-server and polling parameters.
	refProv = "VENDORS.md Polycom VVX (Polling; server location); fusionpbx/fusionpbx resources/templates/provision/polycom/5.x/{$mac}.cfg"
	// refSkype: names Poly's own generated Skype for Business templates use
	// (UC Software 5.6–5.9), as VENDORS.md records them.
	refSkype   = "VENDORS.md Polycom VVX, Skype for Business specifics (Poly's generated templates, UC Software 5.6–5.9)"
	refFusion5 = "fusionpbx/fusionpbx resources/templates/provision/polycom/5.x/{$mac}.cfg"
	// refCodecs: the UC Software 5.x+ spelling (G711_Mu, G729_AB, …).
	refCodecs   = "fusionpbx/fusionpbx resources/templates/provision/polycom/ccx500/{$mac}.cfg (CODEC_PRIORITY)"
	refILBC     = "fusionpbx/fusionpbx resources/templates/provision/polycom/650/sip.cfg (voice.codecPref)"
	refClock    = "fusionpbx/fusionpbx resources/templates/provision/polycom/650/sip.cfg (lcl.datetime.time.24HourClock)"
	refFeatures = "excaliburpartners/polycomphones provisioning/exten.php"
	refNTP      = "wazo-platform/wazo-provd-plugins plugins/wazo_polycom/common/templates/base.tpl (NTP settings); Polycom SoundPoint IP Administrator Guide, tcpIpApp.sntp attributes"
	refTZ       = "wazo-platform/wazo-provd-plugins plugins/wazo_polycom/common/common.py (_format_tzinfo); Polycom SoundPoint IP Administrator Guide, tcpIpApp.sntp.daylightSavings attributes (dayOfWeek 1=Sun … 7=Sat; date 1/8/15/22 = first … fourth occurrence)"
	refAdmin    = "wazo-platform/wazo-provd-plugins plugins/wazo_polycom/common/templates/base.tpl (written in the per-MAC <mac>-user.cfg, which the plugin treats as sensitive); fusionpbx/fusionpbx resources/templates/provision/polycom/5.x/{$mac}.cfg"
	refLang     = "wazo-platform/wazo-provd-plugins plugins/wazo_polycom/common/common.py (_LOCALE) and templates/base.tpl (lcl.ml.lang)"
	refCA       = "fusionpbx/fusionpbx resources/templates/provision/polycom/5.x/{$mac}.cfg (sec.TLS.customCaCert.N holding the PEM itself)"
)

// Table maps deskprov's inputs to Polycom parameters: the one place to
// correct a Polycom name. Rows render in this order; params adds the
// ".set" companion of every device.* row.
var Table = slices.Concat([]provisioning.Param{
	// device.* parameters apply only with device.set="1". deskprov owns the
	// phone, so it keeps it.
	{Name: "device.set", Value: provisioning.Const("1"), Ref: refDeviceSet},
	// Where the phone finds its provisioning server: deskprov, or the local
	// provisioning server the policy names, which then becomes the phone's
	// one provisioning and update authority (its master file names the
	// firmware, device update stays off).
	{Name: "device.prov.serverType", Settings: []string{"Server.PublicURL", "LocalProvisioningServerType"}, Ref: refProv, Value: func(in provisioning.Inputs) (string, bool) {
		if local(in) {
			switch t := strings.ToUpper(strings.TrimSpace(in.Policy.Settings.LocalProvisioningServerType)); t {
			case "HTTP", "HTTPS", "FTP":
				return t, true
			}
			return "FTP", true // the policy's default type
		}
		u, err := url.Parse(in.Server.PublicURL)
		if err != nil || u.Scheme == "" {
			return "", false
		}
		return strings.ToUpper(u.Scheme), true
	}},
	{Name: "device.prov.serverName", Settings: []string{"Server.PublicURL", "LocalProvisioningServerAddress"}, Ref: refProv, Value: func(in provisioning.Inputs) (string, bool) {
		if local(in) {
			return strings.TrimSpace(in.Policy.Settings.LocalProvisioningServerAddress), true
		}
		u, err := url.Parse(in.Server.ProvURL())
		if err != nil || u.Host == "" {
			return "", false
		}
		return u.Host + strings.TrimSuffix(u.Path, "/"), true
	}},
	// The phone's provisioning credentials: for deskprov, its own, in the
	// one answer that issues them (later files leave them out and the
	// phone keeps the stored device values); for a local provisioning
	// server, the policy's user and password, in every file.
	{Name: "device.prov.user", Settings: []string{"Credential", "LocalProvisioningServerUser"}, Ref: refProv, Value: func(in provisioning.Inputs) (string, bool) {
		if local(in) {
			return in.Policy.Settings.LocalProvisioningServerUser, true
		}
		return provisioning.CredentialUser(in)
	}},
	{Name: "device.prov.password", Settings: []string{"Credential", "LocalProvisioningServerPassword"}, Ref: refProv, Value: func(in provisioning.Inputs) (string, bool) {
		if local(in) {
			return in.Policy.Settings.LocalProvisioningServerPassword, true
		}
		return provisioning.CredentialPassword(in)
	}},
	// Firmware comes through the master file's APP_FILE_PATH; the upgrade
	// server is where the phone's own "software upgrade" looks. Under a
	// local provisioning server it is emptied: a device.* value would
	// otherwise keep pointing at deskprov.
	{Name: "device.prov.upgradeServer", Settings: []string{"Firmware", "LocalProvisioningServerAddress"}, Ref: refFusion5, Value: func(in provisioning.Inputs) (string, bool) {
		if local(in) {
			return "", true
		}
		if !in.Firmware.Offer {
			return "", false
		}
		return in.Server.ProvURL(), true
	}},
	// The phone's own Skype device update would be a second update
	// authority (SPEC §4), so it is off.
	{Name: "device.prov.lyncDeviceUpdateEnabled", Value: provisioning.Const("0"), Ref: refSkype},
	// Users choose when an upgrade from 5.4.x happens (SPEC §4).
	{Name: "lync.deviceUpdate.popUpSK.enabled", Settings: []string{"Firmware"}, Ref: refSkype, Value: func(in provisioning.Inputs) (string, bool) {
		if in.Device.Version != "" && provisioning.CompareVersions(in.Device.Version, "5.5.1") < 0 {
			return "1", true
		}
		return "", false
	}},
	// Polling: every interval plus a stable per-device offset (rel mode
	// wants a period above 3600 s).
	{Name: "prov.polling.enabled", Value: provisioning.Const("1"), Ref: refProv},
	{Name: "prov.polling.mode", Value: provisioning.Const("rel"), Ref: refProv},
	{Name: "prov.polling.period", Settings: []string{"Server.PollInterval"}, Ref: refProv, Value: func(in provisioning.Inputs) (string, bool) {
		p := int((in.Server.Interval() + in.Server.PollOffset(in.Device.MAC)).Seconds())
		if p <= 3600 {
			p = 3601 + int(in.Server.PollOffset(in.Device.MAC).Seconds())
		}
		return strconv.Itoa(p), true
	}},
	// Skype Device Lock (what the policy calls phone lock) and the open-SIP
	// phone lock, both from the policy. The PIN length, retries and calls
	// while locked come from the Skype server in-band: deskprov's
	// /oauth2/phonelock (Coverage).
	{Name: "feature.deviceLock.enable", Settings: []string{"EnablePhoneLock"}, Ref: refSkype, Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnablePhoneLock })},
	{Name: "phoneLock.enabled", Settings: []string{"EnablePhoneLock"}, Ref: refSkype, Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnablePhoneLock })},
	{Name: "phoneLock.idleTimeout", Settings: []string{"PhoneLockTimeout"}, Ref: refSkype, Value: provisioning.Int(func(in provisioning.Inputs) int { return provisioning.Seconds(in.Policy.Settings.PhoneLockTimeout) })},
	// BToE.
	{Name: "feature.btoe.enabled", Settings: []string{"EnableBetterTogetherOverEthernet"}, Ref: refSkype, Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnableBetterTogetherOverEthernet })},
	{Name: "btoe.pairingMode", Settings: []string{"BetterTogetherOverEthernetPairingMode"}, Ref: refSkype, Value: func(in provisioning.Inputs) (string, bool) {
		if in.Policy.Settings.BetterTogetherOverEthernetPairingMode == "Manual" {
			return "Manual", true
		}
		return "Auto", true
	}},
	{Name: "homeScreen.BToE.enable", Settings: []string{"EnableBetterTogetherOverEthernet"}, Ref: refSkype, Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnableBetterTogetherOverEthernet })},
	// Clock.
	{Name: "lcl.datetime.time.24HourClock", Settings: []string{"DateTimeFormat"}, Ref: refClock, Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.DateTimeFormat != "12" })},
}, codecRows(), []provisioning.Param{
	// Power saving: idle timeouts in minutes (office hours 1–600, off
	// hours 1–10 in Poly's guides).
	{Name: "powerSaving.enable", Settings: []string{"EnablePowerSaveMode"}, Ref: refFeatures, Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnablePowerSaveMode })},
	{Name: "powerSaving.idleTimeout.officeHours", Settings: []string{"PowerSaveDuringOfficeHoursTimeoutMS"}, Ref: refFeatures, Value: provisioning.Int(func(in provisioning.Inputs) int {
		return min(minutes(in.Policy.Settings.PowerSaveDuringOfficeHoursTimeoutMS), 600)
	})},
	{Name: "powerSaving.idleTimeout.offHours", Settings: []string{"PowerSavePostOfficeHoursTimeoutMS"}, Ref: refFeatures, Value: provisioning.Int(func(in provisioning.Inputs) int {
		return min(minutes(in.Policy.Settings.PowerSavePostOfficeHoursTimeoutMS), 10)
	})},
	// The inter-digit timeout, in seconds, one per segment of the digit
	// map, written like the references' "3|3|3|3|3|3|3|3".
	{Name: "dialplan.digitmap.timeOut", Settings: []string{"UserDialTimeoutMS"}, Ref: refFusion5 + "; " + refFeatures, Value: func(in provisioning.Inputs) (string, bool) {
		s := strconv.Itoa(seconds(in.Policy.Settings.UserDialTimeoutMS))
		return strings.Repeat(s+"|", 7) + s, true
	}},
	// Web sign-in is offered; the phone learns the address from the sign-in
	// exchange itself (deskprov's /devicelogin, docs/signin.md).
	{Name: "feature.webSignIn.enabled", Value: provisioning.Const("1"), Ref: refSkype},
	{Name: "up.oneTouchVoiceMail", Settings: []string{"EnableOneTouchVoicemail"}, Ref: refFusion5, Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnableOneTouchVoicemail })},
	{Name: "feature.exchangeCalendar.enabled", Settings: []string{"EnableExchangeCalendaring"}, Ref: refFeatures, Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnableExchangeCalendaring })},
	// Time: one SNTP server (the first of the site's), the standard offset
	// in seconds and the daylight-saving rule as month, occurrence of a
	// weekday and hour, overriding what DHCP says.
	{Name: "tcpIpApp.sntp.address", Settings: []string{"Site.NTPServers"}, Ref: refNTP, Value: func(in provisioning.Inputs) (string, bool) {
		if len(in.Site.NTPServers) == 0 {
			return "", false
		}
		return in.Site.NTPServers[0], true
	}},
	{Name: "tcpIpApp.sntp.address.overrideDHCP", Settings: []string{"Site.NTPServers"}, Ref: refNTP, Value: func(in provisioning.Inputs) (string, bool) {
		return "1", len(in.Site.NTPServers) > 0
	}},
	{Name: "tcpIpApp.sntp.gmtOffset", Settings: []string{"Site.TimeZone"}, Ref: refTZ, Value: func(in provisioning.Inputs) (string, bool) {
		z, ok := zone(in)
		return strconv.Itoa(z.StdOffset), ok
	}},
	{Name: "tcpIpApp.sntp.gmtOffset.overrideDHCP", Settings: []string{"Site.TimeZone"}, Ref: refFusion5, Value: func(in provisioning.Inputs) (string, bool) {
		_, ok := zone(in)
		return "1", ok
	}},
	{Name: "tcpIpApp.sntp.daylightSavings.enable", Settings: []string{"Site.TimeZone"}, Ref: refTZ, Value: func(in provisioning.Inputs) (string, bool) {
		z, ok := zone(in)
		if z.DST {
			return "1", ok
		}
		return "0", ok
	}},
	{Name: "tcpIpApp.sntp.daylightSavings.fixedDayEnable", Settings: []string{"Site.TimeZone"}, Ref: refTZ, Value: dst(func(time.Time) string { return "0" })},
}, dstRows())

// local is true when the policy names a local provisioning server.
func local(in provisioning.Inputs) bool {
	return strings.TrimSpace(in.Policy.Settings.LocalProvisioningServerAddress) != ""
}

// zone reads the site's time zone for this year; ok is false for a name
// the zone database does not know (the phone keeps its own). Working a
// zone's rules out takes a search, and a file asks for them in a dozen rows,
// so they are kept per zone and year.
func zone(in provisioning.Inputs) (provisioning.Zone, bool) {
	key := zoneKey{in.Site.TimeZone, time.Now().Year()}
	if z, ok := zones.Load(key); ok {
		zr := z.(zoneRules)
		return zr.z, zr.ok
	}
	z, err := provisioning.LoadZone(key.name, key.year)
	if zoneCount.Add(1) <= maxZones {
		zones.Store(key, zoneRules{z, err == nil})
	}
	return z, err == nil
}

type (
	zoneKey struct {
		name string
		year int
	}
	zoneRules struct {
		z  provisioning.Zone
		ok bool
	}
)

// maxZones bounds the kept zone rules (names are admin input).
const maxZones = 1024

var (
	zones     sync.Map
	zoneCount atomic.Int64
)

// dst renders one daylight-saving value from the change time, only for
// zones that keep daylight saving time.
func dst(f func(time.Time) string) func(provisioning.Inputs) (string, bool) {
	return func(in provisioning.Inputs) (string, bool) {
		z, ok := zone(in)
		if !ok || !z.DST {
			return "", false
		}
		return f(z.Start), true
	}
}

// dstRows are the start and stop rules: "the Nth (or last) weekday of a
// month at an hour" is what every zone that keeps DST uses today.
func dstRows() []provisioning.Param {
	var rows []provisioning.Param
	for _, edge := range []string{"start", "stop"} {
		at := func(z provisioning.Zone) time.Time {
			if edge == "start" {
				return z.Start
			}
			return z.End
		}
		value := func(f func(time.Time) string) func(provisioning.Inputs) (string, bool) {
			return func(in provisioning.Inputs) (string, bool) {
				z, ok := zone(in)
				if !ok || !z.DST {
					return "", false
				}
				return f(at(z)), true
			}
		}
		p := "tcpIpApp.sntp.daylightSavings." + edge + "."
		rows = append(rows,
			provisioning.Param{Name: p + "month", Settings: []string{"Site.TimeZone"}, Ref: refTZ, Value: value(func(t time.Time) string { return strconv.Itoa(int(t.Month())) })},
			// The occurrence (1, 8, 15, 22: first to fourth); the phone
			// ignores it for the last one, and so it is left out, as the
			// day it falls on changes from year to year.
			provisioning.Param{Name: p + "date", Settings: []string{"Site.TimeZone"}, Ref: refTZ, Value: func(in provisioning.Inputs) (string, bool) {
				z, ok := zone(in)
				if !ok || !z.DST || lastInMonth(at(z)) {
					return "", false
				}
				return strconv.Itoa((at(z).Day()-1)/7*7 + 1), true
			}},
			provisioning.Param{Name: p + "time", Settings: []string{"Site.TimeZone"}, Ref: refTZ, Value: value(func(t time.Time) string { return strconv.Itoa(t.Hour()) })},
			provisioning.Param{Name: p + "dayOfWeek", Settings: []string{"Site.TimeZone"}, Ref: refTZ, Value: value(func(t time.Time) string { return strconv.Itoa(int(t.Weekday()) + 1) })},
			provisioning.Param{Name: p + "dayOfWeek.lastInMonth", Settings: []string{"Site.TimeZone"}, Ref: refTZ, Value: value(func(t time.Time) string {
				if lastInMonth(t) {
					return "1"
				}
				return "0"
			})},
		)
	}
	rows = append(rows,
		// The organisation's CA certificates, the PEM itself in each slot.
		caRow(1), caRow(2), caRow(3), caRow(4), caRow(5),
		// The local admin password: only in a file the phone must
		// authenticate for (Inputs.Private), never in a shared
		// one; the config file is per MAC.
		provisioning.Param{Name: "device.auth.localAdminPassword", Settings: []string{"Site.AdminPassword"}, Ref: refAdmin, Value: func(in provisioning.Inputs) (string, bool) {
			return in.Site.AdminPassword, in.Site.AdminPassword != "" && in.Private
		}},
		provisioning.Param{Name: "lcl.ml.lang", Settings: []string{"Site.Language"}, Ref: refLang, Value: func(in provisioning.Inputs) (string, bool) {
			l, ok := Language(in.Site.Language)
			return l, ok
		}},
	)
	return rows
}

// lastInMonth: no later same weekday in t's month. Every zone rule that
// falls there today is a "last weekday of the month" rule.
func lastInMonth(t time.Time) bool { return t.AddDate(0, 0, 7).Month() != t.Month() }

// MaxCACerts is how many CA certificates a Polycom file carries (slots
// sec.TLS.customCaCert.1 to .5).
const MaxCACerts = 5

func caRow(n int) provisioning.Param {
	return provisioning.Param{Name: "sec.TLS.customCaCert." + strconv.Itoa(n), Settings: []string{"CACerts"}, Ref: refCA, Value: func(in provisioning.Inputs) (string, bool) {
		if n > len(in.CACerts) {
			return "", false
		}
		return in.CACerts[n-1].PEM, true
	}}
}

// languages are Polycom's lcl.ml.lang names for the languages the
// references confirm, by BCP 47 tag and by language alone.
var languages = map[string]string{
	"de-de": "German_Germany", "de": "German_Germany",
	"en-us": "English_United_States", "en": "English_United_States",
	"es-es": "Spanish_Spain", "es": "Spanish_Spain",
	"fr-fr": "French_France", "fr": "French_France",
	"it-it": "Italian_Italy", "it": "Italian_Italy",
	"nl-nl": "Dutch_Netherlands", "nl": "Dutch_Netherlands",
}

// Language is Polycom's name for a BCP 47 tag; ok is false for a language
// the references give no name for (the phone keeps its own).
func Language(tag string) (string, bool) {
	t := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(tag), "_", "-"))
	if l, ok := languages[t]; ok {
		return l, true
	}
	if i := strings.IndexByte(t, '-'); i > 0 {
		l, ok := languages[t[:i]]
		return l, ok
	}
	return "", false
}

// polycomCodecs are Polycom's voice.codecPref names for the policy's
// canonical codecs (policy.Codecs); SILK has none in the references and is
// skipped. G.722.1 is written at 32 kbit/s, iLBC in its 30 ms mode.
var polycomCodecs = []struct{ canonical, name, ref string }{
	{"G722_8000", "G722", refCodecs},
	{"PCMU", "G711_Mu", refCodecs},
	{"PCMA", "G711_A", refCodecs},
	{"G729", "G729_AB", refCodecs},
	{"G722_1", "G7221.32kbps", refCodecs},
	{"OPUS", "Opus", refCodecs},
	{"ILBC", "iLBC.13_33kbps", refILBC},
}

// codecRows give each codec Polycom has its place among the policy's codecs
// that Polycom has (1 first), 0 for off.
func codecRows() []provisioning.Param {
	rows := make([]provisioning.Param, 0, len(polycomCodecs))
	for _, c := range polycomCodecs {
		rows = append(rows, provisioning.Param{Name: "voice.codecPref." + c.name, Settings: []string{"PrioritizedCodecsList"}, Ref: c.ref, Value: func(in provisioning.Inputs) (string, bool) {
			return strconv.Itoa(codecRank(in, c.canonical)), true
		}})
	}
	return rows
}

func codecRank(in provisioning.Inputs, canonical string) int {
	rank := 0
	for _, c := range provisioning.Codecs(in.Policy.Settings.PrioritizedCodecsList) {
		for _, p := range polycomCodecs {
			if p.canonical == c {
				rank++
				if c == canonical {
					return rank
				}
			}
		}
	}
	return 0
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

// phoneLockAPI is the deskprov service Polycom's Skype Device Lock takes its
// PIN rules from: the firmware reads them from the Skype server in-band, not
// from a file, and deskprov is that server.
const phoneLockAPI = "/oauth2/phonelock (phone-lock PIN API): Polycom's Skype Device Lock takes it in-band from the Skype server, which deskprov is; no file parameter is written for it"

const refInBand = "VENDORS.md, Confirmed in the December review: lock settings on Skype firmware (Polycom's device lock) come from the Skype server's in-band policy"

const refSearched = "searched: Poly's Skype templates as VENDORS.md records them, wazo-platform/wazo-provd-plugins plugins/wazo_polycom, fusionpbx/fusionpbx resources/templates/provision/polycom, excaliburpartners/polycomphones"

// Coverage says how this family handles each policy setting no confirmed
// row of Table carries.
var Coverage = []provisioning.Coverage{
	{Setting: "EnableDeviceUpdate", EnforcedBy: "firmware offers: the master file names an image (APP_FILE_PATH) only when the policy allows device update (docs/firmware.md); the phone's own Skype device update is off (device.prov.lyncDeviceUpdateEnabled=0)", Ref: refSkype},
	{Setting: "AllowCallsWhenLocked", EnforcedBy: phoneLockAPI + " (phoneLock.Allow.AnswerOnLock, answering while locked, is a different feature and is not written)", Ref: refInBand},
	{Setting: "MinPhonePinLength", EnforcedBy: phoneLockAPI, Ref: refInBand},
	{Setting: "KeyboardLockMaxPinRetry", EnforcedBy: phoneLockAPI, Ref: refInBand},
	{Setting: "SignInMode", NotSupported: "no Polycom file parameter selects user, common-area or meeting sign-in: the mode follows the account that signs in on the phone", Ref: refSearched},
	{Setting: "AllowHomeScreen", NotSupported: "no Polycom file parameter turns the Skype home screen on or off as a whole (homeScreen.<feature>.enable hides single icons only)", Ref: refSearched},
	{Setting: "AllowHotDesking", NotSupported: "no Polycom file parameter for Skype for Business hot desking is in the references", Ref: refSearched},
	{Setting: "HotDeskingIdleTimeoutInMinutes", NotSupported: "no Polycom file parameter for Skype for Business hot desking is in the references", Ref: refSearched},
}
