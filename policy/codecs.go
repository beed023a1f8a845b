package policy

import (
	"strings"
)

// Codec is one audio codec the phone families can be given, under the name
// the IP phone policy uses (Skype for Business' PrioritizedCodecsList
// spelling) and the spellings admins type for it.
type Codec struct {
	Name    string
	Aliases []string
}

// Codecs are the codecs PrioritizedCodecsList may name. A family that does
// not support one skips it and keeps the rest (provisioning/<vendor>).
var Codecs = []Codec{
	{Name: "G722_8000", Aliases: []string{"G722", "G.722", "G722_16000", "G722-8000"}},
	{Name: "PCMU", Aliases: []string{"G711U", "G711_U", "G711MU", "G711_MU", "G.711U", "G.711MU", "G.711_MU", "ULAW", "MULAW", "G711-U"}},
	{Name: "PCMA", Aliases: []string{"G711A", "G711_A", "G.711A", "G.711_A", "ALAW", "G711-A"}},
	{Name: "G729", Aliases: []string{"G729A", "G729AB", "G729_AB", "G.729", "G.729A", "G.729AB"}},
	{Name: "G722_1", Aliases: []string{"G7221", "G.722.1", "G722.1", "SIREN14", "SIREN7"}},
	{Name: "OPUS", Aliases: []string{"OPUS"}},
	{Name: "ILBC", Aliases: []string{"ILBC"}},
	{Name: "SILK", Aliases: []string{"SILK", "SILK_WB", "SILK_NB"}},
}

// CanonicalCodec returns the policy name of a codec written in any spelling
// Codecs lists (case and surrounding space ignored); ok is false for a name
// no family knows.
func CanonicalCodec(name string) (string, bool) {
	n := strings.ToUpper(strings.TrimSpace(name))
	for _, c := range Codecs {
		if n == c.Name {
			return c.Name, true
		}
		for _, a := range c.Aliases {
			if n == a {
				return c.Name, true
			}
		}
	}
	return "", false
}

// CodecList reads a PrioritizedCodecsList into canonical names in order,
// dropping names no family knows and repeats. Rendering uses it, so a list
// stored before names were checked still gives phones what it can.
func CodecList(list string) []string {
	var out []string
	for _, item := range strings.Split(list, ";") {
		c, ok := CanonicalCodec(item)
		if !ok {
			continue
		}
		dup := false
		for _, o := range out {
			dup = dup || o == c
		}
		if !dup {
			out = append(out, c)
		}
	}
	return out
}

// codecNames lists the canonical names for messages.
func codecNames() string {
	names := make([]string, len(Codecs))
	for i, c := range Codecs {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}
