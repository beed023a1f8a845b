// Package docs holds deskprov's guides. The HTTP API reference (api.md) is
// compiled in because the server serves its route table as OpenAPI
// (GET /api/v1/openapi.json), so the document people read and the one tools
// read come from the same rows.
package docs

import _ "embed"

// API is docs/api.md.
//
//go:embed api.md
var API string
