package webtest

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
)

// Shared by the tests of several faces (once in web/console_phonefiles_test.go).

// PostMultipart sends a form with one file part, as a browser does for an
// <input type="file"> without JavaScript.
func (b *ConsoleTestBrowser) PostMultipart(path string, fields map[string]string, fileName string, file []byte) (*http.Response, string) {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if fileName != "" {
		part, _ := mw.CreateFormFile("file", fileName)
		part.Write(file)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", b.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	res, err := b.C.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res, string(out)
}
