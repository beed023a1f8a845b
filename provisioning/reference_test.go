package provisioning_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/deskprov/deskprov/policy"
	"github.com/deskprov/deskprov/provisioning"
	"github.com/deskprov/deskprov/provisioning/audiocodes"
	"github.com/deskprov/deskprov/provisioning/lpe"
	"github.com/deskprov/deskprov/provisioning/polycom"
	"github.com/deskprov/deskprov/provisioning/yealink"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/provisioning.md's generated tables")

// referenced are the families whose files docs/provisioning.md documents,
// in the order of its sections.
var referenced = []struct {
	title string
	ref   provisioning.Reference
}{
	{"Polycom VVX", polycom.New().Reference()},
	{"Yealink T4x", yealink.New().Reference()},
	{"AudioCodes 4xx HD", audiocodes.New().Reference()},
	{"Lync Phone Edition", provisioning.Reference{Coverage: lpe.Coverage}},
}

// TestEveryRowHasAReference: a row names its reference or is marked
// Unconfirmed, never both and never neither (issue 14's rule).
func TestEveryRowHasAReference(t *testing.T) {
	for _, f := range referenced {
		t.Run(f.title, func(t *testing.T) {
			for _, p := range f.ref.Table {
				switch {
				case p.Ref == "" && !p.Unconfirmed:
					t.Errorf("%s has no reference: cite the vendor guide or public template, or mark it Unconfirmed", p.Name)
				case p.Ref != "" && p.Unconfirmed:
					t.Errorf("%s is marked Unconfirmed but cites %q: one or the other", p.Name, p.Ref)
				}
			}
			for _, c := range f.ref.Coverage {
				if (c.EnforcedBy == "") == (c.NotSupported == "") {
					t.Errorf("coverage of %s: say either which deskprov service enforces it or why the firmware cannot take it", c.Setting)
				}
				if _, ok := policy.FieldNamed(c.Setting); !ok && !slices.Contains(siteInputs, c.Setting) {
					t.Errorf("coverage names %q, which is neither a policy setting nor one of %v", c.Setting, siteInputs)
				}
			}
		})
	}
}

// TestNoPolicySettingIsSilent: for each family, every IP phone policy
// setting is carried by a confirmed row, or the coverage says which deskprov
// service enforces it or why the firmware cannot take it. A setting carried
// only by unconfirmed rows needs a coverage entry too: an unconfirmed name
// is never the only thing that makes a setting work.
func TestNoPolicySettingIsSilent(t *testing.T) {
	for _, f := range referenced {
		t.Run(f.title, func(t *testing.T) {
			var names []string
			for _, field := range policy.Fields() {
				names = append(names, field.Name)
			}
			for _, name := range append(names, siteInputs...) {
				confirmed, covered := false, false
				for _, p := range f.ref.Table {
					if slices.Contains(p.Settings, name) && !p.Unconfirmed {
						confirmed = true
					}
				}
				for _, c := range f.ref.Coverage {
					covered = covered || c.Setting == name
				}
				if !confirmed && !covered {
					t.Errorf("%s reaches no %s phone: add a confirmed row, or a Coverage entry saying which deskprov service enforces it or why the firmware cannot take it", name, f.title)
				}
			}
			for _, p := range f.ref.Table {
				for _, s := range p.Settings {
					if _, ok := policy.FieldNamed(s); !ok && !strings.Contains(s, ".") && !slices.Contains(plainInputs, s) {
						t.Errorf("row %s carries %q: name a policy setting or a deskprov input such as Site.TimeZone", p.Name, s)
					}
				}
			}
		})
	}
}

// siteInputs are the per-site settings and the organisation's CA
// certificates (issue 14 items 9, 10): like the policy settings, each
// reaches every family or its coverage says why not.
var siteInputs = []string{"Site.NTPServers", "Site.TimeZone", "Site.Language", "Site.AdminPassword", "CACerts"}

// plainInputs are the deskprov inputs the issue 14 contract names without a
// dot.
var plainInputs = []string{"Credential", "CACerts", "Firmware"}

// TestDocsSettingsTablesAreCurrent: docs/provisioning.md carries the tables
// generated from the families' references (go test ./provisioning -run
// DocsSettings -update-docs rewrites them).
func TestDocsSettingsTablesAreCurrent(t *testing.T) {
	const path = "../docs/provisioning.md"
	const begin, end = "<!-- generated: settings tables (go test ./provisioning -run DocsSettings -update-docs) -->", "<!-- end of generated settings tables -->"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(doc, []byte(begin)), bytes.Index(doc, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("%s lacks the markers %q … %q", path, begin, end)
	}
	want := settingsTables()
	got := string(doc[i+len(begin) : j])
	if got == want {
		return
	}
	if !*updateDocs {
		t.Fatalf("%s's settings tables are stale: run go test ./provisioning -run DocsSettings -update-docs", path)
	}
	out := append(append(append([]byte{}, doc[:i+len(begin)]...), want...), doc[j:]...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// settingsTables renders, per family, each policy setting and deskprov
// input with the parameters that carry it and their references, then the
// unconfirmed names.
func settingsTables() string {
	var b strings.Builder
	b.WriteString("\n")
	for _, f := range referenced {
		fmt.Fprintf(&b, "\n#### %s\n\n| setting | parameter | reference |\n|---|---|---|\n", f.title)
		var inputs []string
		for _, field := range policy.Fields() {
			inputs = append(inputs, field.Name)
		}
		inputs = append(inputs, siteInputs...)
		for _, p := range f.ref.Table {
			for _, s := range p.Settings {
				if !slices.Contains(inputs, s) {
					inputs = append(inputs, s)
				}
			}
		}
		for _, in := range inputs {
			for _, p := range f.ref.Table {
				if !slices.Contains(p.Settings, in) {
					continue
				}
				ref := p.Ref
				if p.Unconfirmed {
					ref = "**unconfirmed**"
				}
				fmt.Fprintf(&b, "| %s | `%s` | %s |\n", in, p.Name, cell(ref))
			}
			for _, c := range f.ref.Coverage {
				if c.Setting != in {
					continue
				}
				what := "enforced by deskprov: " + c.EnforcedBy
				if c.NotSupported != "" {
					what = "not written for this family: " + c.NotSupported
				}
				fmt.Fprintf(&b, "| %s | %s | %s |\n", in, cell(what), cell(c.Ref))
			}
		}
		var carried []string
		for _, p := range f.ref.Table {
			if len(p.Settings) == 0 {
				carried = append(carried, fmt.Sprintf("| (always) | `%s` | %s |\n", p.Name, cell(orUnconfirmed(p))))
			}
		}
		for _, c := range carried {
			b.WriteString(c)
		}
	}
	b.WriteString("\nUnconfirmed names (no vendor document or public template found; correct them against a real phone):\n\n")
	n := 0
	for _, f := range referenced {
		for _, p := range f.ref.Table {
			if p.Unconfirmed {
				fmt.Fprintf(&b, "- %s: `%s`\n", f.title, p.Name)
				n++
			}
		}
	}
	if n == 0 {
		b.WriteString("- none\n")
	}
	b.WriteString("\n")
	return b.String()
}

func orUnconfirmed(p provisioning.Param) string {
	if p.Unconfirmed {
		return "**unconfirmed**"
	}
	return p.Ref
}

func cell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ") }
