package web

import (
	"strings"
	"time"

	"github.com/deskprov/deskprov/fault"
)

// The faces' vocabularies for a fault's facts (fault/words.go): the field
// at fault and the actions that would clear it. The CLI's vocabulary is in
// cmd/deskprov (clierrors.go); each table names what its face offers.

// apiWords: inputs by their JSON field names (or query parameters), actions
// by method and path.
type apiWords struct{}

var apiActions = map[string]string{
	"login":                "POST /api/v1/login, then send its token as Authorization: Bearer",
	"admin.password":       "PUT /api/v1/admin/password",
	"admin.reset_password": "deskprov admin reset-password {username} on the server host",
	"policy.list":          "GET /api/v1/ipphonepolicies",
	"policy.set":           "PATCH /api/v1/ipphonepolicies/{identity}",
	"policy.reset":         "POST /api/v1/ipphonepolicies/{identity}/reset",
	"address.create":       "POST /api/v1/emergencyaddresses",
	"address.validate":     "POST /api/v1/emergencyaddresses/{id}/validate",
	"address.delete":       "DELETE /api/v1/emergencyaddresses/{id}",
	"address.locations":    "GET /api/v1/emergencyaddresses/{id}/locations",
	"number.list":          "GET /api/v1/numbers",
	"number.assign":        "POST /api/v1/numbers/{number}/assign",
	"number.release":       "POST /api/v1/numbers/{number}/release",
	"number.move":          "POST /api/v1/numbers/{number}/move[ with emergencyAddressId {address}]",
	"number.reserve":       "POST /api/v1/numbers/reservations",
	"number.availability":  "GET /api/v1/numbers/availability",
	"numberrequest.create": "POST /api/v1/numberrequests",
	"service.list":         "GET /api/v1/voiceservices",
	"site.list":            "GET /api/v1/sites",
	"enrolment.approve":    "POST /api/v1/enrolments/{mac}/approve",
	"btoe.forget":          "DELETE /api/v1/btoe/phones/{mac}",
}

// apiQuery are the options the API takes in the query string, not the body.
var apiQuery = map[string]bool{"force": true}

// apiFields are the inputs whose name alone does not say their shape.
var apiFields = map[string]string{"service": "service {kind, id}"}

func (apiWords) Field(name string) string {
	if f, ok := apiFields[name]; ok {
		return f
	}
	return name
}

func (apiWords) Set(name string) string {
	if apiQuery[name] {
		return "?" + name + "=true"
	}
	return `"` + name + `": true`
}

func (apiWords) Fix(f fault.Fix) string {
	if p, ok := apiActions[f.Action]; ok {
		return fault.Phrase(p, f)
	}
	return fault.Neutral.Fix(f)
}

// ConsoleWords: the controls the console's pages offer. An action the
// console has no page for is said as the API says it, which is where an
// admin does it.
type ConsoleWords struct{}

var consoleActions = map[string]string{
	"login":             "the console's sign-in page, /admin/login",
	"admin.password":    `"Change your password" on the console's Admin sessions page, /admin/sessions`,
	"policy.list":       "the IP phone policies page, /admin/policies",
	"policy.set":        "the page of {identity}, /admin/policies/{identity}",
	"policy.reset":      `"Reset to defaults" on the page of {identity}`,
	"enrolment.approve": "Approve beside {mac} on the console's Phone enrolment page, /admin/enrolments",
}

var consoleOptions = map[string]string{
	"force": `"Move the users who hold it to Global" ticked`,
}

func (ConsoleWords) Field(name string) string { return name }

func (ConsoleWords) Set(name string) string {
	if s, ok := consoleOptions[name]; ok {
		return s
	}
	return apiWords{}.Set(name)
}

func (ConsoleWords) Fix(f fault.Fix) string {
	if p, ok := consoleActions[f.Action]; ok {
		return fault.Phrase(p, f)
	}
	return apiWords{}.Fix(f)
}

// MACLabel writes a MAC the way it is printed on phones.
func MACLabel(mac string) string {
	if len(mac) != 12 {
		return mac
	}
	var b strings.Builder
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(mac[i : i+2]))
	}
	return b.String()
}

// SessionTime is how the pages show a time: in UTC, to the minute.
func SessionTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }
