// Package policy is the IP phone policy: the Global policy, named policies
// granted to users, and the effective policy a phone is given.
package policy

import "context"

// Settings are the IP phone policy's settings (SPEC §6), named as admins know
// them from Set-CsIPPhonePolicy. JSON field names are those parameter names.
type Settings struct {
	EnableDeviceUpdate                    bool   `json:"EnableDeviceUpdate"`
	EnableBetterTogetherOverEthernet      bool   `json:"EnableBetterTogetherOverEthernet"`
	BetterTogetherOverEthernetPairingMode string `json:"BetterTogetherOverEthernetPairingMode"` // Auto | Manual
	EnablePhoneLock                       bool   `json:"EnablePhoneLock"`
	PhoneLockTimeout                      string `json:"PhoneLockTimeout"` // hh:mm:ss, under 01:00:00
	AllowCallsWhenLocked                  bool   `json:"AllowCallsWhenLocked"`
	MinPhonePinLength                     int    `json:"MinPhonePinLength"` // 6–15
	KeyboardLockMaxPinRetry               int    `json:"KeyboardLockMaxPinRetry"`
	UserDialTimeoutMS                     int    `json:"UserDialTimeoutMS"`
	PrioritizedCodecsList                 string `json:"PrioritizedCodecsList"`
	EnablePowerSaveMode                   bool   `json:"EnablePowerSaveMode"`
	PowerSaveDuringOfficeHoursTimeoutMS   int    `json:"PowerSaveDuringOfficeHoursTimeoutMS"`
	PowerSavePostOfficeHoursTimeoutMS     int    `json:"PowerSavePostOfficeHoursTimeoutMS"`
	EnableOneTouchVoicemail               bool   `json:"EnableOneTouchVoicemail"`
	DateTimeFormat                        string `json:"DateTimeFormat"` // 12 | 24
	EnableExchangeCalendaring             bool   `json:"EnableExchangeCalendaring"`
	LocalProvisioningServerAddress        string `json:"LocalProvisioningServerAddress"`
	LocalProvisioningServerUser           string `json:"LocalProvisioningServerUser"`
	LocalProvisioningServerPassword       string `json:"LocalProvisioningServerPassword"`
	LocalProvisioningServerType           string `json:"LocalProvisioningServerType"` // FTP | HTTP | HTTPS
	SignInMode                            string `json:"SignInMode"`                  // UserSignIn | CommonAreaPhoneSignIn | MeetingSignIn
	AllowHomeScreen                       string `json:"AllowHomeScreen"`             // Enabled | EnabledUserOverride | Disabled
	AllowHotDesking                       bool   `json:"AllowHotDesking"`
	HotDeskingIdleTimeoutInMinutes        int    `json:"HotDeskingIdleTimeoutInMinutes"`
}

// Defaults are the settings of a new policy and of Global after a reset.
func Defaults() Settings {
	return Settings{
		EnableDeviceUpdate:                    true,
		EnableBetterTogetherOverEthernet:      true,
		BetterTogetherOverEthernetPairingMode: "Auto",
		EnablePhoneLock:                       true,
		PhoneLockTimeout:                      "00:10:00",
		AllowCallsWhenLocked:                  true,
		MinPhonePinLength:                     6,
		KeyboardLockMaxPinRetry:               5,
		UserDialTimeoutMS:                     5000,
		PrioritizedCodecsList:                 "G722_8000;PCMU;PCMA;G729",
		EnablePowerSaveMode:                   true,
		PowerSaveDuringOfficeHoursTimeoutMS:   900000,
		PowerSavePostOfficeHoursTimeoutMS:     300000,
		EnableOneTouchVoicemail:               true,
		DateTimeFormat:                        "24",
		EnableExchangeCalendaring:             true,
		LocalProvisioningServerType:           "FTP",
		SignInMode:                            "UserSignIn",
		AllowHomeScreen:                       "EnabledUserOverride",
		AllowHotDesking:                       false,
		HotDeskingIdleTimeoutInMinutes:        120,
	}
}

// Effective is the policy that applies to one user (or to a phone nobody is
// signed in on): its settings, the name of the policy they come from, and a
// version that changes with every edit of that policy, so that provisioning
// can tell a phone's config is stale.
type Effective struct {
	Identity string   `json:"Identity"`
	Version  int64    `json:"Version"`
	Settings Settings `json:"Settings"`
}

// Source gives the effective policy of a user; upn "" is a phone nobody is
// signed in on (Global). Service satisfies it; provisioning, sign-in and
// BToE take one.
type Source interface {
	EffectiveForUser(ctx context.Context, upn string) (Effective, error)
}
