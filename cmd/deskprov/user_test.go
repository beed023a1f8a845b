package main

import "testing"

// TestUserCLIRemovesCredentialsOnlyWhenAsked: --password "" is refused with
// the server's message; --remove-password and --remove-pin remove them.
func TestUserCLIRemovesCredentialsOnlyWhenAsked(t *testing.T) {
	serveLoggedIn(t, "")
	runSteps(t, []cliStep{
		{"adding a user with every credential", []string{"user", "add", "amosm@contoso.com", "--password", "password1", "--extension", "4321", "--pin", "123456"}, "amosm@contoso.com", false},
		{"an empty password is refused", []string{"user", "set", "amosm@contoso.com", "--password", ""}, "removePassword", true},
		{"an empty PIN is refused", []string{"user", "set", "amosm@contoso.com", "--pin", ""}, "removePin", true},
		{"the password is still there", []string{"user", "show", "amosm@contoso.com"}, "Password sign-in    yes", false},
		{"--remove-password removes it", []string{"user", "set", "amosm@contoso.com", "--remove-password"}, "amosm@contoso.com", false},
		{"the password is gone", []string{"user", "show", "amosm@contoso.com"}, "Password sign-in    no", false},
		{"--remove-pin removes the PIN", []string{"user", "set", "amosm@contoso.com", "--remove-pin"}, "amosm@contoso.com", false},
		{"the PIN is gone", []string{"user", "show", "amosm@contoso.com"}, "PIN sign-in         no", false},
	})
}
