package session

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"
)

func FuzzDecodeToken(f *testing.F) {
	tok, _ := newToken()
	for _, s := range []string{"", tok, tok[:42] + "=", tok + "A", "!!!", string(make([]byte, tokenLen))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw, ok := decodeToken(s)
		h, hok := hashToken(s)
		if ok != hok {
			t.Fatalf("decodeToken ok=%v, hashToken ok=%v", ok, hok)
		}
		if !ok {
			return
		}
		if enc := base64.RawURLEncoding.EncodeToString(raw[:]); enc != s {
			t.Fatalf("accepted non-canonical token %q (canonical %q)", s, enc)
		}
		if len(h) != 64 {
			t.Fatalf("hash length %d", len(h))
		}
	})
}

// Any Cookie header: the middleware never panics and never fails the request.
func FuzzMiddlewareCookie(f *testing.F) {
	m := New(NewMemoryStore(), Options{})
	s := m.New()
	s.SetBytes("k", []byte("v"))
	res, _, _ := m.Commit(f.Context(), s)
	for _, c := range []string{"session=" + res.Token, "session=", "session=" + res.Token[:10], "a=b; session=x", `session="` + res.Token + `"`} {
		f.Add(c)
	}
	h := app(m)
	f.Fuzz(func(t *testing.T, cookie string) {
		req := httptest.NewRequest(http.MethodGet, "/get?k=k", nil)
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d for cookie %q", rec.Code, cookie)
		}
	})
}
