package provisioning

import (
	"slices"
	"testing"
)

// Codecs keeps the last list read: reading it again allocates nothing, and
// another list is read afresh, never answered with the kept one.
func TestCodecsKeepsTheLastListRead(t *testing.T) {
	a, b := "G722_8000;PCMU;PCMA;G729", "PCMA;PCMU"
	want := Codecs(a)
	if n := testing.AllocsPerRun(100, func() { Codecs(a) }); n != 0 {
		t.Fatalf("reading the same list again allocates %v times", n)
	}
	if got := Codecs(b); slices.Equal(got, want) || len(got) != 2 {
		t.Fatalf("another list answered %v", got)
	}
	if got := Codecs(a); !slices.Equal(got, want) {
		t.Fatalf("the first list again: %v, want %v", got, want)
	}
}
