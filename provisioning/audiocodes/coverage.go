package audiocodes

import "github.com/deskprov/deskprov/provisioning"

// inBand is why the 400HD takes a Skype client-policy setting from no file.
const inBand = "no configuration-file parameter for it is documented for the 400HD; the Skype for Business firmware takes Skype client policy in-band from the server it signs in to, which deskprov's sign-in does not send"

// refLock backs the lock entries: the Skype firmware's lock timeout and
// calls-while-locked come from the Skype server, not the file.
const refLock = refTeams + "; VENDORS.md \"Confirmed in the December review\" (lock settings in-band)"

// Coverage says how this family handles each policy setting no confirmed
// row of Table carries.
var Coverage = []provisioning.Coverage{
	// The site's inputs this family is not given (issue 14 item 10).
	{Setting: "CACerts", NotSupported: "the manuals describe loading a trusted root CA through the configuration file, but no copy read shows the parameter's name, so deskprov writes none; install the organisation's CA through the phone's web interface or AudioCodes' device manager", Ref: refGeneric343 + " §7.2.1.1 (section title only)"},
	{Setting: "Site.AdminPassword", NotSupported: "system/password takes a crypt hash, not the password, and AudioCodes' files are answered without credentials unless --phone-credentials includes audiocodes, so deskprov does not put the phones' admin password in them", Ref: refVoIPDomainCode},
	{Setting: "EnableBetterTogetherOverEthernet", EnforcedBy: "BToE pairing API (btoe: pairing refused when the effective policy disables BToE)",
		Ref: "docs/btoe.md; the 400HD's own BToE parameter names are unconfirmed (lync/btoe/enabled is written as a guess)"},
	{Setting: "BetterTogetherOverEthernetPairingMode", EnforcedBy: "BToE pairing API (btoe: applies the effective policy's pairing mode)",
		Ref: "docs/btoe.md; lync/btoe/pairing_mode is unconfirmed"},
	{Setting: "PhoneLockTimeout", EnforcedBy: "/oauth2/phonelock (phone-lock PIN API)", Ref: refLock},
	{Setting: "AllowCallsWhenLocked", EnforcedBy: "/oauth2/phonelock (phone-lock PIN API)", Ref: refLock},
	{Setting: "MinPhonePinLength", EnforcedBy: "/oauth2/phonelock (phone-lock PIN API)", Ref: refLock},
	{Setting: "KeyboardLockMaxPinRetry", EnforcedBy: "/oauth2/phonelock (phone-lock PIN API)", Ref: refLock},
	{Setting: "UserDialTimeoutMS", NotSupported: "no 400HD inter-digit timeout parameter was found in the administrator's manuals or public templates (voip/dialing/interdigit_timeout is written as an unconfirmed guess)"},
	{Setting: "EnablePowerSaveMode", NotSupported: "no 400HD power-save parameter was found in the administrator's manuals or public templates (display/power_saving/* is written as an unconfirmed guess)"},
	{Setting: "PowerSaveDuringOfficeHoursTimeoutMS", NotSupported: "no 400HD power-save parameter was found (display/power_saving/timeout is an unconfirmed guess)"},
	{Setting: "PowerSavePostOfficeHoursTimeoutMS", NotSupported: "no 400HD parameter for an after-hours power-save timeout was found"},
	{Setting: "EnableOneTouchVoicemail", NotSupported: inBand},
	{Setting: "EnableExchangeCalendaring", NotSupported: inBand},
	{Setting: "SignInMode", NotSupported: inBand},
	{Setting: "AllowHomeScreen", NotSupported: inBand},
	{Setting: "AllowHotDesking", NotSupported: inBand},
	{Setting: "HotDeskingIdleTimeoutInMinutes", NotSupported: inBand},
	{Setting: "LocalProvisioningServerUser", NotSupported: "no 400HD parameter or URL form for provisioning-server credentials was found (issue 13): the phone is pointed at the local server's firmware URL without them, so that server must serve images without authentication",
		Ref: "AudioCodes' gateways (MP-11x LTRT-65432 §33.2.4) take user:password@ in a URL; no 400HD manual says the phones do"},
	{Setting: "LocalProvisioningServerPassword", NotSupported: "no 400HD parameter or URL form for provisioning-server credentials was found (issue 13); the password is never written"},
}
