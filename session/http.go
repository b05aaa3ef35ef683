package session

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

type ctxKey struct{}

// FromContext returns the session that [Manager.Middleware] put in ctx.
func FromContext(ctx context.Context) (*Session, bool) {
	s, ok := ctx.Value(ctxKey{}).(*Session)
	return s, ok
}

// NewContext returns a copy of ctx carrying s, for code that runs handlers
// without the middleware (tests, other routers).
func NewContext(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// Middleware loads the session named by the request's cookie into the
// request context (see [FromContext]) once, runs next, and commits the
// session's changes once, just before the response header is written (or
// after next returns if it wrote nothing), setting, renewing or clearing the
// cookie as needed.
//
// A missing, malformed, tampered, unknown, revoked or expired cookie means
// "no session": next gets a new empty session, stored only if next writes to
// it. When the store fails, [Options.ErrorHandler] answers instead of next
// (default 503): on load, next is not called; on commit, next's response is
// replaced and its further writes fail with the store's error.
//
// Changes made after next has written the response header are committed
// when next returns if the session was already stored; a new session or a
// rotation started that late cannot send its cookie and is dropped. Call
// [Manager.Commit] explicitly (for example to check [Result.Replicas])
// before writing the response when that matters; the middleware then only
// sends the cookie.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s *Session
		hadCookie := false
		if c, err := r.Cookie(m.opts.Cookie.Name); err == nil {
			hadCookie = true
			loadedS, ok, err := m.Load(r.Context(), c.Value)
			if err != nil {
				m.opts.ErrorHandler(w, r, err)
				return
			}
			if ok {
				s = loadedS
			}
		}
		if s == nil {
			s = m.New()
		}
		rw := &responseWriter{w: w, r: r, m: m, s: s, hadCookie: hadCookie}
		next.ServeHTTP(rw, r.WithContext(NewContext(r.Context(), s)))
		rw.finish()
	})
}

// responseWriter commits the session before the header goes out.
type responseWriter struct {
	w         http.ResponseWriter
	r         *http.Request
	m         *Manager
	s         *Session
	hadCookie bool
	committed bool  // the pre-header commit ran
	err       error // the pre-header commit failed; the error page was written
}

func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

func (rw *responseWriter) WriteHeader(code int) {
	if rw.err != nil {
		return
	}
	if code >= 100 && code < 200 {
		rw.w.WriteHeader(code)
		return
	}
	if !rw.committed && !rw.commit() {
		return
	}
	rw.w.WriteHeader(code)
}

func (rw *responseWriter) Write(b []byte) (int, error) {
	if !rw.committed && rw.err == nil {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.err != nil {
		return 0, rw.err
	}
	return rw.w.Write(b)
}

// Flush commits, then flushes the underlying writer if it can.
func (rw *responseWriter) Flush() {
	if !rw.committed && rw.err == nil {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.err != nil {
		return
	}
	if f, ok := rw.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack hands the connection over (for WebSockets) after committing.
func (rw *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !rw.committed && rw.err == nil && !rw.commit() {
		return nil, nil, rw.err
	}
	if rw.err != nil {
		return nil, nil, rw.err
	}
	h, ok := rw.w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("session: response writer cannot hijack")
	}
	return h.Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }

func (rw *responseWriter) finish() {
	if rw.err != nil {
		return
	}
	if !rw.committed {
		rw.commit()
		return
	}
	// Late changes: commit them if the session already has a key.
	rw.s.mu.Lock()
	late := rw.s.hash != "" && !rw.s.rotate
	rw.s.mu.Unlock()
	if late {
		_, _, _ = rw.m.Commit(rw.r.Context(), rw.s)
	}
}

// commit stores the session and sets the cookie. On failure it writes the
// error page and reports false.
func (rw *responseWriter) commit() bool {
	rw.committed = true
	_, _, err := rw.m.Commit(rw.r.Context(), rw.s)
	if err != nil {
		rw.err = err
		h := rw.w.Header()
		for k := range h {
			delete(h, k)
		}
		rw.m.opts.ErrorHandler(rw.w, rw.r, err)
		return false
	}
	s := rw.s
	s.mu.Lock()
	token, expires, send, ended := s.token, s.expires, s.cookie, s.ended
	s.cookie = false
	s.mu.Unlock()
	switch {
	case token != "" && send:
		rw.setCookie(token, expires)
	case token == "" && (ended || rw.hadCookie):
		rw.setCookie("", time.Time{})
	}
	return true
}

func (rw *responseWriter) setCookie(token string, expires time.Time) {
	o := rw.m.opts.Cookie
	c := &http.Cookie{
		Name:     o.Name,
		Value:    token,
		Path:     o.Path,
		Domain:   o.Domain,
		Secure:   !o.Insecure,
		HttpOnly: true,
		SameSite: o.SameSite,
	}
	if token == "" {
		c.MaxAge = -1
		c.Expires = time.Unix(1, 0)
	} else if !o.BrowserSession {
		c.Expires = expires
		c.MaxAge = max(1, int(time.Until(expires).Round(time.Second)/time.Second))
	}
	h := rw.w.Header()
	h.Add("Set-Cookie", c.String())
	h.Add("Vary", "Cookie")
	h.Add("Cache-Control", `no-cache="Set-Cookie"`)
}
