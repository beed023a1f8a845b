package webtest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/tenant"
)

// Shared by the tests of several faces (once in web/numbers_moves_test.go).

// VoiceCaller calls the admin API of a numbers test server.
type VoiceCaller struct {
	T         *testing.T
	Base, Tok string
}

func (v VoiceCaller) call(method, path, body string, out any) int {
	v.T.Helper()
	return TenantCall(v.T, v.Base, v.Tok, method, path, body, out)
}

// Must calls and fails the test unless the answer is want.
func (v VoiceCaller) Must(want int, method, path, body string, out any) {
	v.T.Helper()
	var raw map[string]any
	if out == nil && want != http.StatusNoContent {
		out = &raw
	}
	if code := v.call(method, path, body, out); code != want {
		v.T.Fatalf("%s %s %s: %d %+v, want %d", method, path, body, code, out, want)
	}
}

// Refused checks a call is refused with status and error code.
func (v VoiceCaller) Refused(status int, code, method, path, body string) TenantErrCode {
	v.T.Helper()
	var e TenantErrCode
	if got := v.call(method, path, body, &e); got != status || e.Code != code {
		v.T.Fatalf("%s %s %s: %d %+v, want %d %s", method, path, body, got, e, status, code)
	}
	return e
}

type TenantErrCode struct {
	Error   string `json:"error"`
	Message string `json:"message"`
	Code    string `json:"code"`
	Field   string `json:"field"`
}

// VoiceSetup buys licenses and gives the organisation the numbers listed
// (number:type), all acquired from the pool in US/WA.
func VoiceSetup(v VoiceCaller, numbers ...string) {
	v.T.Helper()
	for _, l := range []string{`PhoneSystem {"purchased":50}`, `CallingPlanDomestic {"purchased":50}`, `CommunicationsCredits {"purchased":1}`} {
		sku, body, _ := strings.Cut(l, " ")
		v.Must(200, "PUT", "/api/v1/licenses/"+sku, body, nil)
	}
	byType := map[string]int{}
	var rows []string
	for _, nt := range numbers {
		num, typ, _ := strings.Cut(nt, ":")
		rows = append(rows, fmt.Sprintf(`{"number":%q,"type":%q,"country":"US","state":"WA","city":"Redmond"}`, num, typ))
		byType[typ]++
	}
	v.Must(201, "POST", "/api/v1/numbers/inventory", `{"numbers":[`+strings.Join(rows, ",")+`]}`, nil)
	for typ, n := range byType {
		var r tenant.NumberReservation
		v.Must(201, "POST", "/api/v1/numbers/reservations", fmt.Sprintf(`{"type":%q,"country":"US","quantity":%d}`, typ, n), &r)
		v.Must(200, "POST", "/api/v1/numbers/reservations/"+r.ID+"/acquire", "", nil)
	}
}

func VoiceService(v VoiceCaller, kind, name string) uint {
	v.T.Helper()
	var s tenant.VoiceService
	v.Must(201, "POST", "/api/v1/voiceservices", fmt.Sprintf(`{"kind":%q,"name":%q}`, kind, name), &s)
	return s.ID
}

func VoiceAssignService(v VoiceCaller, number, kind string, id uint) tenant.NumberView {
	v.T.Helper()
	var n tenant.NumberView
	v.Must(200, "POST", "/api/v1/numbers/"+number+"/assign", fmt.Sprintf(`{"service":{"kind":%q,"id":%d}}`, kind, id), &n)
	return n
}
