package main

import (
	"strings"

	"github.com/deskprov/deskprov/fault"
)

// The server's errors name inputs and actions as facts (fault/words.go):
// the API's error body carries the field at fault, the fixes and the
// message's template beside the message in the API's words. The CLI says
// the same thing in its own: flags for fields, commands for actions.

// cliWords is the CLI's vocabulary.
type cliWords struct{}

// cliFlags are the fields whose flag is not the field's name in kebab case.
var cliFlags = map[string]string{
	"emergencyAddressId":    "--address",
	"locationId":            "--location",
	"models":                "--model",
	"file":                  "FILE",
	"service":               "--service-kind and --service-id",
	"defaultTollNumber":     "--toll",
	"defaultTollFreeNumber": "--toll-free",
	"returnToPool":          "--to-pool",
	"adminPassword":         "--admin-password-stdin",
}

var cliActions = map[string]string{
	"login":                "deskprov login",
	"admin.password":       "deskprov admin password",
	"admin.reset_password": "deskprov admin reset-password {username} on the server host",
	"policy.list":          "deskprov policy get",
	"policy.set":           "deskprov policy set {identity}",
	"policy.reset":         "deskprov policy reset {identity}",
	"address.create":       "deskprov address create",
	"address.validate":     "deskprov address validate {id}",
	"address.delete":       "deskprov address delete {id}",
	"address.locations":    "deskprov address locations {id}",
	"number.list":          "deskprov number list",
	"number.assign":        "deskprov number assign {number}",
	"number.release":       "deskprov number release {number}",
	"number.move":          "deskprov number move {number}[ --address {address}]",
	"number.reserve":       "deskprov number reserve",
	"number.availability":  "deskprov number availability",
	"numberrequest.create": "deskprov number request create",
	"service.list":         "deskprov service list",
	"site.list":            "deskprov site list",
	"enrolment.approve":    "deskprov enrolment approve {mac}",
	"btoe.forget":          "deskprov btoe forget {mac}",
}

func (cliWords) Field(name string) string {
	if f, ok := cliFlags[name]; ok {
		return f
	}
	return "--" + kebab(name)
}

func (w cliWords) Set(name string) string { return w.Field(name) }

func (cliWords) Fix(f fault.Fix) string {
	if p, ok := cliActions[f.Action]; ok {
		return fault.Phrase(p, f)
	}
	return fault.Neutral.Fix(f)
}

// kebab turns a JSON field name into its flag's: removePassword becomes
// remove-password.
func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
