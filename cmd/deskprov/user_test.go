package main

import "testing"

// TestUserCLIRemovesCredentialsOnlyWhenAsked: --password "" is refused with
// the server's message; --remove-password and --remove-pin remove them.
func TestUserCLIRemovesCredentialsOnlyWhenAsked(t *testing.T) {
	serveLoggedIn(t, "")
	runSteps(t, []cliStep{
		{"adding a user with every credential", []string{"user", "add", "amosm@contoso.com", "--password", "password1", "--extension", "4321", "--pin", "123456"}, "amosm@contoso.com", false},
		{"an empty password is refused", []string{"user", "set", "amosm@contoso.com", "--password", ""}, "give --remove-password", true},
		{"an empty PIN is refused", []string{"user", "set", "amosm@contoso.com", "--pin", ""}, "give --remove-pin", true},
		{"the password is still there", []string{"user", "show", "amosm@contoso.com"}, "Password sign-in    yes", false},
		{"--remove-password removes it", []string{"user", "set", "amosm@contoso.com", "--remove-password"}, "amosm@contoso.com", false},
		{"the password is gone", []string{"user", "show", "amosm@contoso.com"}, "Password sign-in    no", false},
		{"--remove-pin removes the PIN", []string{"user", "set", "amosm@contoso.com", "--remove-pin"}, "amosm@contoso.com", false},
		{"the PIN is gone", []string{"user", "show", "amosm@contoso.com"}, "PIN sign-in         no", false},
	})
}

// TestMFACLI: the enrolment-code switch and codes through the CLI agree
// with the API.
func TestMFACLI(t *testing.T) {
	serveLoggedIn(t, "")
	runSteps(t, []cliStep{
		{"adding an MFA user", []string{"user", "add", "mfa@contoso.com", "--password", "password1", "--mfa"}, "mfa@contoso.com", false},
		{"the switch is off at first", []string{"mfa", "show"}, "Enrolment code required  no", false},
		{"turning it on", []string{"mfa", "require-enrollment-code", "on"}, "Enrolment code required  yes", false},
		{"a bad value is refused", []string{"mfa", "require-enrollment-code", "maybe"}, "on or off", true},
		{"issuing a code shows it once", []string{"mfa", "enrollment-code", "mfa@contoso.com"}, "Enrolment code for mfa@contoso.com: ", false},
		{"an unknown user gets none", []string{"mfa", "enrollment-code", "nobody@contoso.com"}, "no user", true},
		{"turning it off", []string{"mfa", "require-enrollment-code", "off"}, "Enrolment code required  no", false},
	})
}

// TestOrganizationCLI: the organisation's name through the CLI agrees with
// the API, and a bad one is refused with the server's words.
func TestOrganizationCLI(t *testing.T) {
	serveLoggedIn(t, "")
	runSteps(t, []cliStep{
		{"no name at first", []string{"organization", "show"}, "(none: the pages say deskprov)", false},
		{"setting it", []string{"organization", "set", "Contoso Pharmaceuticals"}, "Contoso Pharmaceuticals", false},
		{"the short alias reads it", []string{"org", "show"}, "Name     Contoso Pharmaceuticals", false},
		{"a name too long is refused", []string{"organization", "set", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}, "name", true},
		{"removing it", []string{"organization", "set", ""}, "(none", false},
	})
}
