package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/deskprov/deskprov/fault"
)

// ErrorBody is every admin API error: {"error": kind, "message": what to do}.
// Message is in the API's words; an error that names an input or an action
// also carries them as facts (fix, and template: the message with its
// placeholders, fault/words.go), so that a client with its own words —
// the CLI says "--address" where the API says "emergencyAddressId" —
// can say the same thing in them.
type ErrorBody struct {
	Error    string      `json:"error"`
	Message  string      `json:"message"`
	Code     string      `json:"code,omitempty"`
	Field    string      `json:"field,omitempty"`
	Fix      []fault.Fix `json:"fix,omitempty"`
	Template string      `json:"template,omitempty"`
}

func WriteError(c *gin.Context, status int, kind, msg string) {
	c.AbortWithStatusJSON(status, ErrorBody{Error: kind, Message: msg})
}

// StatusClientClosedRequest is what a request whose client hung up before
// its answer counts as (nginx's 499).
const StatusClientClosedRequest = 499

// StatusOf maps a fault kind to its HTTP status.
func StatusOf(k fault.Kind) int {
	switch k {
	case fault.Invalid:
		return http.StatusBadRequest
	case fault.Unauthorized:
		return http.StatusUnauthorized
	case fault.Forbidden:
		return http.StatusForbidden
	case fault.NotFound:
		return http.StatusNotFound
	case fault.Conflict:
		return http.StatusConflict
	case fault.TooLarge:
		return http.StatusRequestEntityTooLarge
	case fault.UnsupportedType:
		return http.StatusUnsupportedMediaType
	case fault.RateLimited:
		return http.StatusTooManyRequests
	case fault.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Fail writes err as a JSON error. Errors without a fault kind are bugs or
// broken dependencies: they are logged in full and shown to the client only
// as an internal error.
func (s *Server) Fail(c *gin.Context, err error) {
	fe, ok := s.AsFault(err)
	if !ok && errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil {
		// The client hung up (a phone that gave up on a slow answer): nobody
		// reads this answer, and it is no server fault. 499 is nginx's code
		// for it, so the metrics and the log do not count it as a 500.
		s.Log.Info("client closed the request", "method", c.Request.Method, "path", c.Request.URL.Path)
		c.AbortWithStatus(StatusClientClosedRequest)
		return
	}
	if !ok {
		s.Log.Error("request failed", "method", c.Request.Method, "path", c.Request.URL.Path, "err", err)
		WriteError(c, http.StatusInternalServerError, string(fault.Internal), "the server could not complete the request; the details are in its log")
		return
	}
	if fe.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(fe.RetryAfter))
	}
	c.AbortWithStatusJSON(StatusOf(fe.Kind), ErrorBody{Error: string(fe.Kind), Message: fe.In(apiWords{}), Code: fe.Code, Field: fe.Field,
		Fix: fe.Fixes, Template: fe.Template})
}

// MaxJSONBody caps JSON request bodies.
const MaxJSONBody = MaxBody

// BindJSON decodes the request body into v strictly: malformed JSON, a wrong
// type or an unknown field is a fault.Invalid naming the problem.
func BindJSON(c *gin.Context, v any) error {
	body, err := readJSONBody(c)
	if err != nil {
		return err
	}
	return DecodeStrict(body, v)
}

// BindOptionalJSON is BindJSON for a body that may be left out: an empty
// body leaves v as it is.
func BindOptionalJSON(c *gin.Context, v any) error {
	body, err := readJSONBody(c)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return err
	}
	return DecodeStrict(body, v)
}

func readJSONBody(c *gin.Context) ([]byte, error) {
	if ct := c.ContentType(); ct != "" && ct != "application/json" && !strings.HasSuffix(ct, "+json") {
		return nil, fault.New(fault.UnsupportedType, "send the body as application/json, not %s", ct)
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, MaxJSONBody+1))
	if err != nil {
		return nil, bodyFault(err, "could not read the request body")
	}
	if len(body) > MaxJSONBody {
		return nil, fault.New(fault.TooLarge, "the request body is over %d bytes", MaxJSONBody)
	}
	return body, nil
}

// DecodeStrict decodes JSON, refusing unknown fields and trailing data, a
// body that is not UTF-8 (encoding/json would quietly turn bad bytes into
// U+FFFD) and a bare null (which would leave v empty, so that
// POST /emergencyaddresses with null created an empty address).
func DecodeStrict(body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return fault.Invalidf("the request body is empty: send a JSON object")
	}
	if !utf8.Valid(body) {
		if f := invalidUTF8Field(body); f != "" {
			return fault.FieldInvalid(f, "%s is not valid UTF-8 text", f)
		}
		return fault.Invalidf("the request body is not valid UTF-8: JSON text must be UTF-8")
	}
	if string(trimmed) == "null" {
		return fault.Invalidf("the request body is null: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonFault(err)
	}
	if dec.More() {
		return fault.Invalidf("the request body holds more than one JSON value")
	}
	return nil
}

// invalidUTF8Field names the field whose value (or name) holds the first
// bytes that are not UTF-8, so that the 400 says which field to fix; "" when
// the bytes are outside any field.
func invalidUTF8Field(body []byte) string {
	type frame struct {
		object, wantKey bool
		key             string
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(body))
	field := func() string {
		for i := len(stack) - 1; i >= 0; i-- {
			if stack[i].object && stack[i].key != "" {
				return stack[i].key
			}
		}
		return ""
	}
	for {
		start := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		raw := body[start:dec.InputOffset()]
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				stack = append(stack, frame{object: t == '{', wantKey: t == '{'})
				continue
			}
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].wantKey = true
			}
			continue
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].object && stack[top].wantKey {
			stack[top].key, stack[top].wantKey = fmt.Sprint(tok), false
			if !utf8.Valid(raw) {
				return field()
			}
			continue
		}
		if !utf8.Valid(raw) {
			return field()
		}
		if top >= 0 && stack[top].object {
			stack[top].wantKey = true
		}
	}
}

func jsonFault(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fault.Invalidf("malformed JSON at byte %d: %v", syn.Offset, err)
	case errors.As(err, &typ):
		f := typ.Field
		if f == "" {
			return fault.Invalidf("the request body must be a JSON %s, not %s", typ.Type.Kind(), typ.Value)
		}
		return fault.FieldInvalid(f, "field %q must be %s, not %s", f, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fault.Invalidf("malformed JSON: the body ends too early")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return fault.FieldInvalid(name, "unknown field %q", name)
	}
	return fault.Invalidf("malformed JSON: %v", err)
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	case "ptr":
		return "a value of the right type"
	}
	return fmt.Sprintf("a %s", k)
}

func FaultMissing(field, example string) error {
	return fault.FieldInvalid(field, "field %q is required, for example %s", field, example)
}
