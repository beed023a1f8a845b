package audiocodes

import (
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/deskprov/deskprov/provisioning"
)

// References, cited beside the rows they confirm (read, never copied).
const (
	// refTeams is the Skype for Business / Teams firmware line (3.x).
	refTeams = "AudioCodes 400HD IP Phones Series - Teams Compatible, Administrator's Manual (LTRT-09960)"
	// refGeneric343 is the unified Generic SIP manual.
	refGeneric343 = "AudioCodes 400HD Series IP Phones Administrator's Manual 3.4.3 (LTRT-11973)"
	// refGeneric228 is the 2.x Generic SIP manual.
	refGeneric228 = "AudioCodes 400HD Series IP Phones Administrator's Manual 2.2.8 (LTRT-11950)"
	// ref420HD covers 310HD/320HD/420HD, the 420HD being of this family.
	ref420HD = "AudioCodes 310HD, 320HD and 420HD IP Phones Administrator's Manual 2.0.0 (LTRT-09910)"
	// refVoIPDomain is a public generator for 405HD/450HD on UC_3.4.8.
	refVoIPDomain = "VoIP-Domain/voipdomain Daemons/client-modules/equipments-audiocodes/template-audiocodes-450hd.cfg"
	// refVoIPDomainCode fills that template.
	refVoIPDomainCode = "VoIP-Domain/voipdomain Daemons/client-modules/equipments-audiocodes/client.php"
	// refSipX is AudioCodes' own sipXconfig plugin (300HD series, same
	// parameter tree).
	refSipX = "SIPfoundry/legacy-sipxecs sipXaudiocodes/etc/audiocodesphone/mac.cfg.vm and phone.xml"
)

// Table maps deskprov's inputs to AudioCodes parameters: the one place to
// correct an AudioCodes name. Every value goes through provisioning.OneLine
// and dropComment in Render, so nothing a row returns can add a line.
var Table = append(append(append([]provisioning.Param{
	{Name: "provisioning/method", Value: provisioning.Const("STATIC"), Settings: []string{"Server.PublicURL"},
		Ref: refSipX + "; " + refVoIPDomain},
	// The file URL, not the directory: both public generators name the file.
	{Name: "provisioning/configuration/url", Settings: []string{"Server.PublicURL"}, Ref: refVoIPDomain + "; " + refSipX,
		Value: func(in provisioning.Inputs) (string, bool) {
			return in.Server.ProvURL() + strings.ToUpper(in.Device.MAC) + ".cfg", true
		}},
	// Written in every state (FirmwareURL): lync/SfBDeviceUpdate=0 keeps the
	// phone off Microsoft's update service only while a firmware URL is set,
	// and the phone installs an image only when its header names another
	// version than the one it runs, so a URL deskprov answers 404 while it
	// offers nothing changes nothing on the phone.
	{Name: "provisioning/firmware/url", Value: FirmwareURL,
		Settings: []string{"Firmware.Offer", "EnableDeviceUpdate", "LocalProvisioningServerAddress", "LocalProvisioningServerType"},
		Ref:      refGeneric228 + " §7 (header check; no new firmware: configuration next); " + refTeams + " §2.1.2 (ftp/tftp/http/https URLs); " + refVoIPDomain},
	// The phone's own provisioning credentials, only in the answer that
	// issues them. Unconfirmed: no 400HD document or template naming them
	// was found (docs/provisioning.md, "Phone credentials").
	{Name: "provisioning/configuration/username", Unconfirmed: true, Value: provisioning.CredentialUser, Settings: []string{"Credential"}},
	{Name: "provisioning/configuration/password", Unconfirmed: true, Value: provisioning.CredentialPassword, Settings: []string{"Credential"}},
	// Firmware comes from the URL above only (one update authority, SPEC §4).
	{Name: "lync/SfBDeviceUpdate", Value: provisioning.Const("0"), Settings: []string{"EnableDeviceUpdate"},
		Ref: refTeams + " §5.2 Table 5-1"},
	// Polling: the interval, with the stable per-device offset as the
	// phone's own random delay (0–65535 s).
	{Name: "provisioning/period/type", Settings: []string{"Server.PollInterval"}, Ref: refGeneric343 + " p.30 (provisioning period table)",
		Value: func(in provisioning.Inputs) (string, bool) { t, _ := period(in); return t, true }},
	{Name: "provisioning/period/hourly/hours_interval", Settings: []string{"Server.PollInterval"}, Ref: refGeneric343 + " p.30",
		Value: func(in provisioning.Inputs) (string, bool) {
			t, h := period(in)
			return strconv.Itoa(h), t == "hourly"
		}},
	{Name: "provisioning/random_provisioning_time", Settings: []string{"Server.PollInterval"}, Ref: refGeneric343 + " p.30",
		Value: provisioning.Int(func(in provisioning.Inputs) int {
			return min(int(in.Server.PollOffset(in.Device.MAC).Seconds()), 65535)
		})},
	// Phone lock: only on/off; on Skype firmware its timeout, calls while
	// locked and PIN rules come in-band (Coverage).
	{Name: "system/pin_lock/enabled", Settings: []string{"EnablePhoneLock"}, Ref: refVoIPDomain,
		Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnablePhoneLock })},
	// Time: NTP, the standard offset and this year's daylight-saving dates.
	{Name: "system/ntp/enabled", Value: provisioning.Const("1"), Settings: []string{"Site.NTPServers"}, Ref: refSipX},
	{Name: "system/ntp/primary_server_address", Settings: []string{"Site.NTPServers"}, Ref: refVoIPDomain + "; " + refSipX, Value: ntpServer(0)},
	{Name: "system/ntp/secondary_server_address", Settings: []string{"Site.NTPServers"}, Ref: refVoIPDomain + "; " + refSipX, Value: ntpServer(1)},
	{Name: "system/ntp/gmt_offset", Settings: []string{"Site.TimeZone"}, Ref: refVoIPDomainCode + " (±h:mm); " + refSipX + " (±hh:mm)",
		Value: func(in provisioning.Inputs) (string, bool) {
			z, ok := zone(in)
			return gmtOffset(z.StdOffset), ok
		}},
	{Name: "system/daylight_saving/activate", Settings: []string{"Site.TimeZone"}, Ref: refTeams + " §3.6.4 Table 3-52",
		Value: func(in provisioning.Inputs) (string, bool) {
			z, ok := zone(in)
			if z.DST {
				return "ENABLE", ok
			}
			return "DISABLE", ok
		}},
	{Name: "system/daylight_saving/mode", Value: dst(func(provisioning.Zone) string { return "FIXED" }), Settings: []string{"Site.TimeZone"}, Ref: refTeams + " §3.6.4 Table 3-52"},
}, dstDates()...), codecRows()...),
	[]provisioning.Param{
		// The clock.
		{Name: "system/ntp/time_display_format", Settings: []string{"DateTimeFormat"}, Ref: refVoIPDomain + "; " + refVoIPDomainCode + " (24Hour/12Hour)",
			Value: func(in provisioning.Inputs) (string, bool) {
				if in.Policy.Settings.DateTimeFormat == "12" {
					return "12Hour", true
				}
				return "24Hour", true
			}},
		{Name: "personal_settings/language", Settings: []string{"Site.Language"}, Ref: refVoIPDomain + "; " + refVoIPDomainCode + " (language names)",
			Value: func(in provisioning.Inputs) (string, bool) { return language(in.Site.Language) }},
		// BToE, power save, dial timeout, web sign-in: unconfirmed; the
		// settings they carry have Coverage entries.
		{Name: "lync/btoe/enabled", Unconfirmed: true, Settings: []string{"EnableBetterTogetherOverEthernet"},
			Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnableBetterTogetherOverEthernet })},
		{Name: "lync/btoe/pairing_mode", Unconfirmed: true, Settings: []string{"BetterTogetherOverEthernetPairingMode"},
			Value: func(in provisioning.Inputs) (string, bool) {
				if in.Policy.Settings.BetterTogetherOverEthernetPairingMode == "Manual" {
					return "MANUAL", true
				}
				return "AUTO", true
			}},
		{Name: "display/power_saving/enabled", Unconfirmed: true, Settings: []string{"EnablePowerSaveMode"},
			Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnablePowerSaveMode })},
		{Name: "display/power_saving/timeout", Unconfirmed: true, Settings: []string{"PowerSaveDuringOfficeHoursTimeoutMS"},
			Value: provisioning.Int(func(in provisioning.Inputs) int {
				return (in.Policy.Settings.PowerSaveDuringOfficeHoursTimeoutMS + 59999) / 60000
			})},
		{Name: "voip/dialing/interdigit_timeout", Unconfirmed: true, Settings: []string{"UserDialTimeoutMS"},
			Value: provisioning.Int(func(in provisioning.Inputs) int { return max((in.Policy.Settings.UserDialTimeoutMS+999)/1000, 1) })},
		{Name: "lync/sign_in/web_sign_in_url", Unconfirmed: true, Settings: []string{"Server.PublicURL"},
			Value: func(in provisioning.Inputs) (string, bool) { return in.Server.WebSignInURL(), true }},
	}...)

// FirmwareURL is where the phone looks for firmware, in every state: the
// local provisioning server the policy names, or deskprov's per-phone image
// name, which the firmware module answers with the image offered to that
// phone and 404 otherwise. The name carries the MAC because the Skype
// firmware's User-Agent does not.
func FirmwareURL(in provisioning.Inputs) (string, bool) {
	// The phone's own model names the image: the URL then stays the same
	// whatever is offered, and whatever the offered file is called.
	model := in.Device.Model
	if fromOffer := strings.TrimSuffix(strings.ToUpper(in.Firmware.FileName), ".IMG"); model == "" && in.Firmware.Offer && modelRE.MatchString(fromOffer) {
		model = fromOffer
	}
	if addr := strings.TrimSpace(in.Policy.Settings.LocalProvisioningServerAddress); addr != "" {
		return localServerURL(addr, in.Policy.Settings.LocalProvisioningServerType, model), true
	}
	if in.Device.MAC == "" {
		return in.Server.ProvURL(), true
	}
	return in.Server.ProvURL() + ImageName(in.Device.MAC, model), true
}

// ImageName is the per-phone firmware name deskprov writes into
// provisioning/firmware/url: <MAC>-<model>.img, or <MAC>.img when the model
// is not known (the phone's User-Agent then names it).
func ImageName(mac, model string) string {
	if model == "" {
		return strings.ToUpper(mac) + ".img"
	}
	return strings.ToUpper(mac) + "-" + strings.ToUpper(model) + ".img"
}

// localServerURL points the phone at the policy's local provisioning server
// (a host or a URL), with the protocol the policy names. Credentials are not
// written: no 400HD reference says how the phone sends them (Coverage).
func localServerURL(addr, typ, model string) string {
	base := addr
	if !strings.Contains(addr, "://") {
		scheme := strings.ToLower(strings.TrimSpace(typ))
		if scheme == "" {
			scheme = "https"
		}
		base = scheme + "://" + addr
	}
	if strings.HasSuffix(strings.ToLower(base), ".img") {
		return base
	}
	base = strings.TrimRight(base, "/") + "/"
	if model == "" {
		// Given only a server, the phone asks for <model>.img itself.
		return base
	}
	return base + strings.ToUpper(model) + ".img"
}

func ntpServer(i int) func(provisioning.Inputs) (string, bool) {
	return func(in provisioning.Inputs) (string, bool) {
		if i >= len(in.Site.NTPServers) {
			// The generator clears an unused secondary server; no primary
			// leaves the phone's own (DHCP option 42).
			return "", i > 0
		}
		return strings.TrimSpace(in.Site.NTPServers[i]), true
	}
}

// zone reads the site's time zone for this year; a zone that cannot be
// read (never stored: sites are checked on input) leaves the phone's own.
func zone(in provisioning.Inputs) (provisioning.Zone, bool) {
	name := in.Site.TimeZone
	if name == "" {
		name = provisioning.DefaultTimeZone
	}
	z, err := provisioning.LoadZone(name, time.Now().Year())
	return z, err == nil
}

// gmtOffset writes seconds east of UTC as ±hh:mm.
func gmtOffset(sec int) string {
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	return fmt.Sprintf("%s%02d:%02d", sign, sec/3600, sec%3600/60)
}

// dst writes a daylight-saving row only for zones that keep it this year.
func dst(f func(provisioning.Zone) string) func(provisioning.Inputs) (string, bool) {
	return func(in provisioning.Inputs) (string, bool) {
		z, ok := zone(in)
		if !ok || !z.DST {
			return "", false
		}
		return f(z), true
	}
}

// dstDates are the FIXED-mode start and end (month, day, hour, minute) and
// the daylight-saving offset in minutes.
func dstDates() []provisioning.Param {
	var out []provisioning.Param
	for _, edge := range []struct {
		name string
		at   func(provisioning.Zone) time.Time
		ref  string
	}{
		{"start_date", func(z provisioning.Zone) time.Time { return z.Start }, refTeams + " §3.6.4 Table 3-52"},
		{"end_date", func(z provisioning.Zone) time.Time { return z.End }, ref420HD + " §12 Table 12-1"},
	} {
		for _, part := range []struct {
			name string
			of   func(time.Time) int
		}{
			{"month", func(t time.Time) int { return int(t.Month()) }},
			{"day", time.Time.Day},
			{"hour", time.Time.Hour},
			{"minute", time.Time.Minute},
		} {
			at, of := edge.at, part.of
			out = append(out, provisioning.Param{Name: "system/daylight_saving/" + edge.name + "/" + part.name, Settings: []string{"Site.TimeZone"}, Ref: edge.ref,
				Value: dst(func(z provisioning.Zone) string { return strconv.Itoa(of(at(z))) })})
		}
	}
	return append(out, provisioning.Param{Name: "system/daylight_saving/offset", Settings: []string{"Site.TimeZone"}, Ref: ref420HD + " §12 Table 12-1 (minutes, 0–180)",
		Value: dst(func(z provisioning.Zone) string { return strconv.Itoa((z.DSTOffset - z.StdOffset) / 60) })})
}

// CodecSlots is how many voip/codec/codec_info slots deskprov writes; the
// ones the policy does not fill are cleared, so a codec left on the phone by
// an earlier file is not kept.
const CodecSlots = 6

// codecNames are the 400HD's names for the policy's canonical codecs. The
// 400HD generator names G.722 G722_8000, G.711 PCMU/PCMA and SILK
// SILK_16000/SILK_8000; G729 is the name AudioCodes' own sipXconfig plugin
// writes. The policy's other codecs (G722_1, OPUS, ILBC) are skipped.
var codecNames = map[string]string{"G722_8000": "G722_8000", "PCMU": "PCMU", "PCMA": "PCMA", "G729": "G729", "SILK": "SILK_16000"}

// codecRows write each slot's enabled, name and pname (the packet time the
// generator writes, 20 ms), or clear it.
func codecRows() []provisioning.Param {
	var out []provisioning.Param
	ref := refVoIPDomainCode + " (codec_info slots, names, cleared slots); " + refSipX + " (G729)"
	for n := range CodecSlots {
		prefix := "voip/codec/codec_info/" + strconv.Itoa(n) + "/"
		out = append(out,
			provisioning.Param{Name: prefix + "enabled", Settings: []string{"PrioritizedCodecsList"}, Ref: ref,
				Value: func(in provisioning.Inputs) (string, bool) {
					if n < len(codecs(in)) {
						return "1", true
					}
					return "0", true
				}},
			provisioning.Param{Name: prefix + "name", Settings: []string{"PrioritizedCodecsList"}, Ref: ref,
				Value: func(in provisioning.Inputs) (string, bool) {
					if cs := codecs(in); n < len(cs) {
						return cs[n], true
					}
					return "", true
				}},
			provisioning.Param{Name: prefix + "pname", Settings: []string{"PrioritizedCodecsList"}, Ref: ref,
				Value: func(in provisioning.Inputs) (string, bool) {
					if n < len(codecs(in)) {
						return "20", true
					}
					return "", true
				}})
	}
	return out
}

// codecs are the policy's codecs in order, under the 400HD's names, without
// the ones it lacks and at most CodecSlots of them.
// The list is kept for the policy list it was made from: a render asks for
// it three times a slot, and a fleet re-renders under one policy. Callers
// only read it.
func codecs(in provisioning.Inputs) []string {
	list := in.Policy.Settings.PrioritizedCodecsList
	if h := lastCodecs.Load(); h != nil && h.list == list {
		return h.out
	}
	var out []string
	for _, c := range provisioning.Codecs(list) {
		if name, ok := codecNames[c]; ok && len(out) < CodecSlots {
			out = append(out, name)
		}
	}
	lastCodecs.Store(&heldCodecs{list: list, out: out})
	return out
}

// heldCodecs is the last list codecs made, and the policy list it read.
type heldCodecs struct {
	list string
	out  []string
}

var lastCodecs atomic.Pointer[heldCodecs]

// languages are the 400HD's language names by BCP 47 primary language (the
// generator's table); a tag it does not list leaves the phone's own.
var languages = map[string]string{
	"en": "English", "pt": "Portuguese", "fr": "French", "de": "German", "es": "Spanish", "it": "Italian",
	"nl": "Dutch", "pl": "Polish", "ru": "Russian", "uk": "Ukrainian", "cs": "Czech", "sk": "Slovak",
	"hu": "Hungarian", "he": "Hebrew", "ja": "Japanese", "ko": "Korean",
}

func language(tag string) (string, bool) {
	parts := strings.Split(strings.ToLower(strings.ReplaceAll(strings.TrimSpace(tag), "_", "-")), "-")
	if parts[0] == "zh" {
		for _, p := range parts[1:] {
			switch p {
			case "hant", "tw", "hk", "mo":
				return "Chinese Traditional", true
			}
		}
		return "Chinese Simplified", true
	}
	name, ok := languages[parts[0]]
	return name, ok
}

// period maps the polling interval to the phone's period type.
func period(in provisioning.Inputs) (string, int) {
	iv := in.Server.Interval()
	switch {
	case iv.Minutes() <= 5:
		return "every5minutes", 0
	case iv.Minutes() < 60:
		return "every15minutes", 0
	}
	return "hourly", min(max(int(iv.Hours()), 1), 168)
}
