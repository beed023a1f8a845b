package fault

import "testing"

type testWords struct{}

func (testWords) Field(name string) string { return "<" + name + ">" }
func (testWords) Set(name string) string   { return "+" + name }
func (testWords) Fix(f Fix) string         { return Phrase("do "+f.Action+" {n}[ at {at}]", f) }

func TestATemplateIsSaidInTheFacesWords(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *Error
		want string
	}{
		{"the field at fault and a fix",
			Hintf(Invalid, "give {field} ({fix} makes one)").On("addr").WithFix("make", "n", "1"),
			"give <addr> (do make 1 makes one)"},
		{"another field and an option",
			Hintf(Invalid, "leave {field:pin} out or give {set:removePin}"),
			"leave <pin> out or give +removePin"},
		{"a part whose argument the fix has",
			Hintf(Conflict, "move it ({fix})").WithFix("move", "n", "7", "at", "B"),
			"move it (do move 7 at B)"},
		{"a part whose argument the fix lacks is left out",
			Hintf(Conflict, "move it ({fix})").WithFix("move", "n", "7"),
			"move it (do move 7)"},
		{"a second fix", Hintf(Conflict, "{fix}, then {fix2}").WithFix("a", "n", "1").WithFix("b", "n", "2"),
			"do a 1, then do b 2"},
		{"text a person typed is never a placeholder",
			Hintf(NotFound, "no policy %q ({fix})", "{fix}{field}").WithFix("list", "n", ""),
			`no policy "{fix}{field}" (do list )`},
		{"a fix the error lacks is left as written", Hintf(Conflict, "see {fix2}").WithFix("a"), "see {fix2}"},
		{"an error without a template is its message", Conflictf("plain {fix}"), "plain {fix}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.In(testWords{}); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("the neutral words name fields and actions by their codes", func(t *testing.T) {
		e := Hintf(Invalid, "give {field} ({fix})").On("emergencyAddressId").WithFix("address.create")
		if e.Error() != "give emergencyAddressId (address.create)" {
			t.Fatalf("got %q", e.Error())
		}
	})
}
