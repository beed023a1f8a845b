package yealink

import (
	"strconv"

	"github.com/deskprov/deskprov/provisioning"
)

// Table maps deskprov's inputs to Yealink parameters: the one place to
// correct a Yealink name. Names carry "static." where current firmware wants
// it; Render drops the prefix for v7x/v80 firmware.
var Table = []provisioning.Param{
	{Name: "static.auto_provision.server.url", Value: func(in provisioning.Inputs) (string, bool) { return in.Server.ProvURL(), true }},
	// The phone's own provisioning credentials, only in the answer that
	// issues them (Inputs.Credential). Names: VENDORS.md (Yealink polling,
	// "Credentials: auto_provision.server.username/password") and wazo-provd
	// plugins/wazo_yealink/v87/templates/base.tpl. A later file without the
	// rows leaves the phone with the stored values (VENDORS.md, "Yealink
	// withdrawal": a dropped row leaves the phone with the old value).
	{Name: "static.auto_provision.server.username", Value: provisioning.CredentialUser},
	{Name: "static.auto_provision.server.password", Value: provisioning.CredentialPassword},
	{Name: "static.auto_provision.repeat.enable", Value: provisioning.Const("1")},
	// The interval in minutes plus a stable per-device offset, in 1–43200.
	{Name: "static.auto_provision.repeat.minutes", Value: func(in provisioning.Inputs) (string, bool) {
		base := int(in.Server.Interval().Minutes())
		m := base + int(in.Server.PollOffset(in.Device.MAC).Seconds())%max(base/10, 1)
		return strconv.Itoa(min(max(m, 1), 43200)), true
	}},
	{Name: "static.firmware.url", Value: provisioning.FirmwareURL},
	// Phone lock.
	{Name: "phone_setting.phone_lock.enable", Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnablePhoneLock })},
	{Name: "phone_setting.phone_lock.lock_time_out", Value: provisioning.Int(func(in provisioning.Inputs) int { return provisioning.Seconds(in.Policy.Settings.PhoneLockTimeout) })},
	// BToE: Yealink's names are unconfirmed (VENDORS.md).
	{Name: "static.sfb.btoe.enable", Unconfirmed: true, Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnableBetterTogetherOverEthernet })},
	{Name: "static.sfb.btoe.pairing_mode", Unconfirmed: true, Value: func(in provisioning.Inputs) (string, bool) {
		if in.Policy.Settings.BetterTogetherOverEthernetPairingMode == "Manual" {
			return "1", true
		}
		return "0", true
	}},
	// Clock (0 = 12-hour, 1 = 24-hour), codecs, power save, dial timeout.
	{Name: "local_time.time_format", Unconfirmed: true, Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.DateTimeFormat != "12" })},
	{Name: "account.1.codec.g722.enable", Unconfirmed: true, Value: enabled("G722_8000")},
	{Name: "account.1.codec.g722.priority", Unconfirmed: true, Value: rank("G722_8000")},
	{Name: "account.1.codec.pcmu.enable", Unconfirmed: true, Value: enabled("PCMU")},
	{Name: "account.1.codec.pcmu.priority", Unconfirmed: true, Value: rank("PCMU")},
	{Name: "account.1.codec.pcma.enable", Unconfirmed: true, Value: enabled("PCMA")},
	{Name: "account.1.codec.pcma.priority", Unconfirmed: true, Value: rank("PCMA")},
	{Name: "account.1.codec.g729.enable", Unconfirmed: true, Value: enabled("G729")},
	{Name: "account.1.codec.g729.priority", Unconfirmed: true, Value: rank("G729")},
	{Name: "features.power_saving.enable", Unconfirmed: true, Value: provisioning.Bool01(func(in provisioning.Inputs) bool { return in.Policy.Settings.EnablePowerSaveMode })},
	{Name: "features.power_saving.office_hour.idle_timeout", Unconfirmed: true, Value: provisioning.Int(func(in provisioning.Inputs) int {
		return (in.Policy.Settings.PowerSaveDuringOfficeHoursTimeoutMS + 59999) / 60000
	})},
	{Name: "features.power_saving.off_hour.idle_timeout", Unconfirmed: true, Value: provisioning.Int(func(in provisioning.Inputs) int {
		return (in.Policy.Settings.PowerSavePostOfficeHoursTimeoutMS + 59999) / 60000
	})},
	{Name: "phone_setting.inter_digit_time", Unconfirmed: true, Value: provisioning.Int(func(in provisioning.Inputs) int { return max((in.Policy.Settings.UserDialTimeoutMS+999)/1000, 1) })},
	// Web sign-in address.
	{Name: "static.sfb.web_sign_in.url", Unconfirmed: true, Value: func(in provisioning.Inputs) (string, bool) { return in.Server.WebSignInURL(), true }},
}

func enabled(codec string) func(provisioning.Inputs) (string, bool) {
	return provisioning.Bool01(func(in provisioning.Inputs) bool { return provisioning.CodecRank(in, codec) > 0 })
}

func rank(codec string) func(provisioning.Inputs) (string, bool) {
	return func(in provisioning.Inputs) (string, bool) {
		r := provisioning.CodecRank(in, codec)
		if r == 0 {
			return "", false
		}
		return strconv.Itoa(r), true
	}
}

// Coverage says how this family handles each policy setting no row of Table
// carries.
var Coverage = []provisioning.Coverage{}
