package web

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deskprov/deskprov/provisioning"
)

// The phone lane: phones poll their config file every hour, ten thousand
// phones to a server, and almost every poll is the same request as the last
// one (same path, same User-Agent, usually the ETag it was given). Going
// through net/http and gin, such a poll costs twice what nginx pays for a
// static file: a goroutine wake and a background read per request, deadline
// timers, a header map, a context. The lane answers those polls (a file
// deskprov renders, or an optional one it does not provide) on the
// connection itself, and hands the connection, with every byte it has read,
// to net/http for anything else.
//
// It is deliberately narrow. It takes a request only when
//   - the head is complete in its 4 KiB buffer, every line ends in CRLF, and
//     every header value is printable ASCII;
//   - the request line is GET or HEAD of /prov/NAME over HTTP/1.1, where NAME
//     is letters, digits, '.', '_', '-' and single '/' between segments that do
//     not start with '.' (no query, no escapes: what net/http would decode
//     the same way);
//   - there is exactly one Host and at most one User-Agent and If-None-Match,
//     no Content-Length, Transfer-Encoding, Expect or Upgrade (so there is no
//     body and the request ends where the head does), Connection is absent
//     or keep-alive, and no X-Forwarded-For / X-Real-IP when proxies are
//     trusted (gin works out the client address then);
//   - provisioning identifies it as a file it renders or an optional file it
//     does not provide, admits it (a phone's own file needs that phone's
//     credentials once it holds some: the lane passes the one Authorization
//     header, and the request-target, to the same phoneid check gin's path
//     runs) and answers it without error (provisioning.Service.FetchFile;
//     anything else, a 401 or 403 included, it leaves to net/http).
//
// Anything else, from the first byte of that request on, goes to net/http
// and gin, which answer it as they would have anyway; a connection handed
// over stays with net/http. Its answers are byte for byte the ones gin gives
// (phonelane_test.go compares them), it counts and logs through the same
// requestLog, and FuzzPhoneLaneParse checks that wherever it takes a
// request, net/http reads the same one.

// PhoneLane serves HTTP/1.1 connections: known phone polls itself, the rest
// through the net/http server it was made with.
type PhoneLane struct {
	s       *Server
	hs      *http.Server
	svc     *provisioning.Service
	handoff *handoffListener
	ctx     context.Context // the lane's requests run under it
	cancel  context.CancelFunc

	closing atomic.Bool
	mu      sync.Mutex
	ln      net.Listener
	conns   map[*laneConn]struct{}
	done    sync.WaitGroup
}

// NewPhoneLane makes a lane in front of hs, whose Handler should be
// s.Handler(). Without the provisioning module every request goes to hs.
func (s *Server) NewPhoneLane(hs *http.Server) *PhoneLane {
	ctx, cancel := context.WithCancel(context.Background())
	l := &PhoneLane{s: s, hs: hs, ctx: ctx, cancel: cancel, conns: map[*laneConn]struct{}{}}
	if s.prov != nil {
		l.svc = s.prov.svc
	}
	return l
}

// Answered is how many requests the server's phone lanes have answered
// themselves (deskprov_phone_lane_answers_total).
func (l *PhoneLane) Answered() int64 { return l.s.laneAnswers.Load() }

// Serve accepts connections on ln until Shutdown; like http.Server.Serve it
// returns http.ErrServerClosed then.
func (l *PhoneLane) Serve(ln net.Listener) error {
	l.mu.Lock()
	if l.closing.Load() {
		l.mu.Unlock()
		return http.ErrServerClosed
	}
	if l.ln != nil {
		l.mu.Unlock()
		return errors.New("phone lane: Serve called twice")
	}
	l.ln = ln
	l.handoff = newHandoffListener(ln.Addr())
	l.mu.Unlock()
	if l.svc == nil {
		l.handoff.Close()
		return l.hs.Serve(ln)
	}
	hsErr := make(chan error, 1)
	go func() {
		err := l.hs.Serve(l.handoff)
		hsErr <- err
		if !l.closing.Load() {
			ln.Close() // net/http stopped on its own: so does the lane
		}
	}()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if l.closing.Load() {
				return http.ErrServerClosed
			}
			select {
			case err := <-hsErr:
				return err
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: wait and retry,
				// as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				l.s.Log.Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			l.handoff.Close()
			<-hsErr
			return err
		}
		backoff = 0
		lc := &laneConn{Conn: c}
		if !l.track(lc) {
			c.Close()
			continue
		}
		go l.serveConn(lc)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// Shutdown stops accepting, lets requests in flight finish, closes idle
// connections, and shuts the net/http server down (which ends the
// connections it was handed). Past ctx, connections still busy are closed.
func (l *PhoneLane) Shutdown(ctx context.Context) error {
	l.closing.Store(true)
	l.mu.Lock()
	ln := l.ln
	for c := range l.conns {
		c.wakeIfIdle()
	}
	l.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	err := l.hs.Shutdown(ctx)
	finished := make(chan struct{})
	go func() { l.done.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-ctx.Done():
		l.cancel()
		l.mu.Lock()
		for c := range l.conns {
			c.Close()
		}
		l.mu.Unlock()
		<-finished
		if err == nil {
			err = ctx.Err()
		}
	}
	l.cancel()
	return err
}

func (l *PhoneLane) track(c *laneConn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closing.Load() {
		return false
	}
	l.conns[c] = struct{}{}
	l.done.Add(1)
	return true
}

func (l *PhoneLane) untrack(c *laneConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	l.done.Done()
}

// laneConn is a connection the lane is reading.
//
// idle and woken are atomics, not a mutex: setIdle runs twice per request.
// Each side stores its own flag, then loads the other's (sequentially
// consistent), so at least one of them sees the other: either the serve
// loop sees woken and stops, or Shutdown sees idle and ends the wait. When
// Shutdown's deadline lands after the loop has left the wait, the loop has
// seen woken and stops anyway.
type laneConn struct {
	net.Conn
	idle atomic.Bool // waiting for a request's first byte
	// woken is set when Shutdown ended an idle wait.
	woken atomic.Bool
}

func (c *laneConn) setIdle(idle bool) (woken bool) {
	c.idle.Store(idle)
	return c.woken.Load()
}

func (c *laneConn) wakeIfIdle() {
	c.woken.Store(true)
	if c.idle.Load() {
		c.Conn.SetReadDeadline(time.Now())
	}
}

// laneBufSize is the lane's read buffer: a request head longer than this
// goes to net/http (whose limit is 1 MiB).
const laneBufSize = 4096

// provRoute is the gin route the lane's requests are counted under.
const provRoute = "/prov/*name"

func (l *PhoneLane) serveConn(c *laneConn) {
	defer l.untrack(c)
	handed := false
	defer func() {
		if p := recover(); p != nil {
			l.s.Log.Error("panic serving request", "path", "/prov/", "panic", p, "stack", string(debug.Stack()))
		}
		if !handed {
			c.Close()
		}
	}()
	client := remoteIP(c.RemoteAddr())
	br := bufio.NewReaderSize(c, laneBufSize)
	out := make([]byte, 0, 1024)
	idleTimeout := l.hs.IdleTimeout
	if idleTimeout == 0 {
		idleTimeout = l.hs.ReadTimeout
	}
	headTimeout := l.hs.ReadHeaderTimeout
	if headTimeout == 0 {
		headTimeout = l.hs.ReadTimeout
	}
	// The first request must come as soon as net/http wants a head to
	// (ReadHeaderTimeout from the accept); later ones within the idle
	// timeout.
	if headTimeout > 0 {
		c.SetReadDeadline(time.Now().Add(headTimeout))
	}
	first := true
	var idleSince time.Time // when the idle deadline was last set; zero: it is not in force
	trustXFF := len(l.s.TrustedProxies) > 0
	for {
		// Wait for the next request. The idle deadline is moved at most
		// once a second: a timer change per request is part of what this
		// lane saves, and idle timeouts are not kept to the millisecond.
		if now := time.Now(); !first && (idleSince.IsZero() || idleTimeout > 0 && now.Sub(idleSince) > time.Second) {
			idleDeadline := time.Time{} // none, as net/http without IdleTimeout and ReadTimeout
			if idleTimeout > 0 {
				idleDeadline = now.Add(idleTimeout)
			}
			c.SetReadDeadline(idleDeadline)
			idleSince = now
		}
		first = false
		if c.setIdle(true) {
			return // shutting down
		}
		_, err := br.Peek(1)
		if c.setIdle(false) || err != nil {
			return
		}
		start := time.Now()
		req, got := l.readHead(c, br, headTimeout, trustXFF, &idleSince)
		if got == headEnded {
			return
		}
		if got == headNotOurs {
			handed = l.handOver(c, br)
			return
		}
		ans, taken, err := l.svc.FetchFile(l.ctx, provisioning.Request{
			Method: req.method, Name: string(req.name), UserAgent: string(req.ua), IP: client,
			URI: string(req.target), Authorization: string(req.authz)})
		if !taken || err != nil {
			// Fetch answers it again through gin, errors included.
			handed = l.handOver(c, br)
			return
		}
		br.Discard(req.n)
		status := 0
		out, status = appendAnswer(out[:0], req, ans, l.closing.Load())
		// Counted before the answer goes out, as gin's middleware counts
		// before net/http flushes: a client that has its answer finds it
		// in /metrics.
		l.s.laneAnswers.Add(1)
		l.s.requests.done(l.ctx, req.method, provRoute, status, start, func() (string, string) { return string(req.target), client })
		if l.hs.WriteTimeout > 0 {
			c.SetWriteDeadline(time.Now().Add(l.hs.WriteTimeout))
		}
		_, err = c.Write(out)
		if err != nil || l.closing.Load() {
			return
		}
		if cap(out) > 64<<10 {
			out = make([]byte, 0, 1024) // do not keep one large file's buffer per connection
		}
	}
}

type headResult int

const (
	headOurs    headResult = iota // a request the lane answers
	headNotOurs                   // hand the connection to net/http
	headEnded                     // closed or timed out before the head was whole
)

// readHead waits until the buffered bytes hold a whole request head and
// parses it. When it has to wait for more of the head, it sets the header
// deadline, and zeroes *idleSince so the serve loop sets the idle deadline
// again.
func (l *PhoneLane) readHead(c *laneConn, br *bufio.Reader, timeout time.Duration, trustXFF bool, idleSince *time.Time) (laneRequest, headResult) {
	deadlineSet := false
	for {
		buf, _ := br.Peek(br.Buffered())
		req, complete, ok := parseHead(buf, trustXFF)
		if !ok || (!complete && len(buf) >= laneBufSize) {
			return req, headNotOurs
		}
		if complete {
			return req, headOurs
		}
		if !deadlineSet {
			*idleSince = time.Time{}
			deadlineSet = true
			if timeout > 0 {
				c.SetReadDeadline(time.Now().Add(timeout))
			}
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			if len(buf) > 0 && !isTimeout(err) && !errors.Is(err, net.ErrClosed) {
				// The client stopped sending (EOF after a half-close,
				// say): net/http sees what there is and answers it as it
				// would have.
				return req, headNotOurs
			}
			return req, headEnded
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// handOver gives the connection, and what the lane has read but not used,
// to net/http. It reports whether net/http took it.
func (l *PhoneLane) handOver(c *laneConn, br *bufio.Reader) bool {
	pending, _ := br.Peek(br.Buffered())
	c.SetReadDeadline(time.Time{})
	hc := &handedConn{Conn: c.Conn, pending: bytes.Clone(pending)}
	return l.handoff.give(hc)
}

// remoteIP is gin's ClientIP for a client that is not a trusted proxy.
func remoteIP(a net.Addr) string {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return ""
	}
	return host
}

// handedConn is a connection handed to net/http: its first reads return the
// bytes the lane had already read.
type handedConn struct {
	net.Conn
	pending []byte
}

func (c *handedConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// ReadFrom lets net/http send files with sendfile(2), as it does on the
// *net.TCPConn itself (http.ServeContent of a firmware image, say).
func (c *handedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite lets net/http half-close before closing, as on a TCP conn.
func (c *handedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// SetLinger lets a dropped firmware download reset the connection, as on a
// TCP conn (web/firmware.go).
func (c *handedConn) SetLinger(sec int) error {
	if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		return l.SetLinger(sec)
	}
	return nil
}

// handoffListener is the listener net/http serves: it yields the
// connections the lane hands over.
type handoffListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (h *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-h.ch:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoffListener) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoffListener) Addr() net.Addr { return h.addr }

func (h *handoffListener) give(c net.Conn) bool {
	select {
	case h.ch <- c:
		return true
	case <-h.done:
		c.Close()
		return true // closed: nothing left for the lane to do with it
	}
}

// laneRequest is a request head the lane takes.
type laneRequest struct {
	method      string // "GET" or "HEAD"
	target      []byte // /prov/NAME
	name        []byte // NAME
	ua, inm     []byte
	hasINM      bool
	authz       []byte
	hasAuthz    bool
	n           int // bytes of the head, blank line included
	host, agent int // how many Host and User-Agent lines
}

// parseHead reads a request head from b. complete is false while b holds
// no whole head yet; ok is false as soon as the request is not one the lane
// takes (see the top of this file).
func parseHead(b []byte, trustXFF bool) (r laneRequest, complete, ok bool) {
	pos := 0
	first := true
	for {
		i := bytes.IndexByte(b[pos:], '\n')
		if i < 0 {
			return r, false, true
		}
		line := b[pos : pos+i]
		pos += i + 1
		if len(line) == 0 || line[len(line)-1] != '\r' {
			return r, false, false
		}
		line = line[:len(line)-1]
		if first {
			if !parseRequestLine(line, &r) {
				return r, false, false
			}
			first = false
			continue
		}
		if len(line) == 0 {
			if r.host != 1 {
				return r, false, false
			}
			r.n = pos
			return r, true, true
		}
		if !parseHeaderLine(line, &r, trustXFF) {
			return r, false, false
		}
	}
}

func parseRequestLine(line []byte, r *laneRequest) bool {
	switch {
	case bytes.HasPrefix(line, []byte("GET ")):
		r.method, line = http.MethodGet, line[4:]
	case bytes.HasPrefix(line, []byte("HEAD ")):
		r.method, line = http.MethodHead, line[5:]
	default:
		return false
	}
	target, proto, found := bytes.Cut(line, []byte(" "))
	if !found || string(proto) != "HTTP/1.1" || !bytes.HasPrefix(target, []byte("/prov/")) {
		return false
	}
	name := target[len("/prov/"):]
	if len(name) == 0 || len(name) > 512 {
		return false
	}
	segStart := true
	for _, ch := range name {
		switch {
		case ch == '/':
			if segStart {
				return false // empty segment
			}
			segStart = true
			continue
		case ch == '.':
			if segStart {
				return false // ".", ".." and hidden names
			}
		case ch == '_' || ch == '-' || '0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z':
		default:
			return false
		}
		segStart = false
	}
	if segStart {
		return false // ends in '/'
	}
	r.target, r.name = target, name
	return true
}

func parseHeaderLine(line []byte, r *laneRequest, trustXFF bool) bool {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return false
	}
	key := line[:colon]
	for _, ch := range key {
		if !isTokenChar(ch) {
			return false // also a folded line (leading space) and "Name :"
		}
	}
	v := line[colon+1:]
	for _, ch := range v {
		if (ch < 0x20 || ch > 0x7e) && ch != '\t' {
			return false
		}
	}
	v = bytes.Trim(v, " \t")
	switch {
	case bytes.EqualFold(key, []byte("Host")):
		r.host++
		for _, ch := range v {
			if !(ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']' || '0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z') {
				return false
			}
		}
	case bytes.EqualFold(key, []byte("User-Agent")):
		r.agent++
		r.ua = v
		return r.agent == 1
	case bytes.EqualFold(key, []byte("If-None-Match")):
		if r.hasINM {
			return false
		}
		r.inm, r.hasINM = v, true
	case bytes.EqualFold(key, []byte("Authorization")):
		if r.hasAuthz {
			return false // net/http would read only the first: not ours to guess
		}
		r.authz, r.hasAuthz = v, true
	case bytes.EqualFold(key, []byte("Connection")):
		return bytes.EqualFold(v, []byte("keep-alive"))
	case bytes.EqualFold(key, []byte("Content-Length")), bytes.EqualFold(key, []byte("Transfer-Encoding")),
		bytes.EqualFold(key, []byte("Expect")), bytes.EqualFold(key, []byte("Upgrade")):
		return false
	case bytes.EqualFold(key, []byte("X-Forwarded-For")), bytes.EqualFold(key, []byte("X-Real-IP")):
		return !trustXFF
	}
	return true
}

func isTokenChar(ch byte) bool {
	switch {
	case '0' <= ch && ch <= '9', 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z':
		return true
	}
	return bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), ch) >= 0
}

var (
	status200 = []byte("HTTP/1.1 200 OK\r\n")
	status304 = []byte("HTTP/1.1 304 Not Modified\r\n")
	status404 = []byte("HTTP/1.1 404 Not Found\r\n")
)

// appendAnswer writes the answer gin's provisioning handler gives (see
// provHandler.file and plainNotFound), in the order net/http writes it: the
// handler's headers sorted, then Date, Content-Length, Connection.
func appendAnswer(out []byte, req laneRequest, ans provisioning.Answer, closing bool) ([]byte, int) {
	head := req.method == http.MethodHead
	if ans.Entry.Kind != provisioning.Rendered {
		out = append(out, status404...)
		out = append(out, "Content-Length: 10\r\nContent-Type: text/plain; charset=utf-8\r\n"...)
		out = appendDate(out)
		out = appendClose(out, closing)
		if !head {
			out = append(out, "not found\n"...)
		}
		return out, http.StatusNotFound
	}
	f := ans.File
	if req.hasINM && etagMatch(string(req.inm), f.ETag) {
		out = append(out, status304...)
		out = append(out, "Cache-Control: no-cache\r\nEtag: "...)
		out = append(out, f.ETag...)
		out = append(out, "\r\n"...)
		out = appendVary(out, ans.Entry)
		out = appendDate(out)
		out = appendClose(out, closing)
		return out, http.StatusNotModified
	}
	out = append(out, status200...)
	out = append(out, "Cache-Control: no-cache\r\n"...)
	if head {
		out = append(out, "Content-Length: "...)
		out = strconv.AppendInt(out, int64(len(f.Body)), 10)
		out = append(out, "\r\n"...)
	}
	out = append(out, "Content-Type: "...)
	out = append(out, f.ContentType...)
	out = append(out, "\r\nEtag: "...)
	out = append(out, f.ETag...)
	out = append(out, "\r\n"...)
	out = appendVary(out, ans.Entry)
	out = appendDate(out)
	if !head {
		out = append(out, "Content-Length: "...)
		out = strconv.AppendInt(out, int64(len(f.Body)), 10)
		out = append(out, "\r\n"...)
	}
	out = appendClose(out, closing)
	if !head {
		out = append(out, f.Body...)
	}
	return out, http.StatusOK
}

// appendVary writes Vary: User-Agent for the files whose body depends on it,
// where net/http sorts it: after Etag, before Date.
func appendVary(out []byte, e provisioning.Entry) []byte {
	if e.VaryUserAgent {
		out = append(out, "Vary: User-Agent\r\n"...)
	}
	return out
}

func appendClose(out []byte, closing bool) []byte {
	if closing {
		out = append(out, "Connection: close\r\n"...)
	}
	return append(out, "\r\n"...)
}

// dateLine is the Date header of the current second, made once a second.
type dateLine struct {
	sec  int64
	line []byte
}

var lastDate atomic.Pointer[dateLine]

func appendDate(out []byte) []byte {
	now := time.Now()
	d := lastDate.Load()
	if d == nil || d.sec != now.Unix() {
		line := now.UTC().AppendFormat([]byte("Date: "), http.TimeFormat)
		d = &dateLine{sec: now.Unix(), line: append(line, "\r\n"...)}
		lastDate.Store(d)
	}
	return append(out, d.line...)
}

// net/http looks for these on its connection: keep them on a handed one.
var (
	_ io.ReaderFrom                   = (*handedConn)(nil)
	_ interface{ CloseWrite() error } = (*handedConn)(nil)
)
