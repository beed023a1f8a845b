package webtest

import (
	"github.com/deskprov/deskprov/tenant"
)

// Shared by the tests of several faces (once in web/numbers_audit_test.go).

// OnlyActions keeps the entries of the given actions: the moves tests were
// written when only moves, defaults, edits and removals were audited, and
// count those; creates and assigns are in the log as well now.
func OnlyActions(es []tenant.VoiceAuditEntry, actions ...string) []tenant.VoiceAuditEntry {
	out := []tenant.VoiceAuditEntry{}
	for _, e := range es {
		for _, a := range actions {
			if e.Action == a {
				out = append(out, e)
				break
			}
		}
	}
	return out
}
