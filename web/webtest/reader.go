package webtest

import "io"

// CountingReader counts the bytes read through it: how much of a body a
// server read before it answered.
type CountingReader struct {
	R io.Reader
	N int
}

func (c *CountingReader) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += n
	return n, err
}
