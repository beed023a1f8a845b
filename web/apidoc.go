package web

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/deskprov/deskprov/docs"
)

// DocRoute is one row of the HTTP API reference (docs/api.md).
type DocRoute struct {
	Method string
	// Path is in gin's form ("/api/v1/users/:upn", "/prov/*name"), as
	// Server.Routes lists it.
	Path    string
	Who     string
	Summary string
	// Section is the heading the row is under ("Users, licenses and MFA").
	Section string
	// Line is the row's line in api.md, for messages.
	Line int
}

// docRow is a table row "| METHOD | `path` | who | what |".
var docRow = regexp.MustCompile("^\\|\\s*(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)\\s*\\|\\s*`([^`]+)`\\s*\\|\\s*([^|]+?)\\s*\\|\\s*(.+?)\\s*\\|\\s*$")

// docParam is a path parameter as api.md writes it: {upn}, or {name...} for
// the rest of the path.
var docParam = regexp.MustCompile(`\{([A-Za-z0-9_]+)(\.\.\.)?\}`)

// ParseAPIDoc reads the route tables of an API reference written as
// docs/api.md is. A table row that does not read as a route is an error, so
// a typo cannot hide a route from the check against the router.
func ParseAPIDoc(md string) ([]DocRoute, error) {
	var out []DocRoute
	section := ""
	for i, line := range strings.Split(md, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, "#") {
			section = strings.TrimSpace(strings.TrimLeft(line, "#"))
			// "Firmware ([firmware.md](firmware.md))": the guide's link is
			// for readers of the page, not a tag name.
			if k := strings.Index(section, " (["); k > 0 {
				section = section[:k]
			}
			continue
		}
		if !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") || strings.HasPrefix(line, "| Method") {
			continue
		}
		m := docRow.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("docs/api.md line %d: a table row that is not | METHOD | `path` | who | what |: %s", i+1, line)
		}
		path := docParam.ReplaceAllStringFunc(m[2], func(p string) string {
			s := docParam.FindStringSubmatch(p)
			if s[2] != "" {
				return "*" + s[1]
			}
			return ":" + s[1]
		})
		out = append(out, DocRoute{Method: m[1], Path: path, Who: m[3], Summary: m[4], Section: section, Line: i + 1})
	}
	return out, nil
}

// APIDoc is the route table of docs/api.md as compiled into the binary.
func APIDoc() ([]DocRoute, error) { return ParseAPIDoc(docs.API) }
