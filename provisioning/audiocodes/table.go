package audiocodes

import (
	"strconv"

	"github.com/deskprov/deskprov/provisioning"
)

// Table maps deskprov's inputs to AudioCodes parameters: the one place to
// correct an AudioCodes name.
var Table = []provisioning.Param{
	{Name: "provisioning/method", Value: provisioning.Const("STATIC")},
	{Name: "provisioning/configuration/url", Value: func(in provisioning.Inputs) (string, bool) { return in.Server.ProvURL(), true }},
	{Name: "provisioning/firmware/url", Value: provisioning.FirmwareURL},
	// The phone's own provisioning credentials, only in the answer that
	// issues them. Unconfirmed: no public AudioCodes 400HD document or
	// template naming them was found (docs/provisioning.md).
	{Name: "provisioning/configuration/username", Unconfirmed: true, Value: provisioning.CredentialUser},
	{Name: "provisioning/configuration/password", Unconfirmed: true, Value: provisioning.CredentialPassword},
	// Firmware comes from this server only (one update authority, SPEC §4).
	{Name: "lync/SfBDeviceUpdate", Value: provisioning.Const("0")},
	// Polling: the interval, with the stable per-device offset as the
	// phone's own random delay (0–65535 s).
	{Name: "provisioning/period/type", Value: func(in provisioning.Inputs) (string, bool) { t, _ := period(in); return t, true }},
	{Name: "provisioning/period/hourly/hours_interval", Value: func(in provisioning.Inputs) (string, bool) {
		t, h := period(in)
		return strconv.Itoa(h), t == "hourly"
	}},
	{Name: "provisioning/random_provisioning_time", Value: provisioning.Int(func(in provisioning.Inputs) int {
		return min(int(in.Server.PollOffset(in.Device.MAC).Seconds()), 65535)
	})},
	// Phone lock: only on/off; the timeout comes from the Skype server.
	{Name: "system/pin_lock/enabled", Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnablePhoneLock })},
	// BToE, clock, codecs, power save, dial timeout, web sign-in: unconfirmed.
	{Name: "lync/btoe/enabled", Unconfirmed: true, Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnableBetterTogetherOverEthernet })},
	{Name: "lync/btoe/pairing_mode", Unconfirmed: true, Value: func(in provisioning.Inputs) (string, bool) {
		if in.Policy.Settings.BetterTogetherOverEthernetPairingMode == "Manual" {
			return "MANUAL", true
		}
		return "AUTO", true
	}},
	{Name: "regional_settings/time_format", Unconfirmed: true, Value: func(in provisioning.Inputs) (string, bool) {
		if in.Policy.Settings.DateTimeFormat == "12" {
			return "12", true
		}
		return "24", true
	}},
	{Name: "voip/codec/supported/0/name", Unconfirmed: true, Value: nthCodec(0)},
	{Name: "voip/codec/supported/1/name", Unconfirmed: true, Value: nthCodec(1)},
	{Name: "voip/codec/supported/2/name", Unconfirmed: true, Value: nthCodec(2)},
	{Name: "voip/codec/supported/3/name", Unconfirmed: true, Value: nthCodec(3)},
	{Name: "voip/codec/supported/4/name", Unconfirmed: true, Value: nthCodec(4)},
	{Name: "display/power_saving/enabled", Unconfirmed: true, Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnablePowerSaveMode })},
	{Name: "display/power_saving/timeout", Unconfirmed: true, Value: provisioning.Int(func(in provisioning.Inputs) int {
		return (in.Policy.Settings.PowerSaveDuringOfficeHoursTimeoutMS + 59999) / 60000
	})},
	{Name: "voip/dialing/interdigit_timeout", Unconfirmed: true, Value: provisioning.Int(func(in provisioning.Inputs) int { return max((in.Policy.Settings.UserDialTimeoutMS+999)/1000, 1) })},
	{Name: "lync/sign_in/web_sign_in_url", Unconfirmed: true, Value: func(in provisioning.Inputs) (string, bool) { return in.Server.WebSignInURL(), true }},
}

// codecNames are AudioCodes' names for the policy's codecs.
var codecNames = map[string]string{"G722_8000": "G722", "PCMU": "PCMU", "PCMA": "PCMA", "G729": "G729"}

func nthCodec(n int) func(provisioning.Inputs) (string, bool) {
	return func(in provisioning.Inputs) (string, bool) {
		var known []string
		for _, c := range provisioning.Codecs(in.Policy.Settings.PrioritizedCodecsList) {
			if name, ok := codecNames[c]; ok {
				known = append(known, name)
			}
		}
		if n >= len(known) {
			return "", false
		}
		return known[n], true
	}
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

// Coverage says how this family handles each policy setting no row of Table
// carries.
var Coverage = []provisioning.Coverage{}
