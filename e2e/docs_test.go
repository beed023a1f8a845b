package e2e

import (
	"os"
	"strings"
	"testing"
)

// TestTheDeployGuideQuotesTheNginxConfigTheTestsRun: docs/deploy.md shows
// docs/examples/nginx.conf word for word, so the configuration a reader
// copies is the one the scale-out scenario runs.
func TestTheDeployGuideQuotesTheNginxConfigTheTestsRun(t *testing.T) {
	doc, err := os.ReadFile("../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile("../docs/examples/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	const open = "```nginx\n"
	i := strings.Index(string(doc), open)
	if i < 0 {
		t.Fatal("docs/deploy.md has no ```nginx block")
	}
	rest := string(doc)[i+len(open):]
	j := strings.Index(rest, "```")
	if j < 0 {
		t.Fatal("docs/deploy.md's nginx block is not closed")
	}
	if got := rest[:j]; got != string(conf) {
		t.Fatalf("docs/deploy.md's nginx block differs from docs/examples/nginx.conf, which the tests run:\n--- docs/deploy.md\n%s--- docs/examples/nginx.conf\n%s", got, conf)
	}
	if strings.Count(string(doc), open) != 1 {
		t.Fatal("docs/deploy.md has more than one nginx block: only one is checked against what the tests run")
	}
}
