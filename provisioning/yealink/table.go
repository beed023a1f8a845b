package yealink

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/deskprov/deskprov/provisioning"
)

// References the rows cite (read, never copied). wazo-provd's plugins are
// public templates for every Yealink firmware line; Yealink's own guides are
// cited by title and section.
const (
	wazo       = "wazo-platform/wazo-provd-plugins "
	wazoV80    = wazo + "plugins/wazo_yealink/v80/templates/base.tpl"
	wazoV87    = wazo + "plugins/wazo_yealink/v87/templates/base.tpl"
	wazoCommon = wazo + "plugins/wazo_yealink/common/common.py"
	guideDST   = "Yealink Administrator's Guide for SIP-T2/T4/T5 Series IP Phones, Daylight Saving Time (local_time.dst_time_type, start_time: Month/Week of Month/Day of Week/Hour, 1=Monday … 7=Sunday, 5=last week)"
	guidePower = "Yealink User Guide for T4 Series IP Phones, Configuring the Idle Timeout (minutes: office hours 1–960, off hours 1–10)"
	codecs     = wazoV87 + " (account.N.codec.<name>.enable) and jaysamthanki/yealinkphones provisioning/config.php (account.N.codec.<name>.priority)"
)

// Table maps deskprov's inputs to Yealink parameters: the one place to
// correct a Yealink name. Names carry "static." where current firmware wants
// it; Render drops the prefix for the lines Lines marks (v7x/v80). A row
// whose value is "" is written %NULL%, Yealink's empty value, so that a
// withdrawn value is cleared on the phone rather than kept.
var Table = []provisioning.Param{
	// The update authority: deskprov, or the local provisioning server the
	// policy names (then the phone polls that server for its files and
	// firmware, and deskprov offers it nothing: firmware.decide).
	{Name: "static.auto_provision.server.url", Settings: []string{"Server.PublicURL", "LocalProvisioningServerAddress", "LocalProvisioningServerType"}, Ref: wazoV87,
		Value: func(in provisioning.Inputs) (string, bool) {
			if u := localServerURL(in); u != "" {
				return u, true
			}
			return in.Server.ProvURL(), true
		}},
	// The phone's own provisioning credentials, only in the answer that
	// issues them (Inputs.Credential); a later file without the rows leaves
	// the phone with the stored values. With a local provisioning server,
	// its user and password instead, only in the phone's authenticated file
	// (Render keeps them out of the shared common file).
	{Name: "static.auto_provision.server.username", Settings: []string{"Credential", "LocalProvisioningServerUser"}, Ref: wazoV87 + " (Autop URL)",
		Value: func(in provisioning.Inputs) (string, bool) {
			if localServerURL(in) != "" {
				return in.Policy.Settings.LocalProvisioningServerUser, in.Device.MAC != ""
			}
			return provisioning.CredentialUser(in)
		}},
	{Name: "static.auto_provision.server.password", Settings: []string{"Credential", "LocalProvisioningServerPassword"}, Ref: wazoV87 + " (Autop URL)",
		Value: func(in provisioning.Inputs) (string, bool) {
			if localServerURL(in) != "" {
				return in.Policy.Settings.LocalProvisioningServerPassword, in.Device.MAC != ""
			}
			return provisioning.CredentialPassword(in)
		}},
	{Name: "static.auto_provision.repeat.enable", Settings: []string{"Server.PollInterval"}, Ref: wazoV87 + " (Autop Repeat)", Value: provisioning.Const("1")},
	// The interval in minutes plus a stable per-device offset, in 1–43200.
	{Name: "static.auto_provision.repeat.minutes", Settings: []string{"Server.PollInterval"}, Ref: wazoV87 + " (Autop Repeat)", Value: func(in provisioning.Inputs) (string, bool) {
		base := int(in.Server.Interval().Minutes())
		m := base + int(in.Server.PollOffset(in.Device.MAC).Seconds())%max(base/10, 1)
		return strconv.Itoa(min(max(m, 1), 43200)), true
	}},
	// Always written: with nothing offered (no offer, a restore, a loop
	// flag, EnableDeviceUpdate off, a local provisioning server) it is
	// %NULL%, which clears the URL the phone stored; a dropped row would
	// leave the phone fetching a withdrawn image (VENDORS.md, Yealink
	// withdrawal).
	{Name: "static.firmware.url", Settings: []string{"Firmware", "EnableDeviceUpdate"}, Ref: wazoV87 + "; empty value %NULL% as in " + wazoV80,
		Value: func(in provisioning.Inputs) (string, bool) {
			u, _ := provisioning.FirmwareURL(in)
			return u, true
		}},
	// The open-SIP phone lock. Skype firmware takes its lock from the
	// server in-band, which deskprov's /oauth2/phonelock API answers
	// (Coverage).
	{Name: "phone_setting.phone_lock.enable", Settings: []string{"EnablePhoneLock"}, Ref: wazoV87 + " (Phone Lock)",
		Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnablePhoneLock })},
	{Name: "phone_setting.phone_lock.lock_time_out", Settings: []string{"PhoneLockTimeout"}, Ref: wazoV87 + " (Phone Lock)",
		Value: provisioning.Int(func(in provisioning.Inputs) int { return provisioning.Seconds(in.Policy.Settings.PhoneLockTimeout) })},
	// Clock: 0 = 12-hour, 1 = 24-hour.
	{Name: "local_time.time_format", Settings: []string{"DateTimeFormat"}, Ref: wazoV87 + " (Time&Date)",
		Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.DateTimeFormat != "12" })},
	// Codecs: every codec deskprov can name and Yealink has is enabled or
	// disabled, ranked in the policy's order; SILK, which Yealink lacks, is
	// skipped and the rest kept.
	codecEnable("g722", "G722_8000"), codecPriority("g722", "G722_8000"),
	codecEnable("pcmu", "PCMU"), codecPriority("pcmu", "PCMU"),
	codecEnable("pcma", "PCMA"), codecPriority("pcma", "PCMA"),
	codecEnable("g729", "G729"), codecPriority("g729", "G729"),
	codecEnable("g722_1_24kpbs", "G722_1"), codecPriority("g722_1_24kpbs", "G722_1"),
	codecEnable("opus", "OPUS"), codecPriority("opus", "OPUS"),
	codecEnable("ilbc", "ILBC"), codecPriority("ilbc", "ILBC"),
	// Power saving, timeouts in whole minutes within the ranges the phone
	// takes (office hours 1–960, off hours 1–10).
	{Name: "features.power_saving.enable", Settings: []string{"EnablePowerSaveMode"}, Ref: wazoV87 + "; " + guidePower,
		Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnablePowerSaveMode })},
	{Name: "features.power_saving.office_hour.idle_timeout", Settings: []string{"PowerSaveDuringOfficeHoursTimeoutMS"}, Ref: wazoV87 + "; " + guidePower,
		Value: provisioning.Int(func(in provisioning.Inputs) int {
			return min(max((in.Policy.Settings.PowerSaveDuringOfficeHoursTimeoutMS+59999)/60000, 1), 960)
		})},
	{Name: "features.power_saving.off_hour.idle_timeout", Settings: []string{"PowerSavePostOfficeHoursTimeoutMS"}, Ref: wazoV87 + "; " + guidePower,
		Value: provisioning.Int(func(in provisioning.Inputs) int {
			return min(max((in.Policy.Settings.PowerSavePostOfficeHoursTimeoutMS+59999)/60000, 1), 10)
		})},
	// Seconds the phone waits after the last digit before dialling.
	{Name: "phone_setting.inter_digit_time", Settings: []string{"UserDialTimeoutMS"}, Ref: wazoV87,
		Value: provisioning.Int(func(in provisioning.Inputs) int { return max((in.Policy.Settings.UserDialTimeoutMS+999)/1000, 1) })},
	// Time: NTP servers, the standard offset and this year's daylight
	// saving rule worked out from the IANA zone (provisioning.LoadZone), in
	// the form wazo-provd writes (+H[:MM], DST by week).
	{Name: "local_time.ntp_server1", Settings: []string{"Site.NTPServers"}, Ref: wazoV87, Value: ntp(0)},
	{Name: "local_time.ntp_server2", Settings: []string{"Site.NTPServers"}, Ref: wazoV87 + " (Time&Date)", Value: ntp(1)},
	{Name: "local_time.time_zone", Settings: []string{"Site.TimeZone"}, Ref: wazoCommon + " (_format_tz_info)",
		Value: zoneValue(func(z provisioning.Zone) string { return offset(z.StdOffset) })},
	{Name: "local_time.summer_time", Settings: []string{"Site.TimeZone"}, Ref: wazoCommon + " (_format_tz_info: 0 none, 1 the rule given)",
		Value: zoneValue(func(z provisioning.Zone) string {
			if z.DST {
				return "1"
			}
			return "0"
		})},
	{Name: "local_time.dst_time_type", Settings: []string{"Site.TimeZone"}, Ref: guideDST,
		Value: zoneValue(func(z provisioning.Zone) string {
			if z.DST {
				return "1"
			}
			return ""
		})},
	{Name: "local_time.start_time", Settings: []string{"Site.TimeZone"}, Ref: guideDST,
		Value: zoneValue(func(z provisioning.Zone) string { return byWeek(z, z.Start) })},
	{Name: "local_time.end_time", Settings: []string{"Site.TimeZone"}, Ref: guideDST,
		Value: zoneValue(func(z provisioning.Zone) string { return byWeek(z, z.End) })},
	{Name: "local_time.offset_time", Settings: []string{"Site.TimeZone"}, Ref: guideDST + "; minutes",
		Value: zoneValue(func(z provisioning.Zone) string {
			if !z.DST {
				return ""
			}
			return strconv.Itoa((z.DSTOffset - z.StdOffset) / 60)
		})},
	// Language of the phone's screen and of its web pages, in Yealink's
	// names; a language Yealink is not known to have leaves the phone's own.
	{Name: "lang.gui", Settings: []string{"Site.Language"}, Ref: wazoV87 + " and " + wazoCommon + " (_LOCALE)", Value: language},
	{Name: "lang.wui", Settings: []string{"Site.Language"}, Ref: wazoV87 + " and " + wazoCommon + " (_LOCALE)", Value: language},
	// The organisation's CA, which the phone downloads from deskprov (one
	// file: Yealink takes one URL).
	{Name: "static.trusted_certificates.url", Settings: []string{"CACerts"}, Ref: wazoV87 + " (Trusted Certificates)",
		Value: func(in provisioning.Inputs) (string, bool) {
			for _, c := range in.CACerts {
				if c.FileName != "" {
					return in.Server.ProvURL() + c.FileName, true
				}
			}
			return "", false
		}},
	// The local admin password, only in the phone's own authenticated file
	// (Render keeps it out of the shared common file).
	{Name: "static.security.user_password", Settings: []string{"Site.AdminPassword"}, Ref: wazoV87 + " (user:password, admin account)",
		Value: func(in provisioning.Inputs) (string, bool) {
			pw := in.Site.AdminPassword
			if pw == "" || isNull(pw) || in.Device.MAC == "" {
				return "", false
			}
			return "admin:" + pw, true
		}},
}

// perPhone are the rows that carry a secret: Render writes them only in the
// phone's own authenticated file (<mac>.cfg), never in the shared common file.
var perPhone = map[string]bool{
	"static.auto_provision.server.username": true,
	"static.auto_provision.server.password": true,
	"static.security.user_password":         true,
}

// localServerURL is the local provisioning server the policy names, as a
// URL with the scheme of LocalProvisioningServerType; "" when none.
func localServerURL(in provisioning.Inputs) string {
	addr := strings.TrimSpace(in.Policy.Settings.LocalProvisioningServerAddress)
	if addr == "" {
		return ""
	}
	if !strings.Contains(addr, "://") {
		scheme := strings.ToLower(strings.TrimSpace(in.Policy.Settings.LocalProvisioningServerType))
		if scheme != "http" && scheme != "https" && scheme != "ftp" {
			scheme = "ftp" // the policy's default type
		}
		addr = scheme + "://" + addr
	}
	if !strings.HasSuffix(addr, "/") {
		addr += "/"
	}
	return addr
}

func codecEnable(name, codec string) provisioning.Param {
	return provisioning.Param{Name: "account.1.codec." + name + ".enable", Settings: []string{"PrioritizedCodecsList"}, Ref: codecs,
		Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return provisioning.CodecRank(in, codec) > 0 })}
}

// codecPriority ranks the codec among those this family has (1 first), so
// a skipped codec leaves no gap; a codec the policy leaves out is disabled
// by its enable row and gets no priority.
func codecPriority(name, codec string) provisioning.Param {
	return provisioning.Param{Name: "account.1.codec." + name + ".priority", Settings: []string{"PrioritizedCodecsList"}, Ref: codecs,
		Value: func(in provisioning.Inputs) (string, bool) {
			r := 0
			for _, c := range provisioning.Codecs(in.Policy.Settings.PrioritizedCodecsList) {
				if _, ok := codecNames[c]; ok {
					r++
				}
				if c == codec {
					return strconv.Itoa(r), true
				}
			}
			return "", false
		}}
}

// codecNames are the canonical codecs (policy.Codecs) Yealink has, with
// Yealink's names; SILK is not among them.
var codecNames = map[string]string{
	"G722_8000": "g722", "PCMU": "pcmu", "PCMA": "pcma", "G729": "g729",
	"G722_1": "g722_1_24kpbs", "OPUS": "opus", "ILBC": "ilbc",
}

func ntp(i int) func(provisioning.Inputs) (string, bool) {
	return func(in provisioning.Inputs) (string, bool) {
		if i < len(in.Site.NTPServers) {
			return in.Site.NTPServers[i], true
		}
		return "", true
	}
}

// zoneValue renders a time row from the site's zone; a zone that cannot be
// read (sites refuse them, so only a stale one) leaves the row out.
func zoneValue(f func(provisioning.Zone) string) func(provisioning.Inputs) (string, bool) {
	return func(in provisioning.Inputs) (string, bool) {
		name := in.Site.TimeZone
		if name == "" {
			name = provisioning.DefaultTimeZone
		}
		z, err := provisioning.LoadZone(name, time.Now().Year())
		if err != nil {
			return "", false
		}
		return f(z), true
	}
}

// offset writes seconds east of UTC as Yealink's +H or +H:MM.
func offset(sec int) string {
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	h, m := sec/3600, sec%3600/60
	if m == 0 {
		return fmt.Sprintf("%s%d", sign, h)
	}
	return fmt.Sprintf("%s%d:%02d", sign, h, m)
}

// byWeek writes a DST change as Month/Week of Month/Day of Week/Hour, the
// week 5 meaning the last one of the month, days 1 = Monday … 7 = Sunday.
func byWeek(z provisioning.Zone, t time.Time) string {
	if !z.DST {
		return ""
	}
	week := (t.Day()-1)/7 + 1
	if t.AddDate(0, 0, 7).Month() != t.Month() {
		week = 5
	}
	day := int(t.Weekday())
	if day == 0 {
		day = 7
	}
	return fmt.Sprintf("%d/%d/%d/%d", int(t.Month()), week, day, t.Hour())
}

// languages are Yealink's names for the languages wazo-provd maps, by the
// BCP 47 primary language.
var languages = map[string]string{
	"en": "English", "de": "German", "es": "Spanish", "fr": "French", "it": "Italian",
}

func language(in provisioning.Inputs) (string, bool) {
	tag := strings.ToLower(strings.TrimSpace(in.Site.Language))
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	l, ok := languages[tag]
	return l, ok
}

// Coverage says how this family handles each policy setting no confirmed
// row of Table carries, and where a lock setting is also enforced by
// deskprov's own service.
var Coverage = []provisioning.Coverage{
	{Setting: "EnablePhoneLock", EnforcedBy: phoneLockAPI + "; Yealink's Skype firmware takes its lock from the Skype server in-band, and where deskprov is that server this API answers it; phone_setting.phone_lock.* is the open-SIP lock", Ref: vendorsLock},
	{Setting: "PhoneLockTimeout", EnforcedBy: phoneLockAPI + "; the Skype firmware's idle timeout comes in-band from the Skype server, which this API answers where deskprov is that server; phone_setting.phone_lock.lock_time_out serves open-SIP firmware", Ref: vendorsLock},
	{Setting: "MinPhonePinLength", EnforcedBy: phoneLockAPI + " (Yealink's Skype firmware takes it from the server in-band, not from a file parameter)", Ref: vendorsLock},
	{Setting: "KeyboardLockMaxPinRetry", EnforcedBy: phoneLockAPI + " (Yealink's Skype firmware takes it from the server in-band, not from a file parameter)", Ref: vendorsLock},
	{Setting: "AllowCallsWhenLocked", EnforcedBy: phoneLockAPI + " (Yealink's Skype firmware takes it from the server in-band, not from a file parameter; phone_setting.emergency.number lists callable numbers, a different meaning)", Ref: vendorsLock},
	{Setting: "EnableBetterTogetherOverEthernet", EnforcedBy: "btoe (deskprov's BToE pairing refuses a phone whose policy turns BToE off)", Ref: "no Yealink BToE parameter in a public template or guide (VENDORS.md); deskprov btoe/btoe.go"},
	{Setting: "BetterTogetherOverEthernetPairingMode", EnforcedBy: "btoe (deskprov's BToE pairing applies the policy's mode)", Ref: "no Yealink BToE parameter in a public template or guide (VENDORS.md); deskprov btoe/btoe.go"},
	{Setting: "EnableOneTouchVoicemail", NotSupported: "no Yealink parameter turns one-touch voicemail on or off (the Yealink parameter list has only voice_mail.number.N, the number the message key dials)", Ref: wazoV87 + " (the full v87 parameter list)"},
	{Setting: "EnableExchangeCalendaring", NotSupported: "no Yealink provisioning parameter turns Exchange calendaring on or off", Ref: wazoV87 + " (the full v87 parameter list)"},
	{Setting: "SignInMode", NotSupported: "no Yealink provisioning parameter selects user, common-area or meeting sign-in", Ref: wazoV87 + " (the full v87 parameter list)"},
	{Setting: "AllowHomeScreen", NotSupported: "no Yealink provisioning parameter for the Skype home screen", Ref: wazoV87 + " (the full v87 parameter list)"},
	{Setting: "AllowHotDesking", NotSupported: "Yealink's hotdesking.* parameters configure the open-SIP hot desking (which account fields a guest enters), not Skype's; no parameter for Skype hot desking", Ref: wazoV87 + " (hotdesking.*)"},
	{Setting: "HotDeskingIdleTimeoutInMinutes", NotSupported: "no Yealink parameter for a hot-desking idle timeout", Ref: wazoV87 + " (hotdesking.*)"},
}

const (
	phoneLockAPI = "/oauth2/phonelock (phone-lock PIN API)"
	vendorsLock  = "VENDORS.md, Yealink phone lock and Lock settings on Skype firmware (in-band from the Skype server)"
)
