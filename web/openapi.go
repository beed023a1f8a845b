package web

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
)

// The admin REST API described as OpenAPI 3 (GET /api/v1/openapi.json),
// made from the router's own route table, so that it lists exactly the
// routes the server has, with the least role of each (roles.go) and the
// summaries of docs/api.md. Any signed-in admin may read it: it describes
// the API the token already opens, and like every /api/v1 route but login
// it tells nothing to someone who has not signed in.
//
// The document is written with a few plain types rather than an OpenAPI
// library: the server only writes it, and the test reads it back with a
// real OpenAPI parser (kin-openapi), which is a stricter check than
// building it with the same library would be.
type openAPIDoc struct {
	once sync.Once
	body []byte
	err  error
}

func (s *Server) serveOpenAPI(c *gin.Context) {
	s.openapi.once.Do(func() {
		doc, err := s.OpenAPI()
		if err != nil {
			s.openapi.err = err
			return
		}
		s.openapi.body, s.openapi.err = json.Marshal(doc)
	})
	if s.openapi.err != nil {
		s.Fail(c, s.openapi.err)
		return
	}
	c.Data(http.StatusOK, "application/json", s.openapi.body)
}

type oaDoc struct {
	OpenAPI    string                             `json:"openapi"`
	Info       oaInfo                             `json:"info"`
	Servers    []oaServer                         `json:"servers"`
	Tags       []oaTag                            `json:"tags"`
	Paths      map[string]map[string]*oaOperation `json:"paths"`
	Components oaComponents                       `json:"components"`
}

type oaInfo struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description"`
}

type oaServer struct {
	URL string `json:"url"`
}

type oaTag struct {
	Name string `json:"name"`
}

type oaOperation struct {
	OperationID string                 `json:"operationId"`
	Summary     string                 `json:"summary,omitempty"`
	Description string                 `json:"description"`
	Tags        []string               `json:"tags,omitempty"`
	Parameters  []oaParameter          `json:"parameters,omitempty"`
	Security    []map[string][]string  `json:"security"`
	Responses   map[string]*oaResponse `json:"responses"`
}

type oaParameter struct {
	Name     string         `json:"name"`
	In       string         `json:"in"`
	Required bool           `json:"required"`
	Schema   map[string]any `json:"schema"`
}

type oaResponse struct {
	Description string         `json:"description"`
	Content     map[string]any `json:"content,omitempty"`
}

type oaComponents struct {
	SecuritySchemes map[string]any `json:"securitySchemes"`
	Schemas         map[string]any `json:"schemas"`
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z0-9_]+)`)

// OpenAPI builds the document from the routes mounted under /api/v1.
func (s *Server) OpenAPI() (any, error) {
	rows, err := APIDoc()
	if err != nil {
		return nil, err
	}
	about := map[string]DocRoute{}
	for _, r := range rows {
		about[r.Method+" "+r.Path] = r
	}
	str := map[string]any{"type": "string"}
	doc := oaDoc{
		OpenAPI: "3.0.3",
		Info: oaInfo{
			Title:       "deskprov admin REST API",
			Version:     "v1",
			Description: "The admin REST API of deskprov, made from the server's route table. Each operation names the least admin role that may call it; fields are described in the guides under docs/ (docs/api.md lists them).",
		},
		Servers: []oaServer{{URL: s.PublicURL}},
		Paths:   map[string]map[string]*oaOperation{},
		Components: oaComponents{
			SecuritySchemes: map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "the access_token of POST /api/v1/login"},
			},
			Schemas: map[string]any{
				"Error": map[string]any{
					"type":     "object",
					"required": []string{"error", "message"},
					"properties": map[string]any{
						"error":   map[string]any{"type": "string", "description": "the kind of error, for programs"},
						"message": map[string]any{"type": "string", "description": "what to do, for people"},
					},
				},
			},
		},
	}
	errorResponse := func(what string) *oaResponse {
		return &oaResponse{Description: what, Content: map[string]any{
			"application/json": map[string]any{"schema": map[string]any{"$ref": "#/components/schemas/Error"}},
		}}
	}
	tags := map[string]bool{}
	for _, r := range s.engine.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		key := r.Method + " " + r.Path
		row := about[key]
		op := &oaOperation{
			OperationID: operationID(r.Method, r.Path),
			Summary:     row.Summary,
			Responses: map[string]*oaResponse{
				"2XX":     {Description: "done; the fields are described in the area's guide"},
				"default": errorResponse("refused or failed: the message says what to do"),
			},
		}
		if row.Section != "" {
			op.Tags = []string{row.Section}
			tags[row.Section] = true
		}
		least, _ := LeastRole(key)
		if least == public {
			op.Description = "Anyone may call it."
			op.Security = []map[string][]string{}
		} else {
			op.Description = "Least role: " + string(least) + "."
			op.Security = []map[string][]string{{"bearer": {}}}
			op.Responses["401"] = errorResponse("no valid bearer token")
			op.Responses["403"] = errorResponse("the admin's role is smaller than " + string(least))
		}
		for _, m := range ginParam.FindAllStringSubmatch(r.Path, -1) {
			op.Parameters = append(op.Parameters, oaParameter{Name: m[1], In: "path", Required: true, Schema: str})
		}
		path := ginParam.ReplaceAllString(r.Path, "{$1}")
		if doc.Paths[path] == nil {
			doc.Paths[path] = map[string]*oaOperation{}
		}
		doc.Paths[path][strings.ToLower(r.Method)] = op
	}
	for t := range tags {
		doc.Tags = append(doc.Tags, oaTag{Name: t})
	}
	sort.Slice(doc.Tags, func(i, j int) bool { return doc.Tags[i].Name < doc.Tags[j].Name })
	return doc, nil
}

// operationID names an operation by its method and path:
// "GET /api/v1/users/:upn" is "get_users_upn".
func operationID(method, path string) string {
	parts := []string{strings.ToLower(method)}
	for _, seg := range strings.Split(strings.TrimPrefix(path, "/api/v1/"), "/") {
		seg = strings.TrimLeft(seg, ":*")
		seg = strings.NewReplacer(".", "_", "-", "_").Replace(seg)
		if seg != "" {
			parts = append(parts, seg)
		}
	}
	return strings.Join(parts, "_")
}
